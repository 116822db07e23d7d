using System.Buffers.Binary;
using Loader.Elf;
using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// Symbolic relocations that name one symbol many times in a row, as a linker sorts them (<c>repeat_refs.so</c>: its own
/// function and array with an addend each, libc's <c>strlen</c>, an undefined weak symbol, from <c>.data.rel.ro</c> and
/// <c>.data</c>), which the relocator takes after the first in one tight loop (<c>Relocator.ApplyResolvedRun</c>):
/// the values against glibc's, and the checks that loop must keep — an entry in the middle of a run whose target
/// leaves the writable image, or whose symbol index is past the table, is refused as anywhere else.
/// </summary>
[Collection("AddressSpace")]
public sealed unsafe class RepeatedSymbolTests
{
    private const int References = 14; // each table: 5 into the array, 3 to the function, 3 to strlen, 3 weak

    [Fact]
    public void Each_repeated_reference_holds_what_glibc_writes_there()
    {
        string path = Fixtures.Path("repeat_refs.so");
        using var ours = new LoaderContext().Load(path);
        nint handle = Glibc.Open(path);
        Assert.True(handle != 0, Glibc.LastError());
        try
        {
            nint glibcBias = Glibc.LoadBias(handle);
            nint libc = Glibc.OpenLoaded("libc.so.6");
            nint strlen = Glibc.Symbol(libc, "strlen");
            Assert.Equal(0, Glibc.Close(libc));
            foreach (string table in new[] { "read_only_refs", "writable_refs" })
            {
                nint mine = ours.GetExport(table), theirs = Glibc.Symbol(handle, table);
                for (int i = 0; i < References; i++)
                {
                    long ourValue = *(long*)(mine + i * 8), theirValue = *(long*)(theirs + i * 8);
                    // The library's own references as offsets into each copy; libc's and the weak ones as they are.
                    bool own = i < 8;
                    long ourNormal = own ? ourValue - ours.BaseAddress : ourValue;
                    long theirNormal = own ? theirValue - glibcBias : theirValue;
                    Assert.True(ourNormal == theirNormal, $"{table}[{i}]: Loader 0x{ourNormal:x}, glibc 0x{theirNormal:x}");
                }
                Assert.Equal((long)strlen, *(long*)(mine + 8 * 8)); // the resolver's choice, not the IFUNC itself
                Assert.Equal(8L, *(long*)(mine + 12 * 8)); // weak_absent_data[2]: 0 + 8
            }
            // 0+3+5+8+15 twice, 7 six times, strlen("abc") three times.
            Assert.Equal(113, ((delegate* unmanaged<int>)ours.GetExport("check"))());
            Assert.Equal(113, ((delegate* unmanaged<int>)Glibc.Symbol(handle, "check"))());
        }
        finally
        {
            Assert.Equal(0, Glibc.Close(handle));
        }
    }

    [Theory]
    [InlineData(0x1000UL)] // the text segment: in the image, not writable
    [InlineData(0x7fff_0000_0000UL)] // far past the image
    [InlineData(0UL)] // replaced by the writable segment's last page's end − 4: the 8 bytes straddle its end
    public void A_run_entry_whose_target_leaves_the_writable_image_is_refused(ulong target)
    {
        var (bytes, entry, elf) = WithRunEntry();
        using (elf)
        {
            if (target == 0)
            {
                var data = elf.ProgramHeaders.Last(p => p.Type == SegmentType.Load && p.Flags.HasFlag(SegmentFlags.Write));
                ulong page = (ulong)Environment.SystemPageSize;
                target = (data.VirtualAddress + data.MemorySize + page - 1) / page * page - 4;
            }
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan((int)entry), target);
        }
        var context = new LoaderContext();
        var e = Assert.Throws<RelocationException>(() => context.Load(bytes, "repeat-wild.so"));
        Assert.Contains($"base+0x{target:x}", e.Message, StringComparison.Ordinal);
        Assert.Contains("writable part of the image", e.Message, StringComparison.Ordinal);
        Assert.Contains("repeated_array", e.Message, StringComparison.Ordinal);
        Assert.Empty(context.LoadedLibraries);
        Assert.DoesNotContain(ProcMaps.Read(), m => m.Path.Contains("repeat-wild.so", StringComparison.Ordinal));
    }

    [Fact]
    public void A_run_entry_whose_symbol_index_is_past_the_table_is_refused()
    {
        var (bytes, entry, elf) = WithRunEntry();
        int symbols = elf.DynamicSymbols!.Count;
        elf.Dispose();
        ulong info = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan((int)entry + 8));
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan((int)entry + 8), (info & 0xffffffff) | ((ulong)(symbols + 5) << 32));
        var context = new LoaderContext();
        var e = Assert.ThrowsAny<LoaderException>(() => context.Load(bytes, "repeat-index.so"));
        Assert.Contains($"symbol index {symbols + 5}, past the {symbols}-entry DT_SYMTAB", e.Message, StringComparison.Ordinal);
        Assert.Empty(context.LoadedLibraries);
        Assert.DoesNotContain(ProcMaps.Read(), m => m.Path.Contains("repeat-index.so", StringComparison.Ordinal));
    }

    /// <summary>repeat_refs.so's bytes, the file offset of the third of DT_RELA's consecutive entries against
    /// <c>repeated_array</c> (one the run applies), and the parsed original.</summary>
    private static (byte[] Bytes, ulong Entry, ElfFile Elf) WithRunEntry()
    {
        var bytes = File.ReadAllBytes(Fixtures.Path("repeat_refs.so"));
        var elf = ElfFile.Parse(bytes.ToArray(), "repeat_refs.so");
        var table = elf.RelocationTables.First(t => t.Name == "DT_RELA");
        int array = elf.FindDefinedSymbol("repeated_array");
        int first = Enumerable.Range(0, table.Count).First(i => table[i].SymbolIndex == array);
        Assert.True(Enumerable.Range(first, 5).All(i => table[i].SymbolIndex == array), "the linker did not sort DT_RELA by symbol");
        return (bytes, ElfPatch.FileOffset(elf, table.Address) + (ulong)(first + 2) * 24, elf);
    }
}
