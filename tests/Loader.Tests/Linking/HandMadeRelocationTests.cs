using System.Buffers.Binary;
using Loader.Elf;
using Loader.Mapping;
using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// Relocation forms no x86_64 toolchain emits (glibc refuses DT_REL on x86_64), made in the test by rewriting
/// basic.so: its RELA tables become REL tables with each addend stored at its target; and a DT_TEXTREL library
/// whose relocation writes into a read-only segment.
/// </summary>
public sealed unsafe class HandMadeRelocationTests
{
    private const long DT_RELA = 7, DT_RELASZ = 8, DT_RELAENT = 9, DT_REL = 17, DT_RELSZ = 18, DT_RELENT = 19,
        DT_PLTREL = 20, DT_TEXTREL = 22, DT_RELACOUNT = 0x6ffffff9, DT_RELCOUNT = 0x6ffffffa;

    /// <summary>basic.so with DT_RELA/DT_JMPREL rewritten as Elf64_Rel, addends stored in place.</summary>
    private static byte[] BasicAsRel()
    {
        var bytes = File.ReadAllBytes(Fixtures.Path("basic.so"));
        using var elf = ElfFile.Parse(bytes.ToArray(), "basic.so");
        foreach (var table in elf.RelocationTables)
        {
            Assert.Equal(RelocationFormat.Rela, table.Format);
            ulong at = ElfPatch.FileOffset(elf, table.Address);
            for (int i = 0; i < table.Count; i++)
            {
                var r = table[i];
                BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan((int)at + i * 16), r.Offset);
                BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan((int)at + i * 16 + 8), r.Info);
                // GLOB_DAT and JUMP_SLOT ignore an in-place addend (as musl does for REL); the others read it.
                if ((X86_64RelocationType)r.Type is not (X86_64RelocationType.GlobDat or X86_64RelocationType.JumpSlot))
                    BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan((int)ElfPatch.FileOffset(elf, r.Offset)), r.Addend);
            }
        }
        ElfPatch.EditDynamic(bytes, elf, (tag, value) => tag switch
        {
            DT_RELA => (DT_REL, value),
            DT_RELASZ => (DT_RELSZ, value / 24 * 16),
            DT_RELAENT => (DT_RELENT, 16),
            DT_PLTREL => (DT_PLTREL, (ulong)DT_REL),
            DT_RELACOUNT => (DT_RELCOUNT, value),
            _ => (tag, value),
        });
        // DT_PLTRELSZ (2) shrinks too.
        ElfPatch.EditDynamic(bytes, elf, (tag, value) => tag == 2 ? (tag, value / 24 * 16) : (tag, value));
        return bytes;
    }

    [Fact]
    public void DtRelWithAddendsInPlaceGivesTheSameValuesAsDtRela()
    {
        var rel = BasicAsRel();
        using (var check = ElfFile.Parse(rel, "basic-rel.so"))
            Assert.All(check.RelocationTables, t => Assert.Equal(RelocationFormat.Rel, t.Format));

        using var relLibrary = new LoaderContext().Load(rel, "basic-rel.so");
        using var relaLibrary = new LoaderContext().Load(Fixtures.Path("basic.so"));
        Assert.Equal(5, ((delegate* unmanaged<int, int, int>)relLibrary.GetExport("add"))(2, 3));
        Assert.Equal("green", Native.String(((delegate* unmanaged<int, nint>)relLibrary.GetExport("color_at"))(1)));
        Assert.Equal(43, ((delegate* unmanaged<int>)relLibrary.GetExport("increment"))());

        var relValues = relLibrary.Relocations.Select(r => (r.Offset, r.Type, r.Symbol, r.DefinedBy?.Name, r.ValueOffset)).ToList();
        var relaValues = relaLibrary.Relocations.Select(r => (r.Offset, r.Type, r.Symbol, r.DefinedBy?.Name, r.ValueOffset)).ToList();
        Assert.Equal(15 + 1, relValues.Count);
        // The module names differ only for the library itself (memfd name vs file); compare with that mapped.
        Assert.Equal(relaValues.Select(v => v with { Name = v.Name == "basic.so" ? "self" : v.Name }),
            relValues.Select(v => v with { Name = v.Name == "basic.so" ? "self" : v.Name }));
        Assert.All(relLibrary.Relocations, r => Assert.Contains(r.Table, new[] { "DT_REL", "DT_JMPREL" }));
    }

    /// <summary>basic.so with DT_TEXTREL (in place of DT_RELACOUNT, a hint) and the RELATIVE relocation of
    /// mutable_names[2] retargeted at e_shoff in the ELF header, which lies in the read-only first PT_LOAD.</summary>
    private static (byte[] Bytes, ulong Addend) BasicWithTextRelocation()
    {
        var bytes = File.ReadAllBytes(Fixtures.Path("basic.so"));
        using var elf = ElfFile.Parse(bytes.ToArray(), "basic.so");
        ulong names = elf.DynamicSymbols![elf.FindDefinedSymbol("mutable_names")].Value;
        var table = elf.RelocationTables[0];
        int index = Enumerable.Range(0, table.Count).Single(i => table[i].Offset == names + 16);
        ulong entry = ElfPatch.FileOffset(elf, table.Address) + (ulong)(index * 24);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan((int)entry), 0x28); // e_shoff
        ElfPatch.EditDynamic(bytes, elf, (tag, value) => tag == DT_RELACOUNT ? (DT_TEXTREL, 0) : (tag, value));
        return (bytes, (ulong)table[index].Addend);
    }

    [Fact]
    public void TextRelocationsAreRefusedByDefault()
    {
        var (bytes, _) = BasicWithTextRelocation();
        var context = new LoaderContext();
        var e = Assert.Throws<RelocationException>(() => context.Load(bytes, "basic-textrel.so"));
        Assert.Contains("DT_TEXTREL", e.Message, StringComparison.Ordinal);
        Assert.Contains("AllowTextRelocations", e.Message, StringComparison.Ordinal);
        Assert.Empty(context.LoadedLibraries);
    }

    [Fact]
    public void AllowedTextRelocationsGoThroughAWritableNeverExecutableMprotect()
    {
        var (bytes, addend) = BasicWithTextRelocation();
        using var lib = new LoaderContext().Load(bytes, "basic-textrel.so", new LoadOptions { AllowTextRelocations = true });
        Assert.Equal((ulong)lib.BaseAddress + addend, *(ulong*)(lib.BaseAddress + 0x28));
        Assert.Equal(5, ((delegate* unmanaged<int, int, int>)lib.GetExport("add"))(2, 3)); // text is executable again
        var steps = lib.MappingSteps;
        Assert.Contains(steps, s => s.Kind == MappingStepKind.UnprotectForTextRelocation);
        Assert.Contains(steps, s => s.Kind == MappingStepKind.RestoreAfterTextRelocation);
        Assert.All(steps, s => Assert.False(s.Protection.HasFlag(MemoryProtection.Write) && s.Protection.HasFlag(MemoryProtection.Execute), s.ToString()));
        var header = Assert.Single(ProcMaps.Read(), m => m.Start <= (ulong)lib.BaseAddress && (ulong)lib.BaseAddress < m.End);
        Assert.Equal("r--p", header.Permissions);
    }

    /// <summary>basic.so with one GLOB_DAT entry rewritten by <paramref name="edit"/> (offset, info).</summary>
    private static byte[] BasicWithEditedGlobDat(Func<Relocation, (ulong Offset, ulong Info)> edit)
    {
        var bytes = File.ReadAllBytes(Fixtures.Path("basic.so"));
        using var elf = ElfFile.Parse(bytes.ToArray(), "basic.so");
        var table = elf.RelocationTables.First(t => t.Name == "DT_RELA");
        int index = Enumerable.Range(0, table.Count).First(i => (X86_64RelocationType)table[i].Type == X86_64RelocationType.GlobDat);
        var (offset, info) = edit(table[index]);
        ulong entry = ElfPatch.FileOffset(elf, table.Address) + (ulong)(index * 24);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan((int)entry), offset);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan((int)entry + 8), info);
        return bytes;
    }

    [Fact]
    public void CopyRelocationsInASharedObjectAreRefusedAndNothingIsLeftMapped()
    {
        // R_X86_64_COPY (5) belongs in an executable: a shared object asking for one is refused, as glibc does.
        var bytes = BasicWithEditedGlobDat(r => (r.Offset, (r.Info & ~0xffffffffUL) | 5));
        var context = new LoaderContext();
        var e = Assert.Throws<RelocationException>(() => context.Load(bytes, "basic-copy.so"));
        Assert.Contains("R_X86_64_COPY", e.Message, StringComparison.Ordinal);
        Assert.Empty(context.LoadedLibraries);
        Assert.DoesNotContain(ProcMaps.Read(), m => m.Path.Contains("basic-copy.so", StringComparison.Ordinal));
    }

    [Fact]
    public void ARelocationTargetOutsideTheWritableImageIsRefused()
    {
        // The first text page is part of the image but not writable; far past the image is not ours at all.
        foreach (ulong target in new ulong[] { 0x1000, 0x7fff_0000_0000 })
        {
            var bytes = BasicWithEditedGlobDat(r => (target, r.Info));
            var e = Assert.Throws<RelocationException>(() => new LoaderContext().Load(bytes, "basic-wild.so"));
            Assert.Contains($"base+0x{target:x}", e.Message, StringComparison.Ordinal);
            Assert.Contains("writable part of the image", e.Message, StringComparison.Ordinal);
        }
    }
}
