using Loader.Elf;

namespace Loader.Tests.Elf;

/// <summary>Checks an <see cref="ElfImageBuilder"/> image read back by <see cref="ElfFile"/>.</summary>
internal static class BuiltElfAssert
{
    /// <summary>Every part of the parsed file against what the builder wrote.</summary>
    public static void ReadsBack(BuiltElf image, ElfFile elf)
    {
        var layout = image.Layout;
        Assert.Equal(image.Is64 ? ElfClass.Elf64 : ElfClass.Elf32, elf.Header.Class);
        Assert.Equal(image.BigEndian ? ElfData.BigEndian : ElfData.LittleEndian, elf.Header.Data);
        Assert.Equal(ElfType.SharedObject, elf.Header.Type);
        Assert.Equal(layout.PhdrCount, elf.ProgramHeaderCount);
        Assert.Equal(SegmentType.Load, elf.ProgramHeaders[0].Type);
        Assert.Equal((ulong)layout.Load0End, elf.ProgramHeaders[0].FileSize);
        Assert.Equal(layout.Load1Address, elf.ProgramHeaders[1].VirtualAddress);
        Assert.Equal(SegmentType.Dynamic, elf.ProgramHeaders[2].Type);

        Assert.Equal(image.SoName, elf.SoName);
        Assert.Equal(image.Needed, elf.Needed);
        Assert.Equal(image.RunPath, elf.RunPath);
        Assert.Null(elf.RPath);
        Assert.Equal(new byte[] { 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7 }, elf.BuildId.ToArray());

        var symbols = elf.DynamicSymbols!;
        Assert.Equal(image.Symbols.Count, symbols.Count);
        for (int i = 0; i < image.Symbols.Count; i++)
        {
            var expected = image.Symbols[i];
            Assert.Equal(expected.Name, symbols.GetName(i));
            Assert.Equal(expected.Value, symbols[i].Value);
            Assert.Equal(expected.Size, symbols[i].Size);
            Assert.Equal(!expected.Defined, symbols[i].IsUndefined);
            Assert.Equal(expected.Info, symbols[i].Info);
            int found = elf.FindDefinedSymbol(expected.Name);
            Assert.Equal(expected.Defined ? i : -1, found);
        }
        Assert.Equal(-1, elf.FindDefinedSymbol("no_such_symbol"));
        // Both hashes, independently of FindDefinedSymbol's preference.
        foreach (var s in image.Symbols.Where(s => s.Defined))
        {
            var nameBytes = System.Text.Encoding.UTF8.GetBytes(s.Name);
            int index = image.SymbolIndex(s.Name);
            bool Matches(int i) => symbols.GetNameBytes(i).SequenceEqual(nameBytes);
            if (elf.GnuHash is { } gnu)
            {
                Assert.True(gnu.MayContain(ElfImageBuilder.GnuHash(s.Name)));
                Assert.Equal(index, gnu.Find(ElfImageBuilder.GnuHash(s.Name), Matches));
            }
            if (elf.SysvHash is { } sysv)
                Assert.Equal(index, sysv.Find(ElfImageBuilder.SysvHash(s.Name), Matches));
        }
        if (elf.GnuHash is { } g)
        {
            Assert.Equal(image.Symbols.Count, g.SymbolCount);
            Assert.Equal((uint)(1 + image.Symbols.Skip(1).TakeWhile(s => !s.Defined).Count()), g.SymbolOffset);
        }
        if (elf.SysvHash is { } h)
            Assert.Equal((uint)image.Symbols.Count, h.ChainCount);

        // Versions.
        if (layout.VersymOffset != 0)
        {
            Assert.Equal("@@LIBTEST_1.0", elf.GetSymbolVersion(image.SymbolIndex("alpha")).Suffix);
            Assert.Equal(SymbolVersionKind.Hidden, elf.GetSymbolVersion(image.SymbolIndex("beta")).Kind);
            var needed = elf.GetSymbolVersion(image.SymbolIndex("ext_func"));
            Assert.Equal((SymbolVersionKind.Needed, "GLIBC_2.2.5", "libc.so.6"), (needed.Kind, needed.Name, needed.File));
            Assert.Equal(SymbolVersion.None, elf.GetSymbolVersion(image.SymbolIndex("gamma_data")));
            Assert.Equal([image.SoName, "LIBTEST_1.0"], elf.Versions!.Definitions.Select(d => d.Name));
            Assert.True(elf.Versions.Definitions[0].IsBase);
        }

        // Relocations: DT_RELA then DT_JMPREL.
        Assert.Equal(["DT_RELA", "DT_JMPREL"], elf.RelocationTables.Select(t => t.Name));
        var expectedRelocations = image.Rela.Concat(image.JmpRel).ToList();
        var actual = elf.RelocationTables.SelectMany(t => Enumerable.Range(0, t.Count).Select(i => t[i])).ToList();
        Assert.Equal(expectedRelocations.Count, actual.Count);
        for (int i = 0; i < actual.Count; i++)
        {
            Assert.Equal(expectedRelocations[i].Offset, actual[i].Offset);
            Assert.Equal(expectedRelocations[i].Type, actual[i].Type);
            Assert.Equal(expectedRelocations[i].SymbolIndex, actual[i].SymbolIndex);
            Assert.Equal(expectedRelocations[i].Addend, actual[i].Addend);
        }

        if (layout.RelrOffset != 0)
            Assert.Equal(image.RelrAddresses, elf.Relr!.DecodeAddresses());
        ElfReadAll.ReadEverything(elf);
    }
}
