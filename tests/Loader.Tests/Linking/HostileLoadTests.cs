using System.Buffers.Binary;
using Loader.Elf;

namespace Loader.Tests.Linking;

/// <summary>
/// Bug classes a hostile-input review found in the load path, each as a class: a refusal is a
/// <see cref="LoaderException"/> naming the file and the field, nothing is left mapped or listed, and the process
/// survives. Each input is basic.so with one thing changed.
/// </summary>
[Collection("AddressSpace")]
public sealed unsafe class HostileLoadTests
{
    private const long DT_NEEDED = 1, DT_SYMTAB = 6, DT_SONAME = 14, DT_INIT_ARRAY = 25, DT_FINI = 13, DT_FINI_ARRAY = 26,
        DT_GNU_HASH = 0x6ffffef5, DT_HASH = 4, DT_DEBUG = 21;

    /// <summary>Loads <paramref name="bytes"/> in a fresh context, expecting <typeparamref name="T"/> (exactly, or a
    /// subclass), and that the context holds nothing afterwards.</summary>
    private static T Refused<T>(byte[] bytes, string name, bool exact) where T : LoaderException
    {
        var context = new LoaderContext();
        var e = exact ? Assert.Throws<T>(() => context.Load(bytes, name)) : Assert.ThrowsAny<T>(() => context.Load(bytes, name));
        Assert.Empty(context.LoadedLibraries);
        return e;
    }

    [Fact]
    public void A_relocation_aimed_at_a_writable_segment_that_maps_nothing_is_refused()
    {
        var (bytes, address) = BasicVariants.WithEmptyWritableLoad();
        using (var elf = ElfFile.Parse(bytes.ToArray(), "x"))
        {
            var rela = elf.RelocationTables.First(t => t.Name == "DT_RELA");
            int entry = (int)ElfPatch.FileOffset(elf, rela.Address);
            Assert.Equal(X86_64RelocationType.Relative, (X86_64RelocationType)rela[0].Type);
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(entry), address); // r_offset of the first RELATIVE
        }
        var e = Refused<RelocationException>(bytes, "empty-writable.so", exact: true);
        Assert.Contains("does not lie in a writable part of the image", e.Message, StringComparison.Ordinal);
    }

    /// <summary>basic.so with one DT_RELA entry edited: <paramref name="edit"/> gets the entry's r_offset and r_info
    /// and gives them back. The entry is the fourth of the nine R_X86_64_RELATIVE ones that lead the table, so the
    /// relocator's run over RELATIVE entries reaches it after a target in the same writable range.</summary>
    private static (byte[] Bytes, ulong EntryAddress) WithRelativeEntry(Func<ulong, ulong, (ulong Offset, ulong Info)> edit)
    {
        const int Entry = 3;
        var (bytes, elf) = BasicVariants.Basic();
        using (elf)
        {
            var rela = elf.RelocationTables.First(t => t.Name == "DT_RELA");
            Assert.All(Enumerable.Range(0, Entry + 2), i => Assert.Equal(X86_64RelocationType.Relative, (X86_64RelocationType)rela[i].Type));
            int at = (int)ElfPatch.FileOffset(elf, rela.Address) + Entry * 24;
            var (offset, info) = edit(BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(at)), BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(at + 8)));
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at), offset);
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at + 8), info);
            return (bytes, rela.Address + Entry * 24);
        }
    }

    /// <summary>Loads <paramref name="bytes"/> from a file (the path a load by name takes: the relocator checks the
    /// Elf64_Rela entries' symbol indices itself), expecting <typeparamref name="T"/>; the context holds nothing after.</summary>
    private static T RefusedFromFile<T>(byte[] bytes, string name) where T : LoaderException
    {
        string directory = Directory.CreateTempSubdirectory("loader-hostile-file-").FullName;
        try
        {
            string path = Path.Combine(directory, name);
            File.WriteAllBytes(path, bytes);
            var context = new LoaderContext();
            var e = Assert.Throws<T>(() => context.Load(path));
            Assert.Empty(context.LoadedLibraries);
            Assert.Contains(name, e.Message, StringComparison.Ordinal);
            return e;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void A_relative_entry_with_a_symbol_index_past_the_table_is_refused_by_a_load_as_by_the_reader()
    {
        var (bytes, entry) = WithRelativeEntry((offset, info) => (offset, (1000ul << 32) | (uint)info));
        var reader = Assert.Throws<ElfFormatException>(() => ElfFile.Parse(bytes.ToArray(), "bad-symbol.so"));
        var fromBytes = Refused<ElfFormatException>(bytes, "bad-symbol.so", exact: true);
        var fromFile = RefusedFromFile<ElfFormatException>(bytes, "bad-symbol.so");
        foreach (var e in new[] { reader, fromBytes, fromFile })
        {
            Assert.Equal("DT_RELA r_info", e.Field);
            Assert.Equal(entry, e.Offset);
            Assert.Contains("relocation 3 refers to symbol index 1000, past the", e.Message, StringComparison.Ordinal);
        }
        // The same words, but for the name: the reader was given "bad-symbol.so", the load the file's full path.
        Assert.Equal(reader.Message, fromFile.Message[fromFile.Message.IndexOf("bad-symbol.so", StringComparison.Ordinal)..]);
    }

    [Theory]
    [InlineData(0x10ul)]                   // the ELF header: read-only
    [InlineData(0x2010ul)]                 // the read-only segment before the writable one
    [InlineData(0x5000ul)]                 // past it, inside the reservation or not
    [InlineData(0xffff_ffff_ffff_fff8ul)]  // base + r_offset wraps around the address space
    public void A_relative_entry_in_a_run_aimed_outside_the_writable_segment_is_refused(ulong target)
    {
        var (bytes, _) = WithRelativeEntry((_, info) => (target, info));
        var e = RefusedFromFile<RelocationException>(bytes, "bad-target.so");
        Assert.Contains($"R_X86_64_RELATIVE at 0x{target:x}", e.Message, StringComparison.Ordinal);
        Assert.Contains("does not lie in a writable part of the image", e.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The edges of the relocator's run over RELATIVE entries: basic.so's writable PT_LOAD maps the pages [0x3000,
    /// 0x5000) (p_vaddr 0x3db0 and p_memsz 0x2e0, to whole pages: the range the image declares writable), so an 8-byte
    /// target may start at 0x3000 to 0x4ff8 and no further; one byte outside is refused. The entry is the fourth
    /// RELATIVE one, reached inside the run. The oracle for an accepted one: B + A at B + r_offset, read back.
    /// </summary>
    [Theory]
    [InlineData(0x2ff8ul, false)]
    [InlineData(0x2ffful, false)]
    [InlineData(0x3000ul, true)]
    [InlineData(0x3001ul, true)]
    [InlineData(0x4ff8ul, true)]
    [InlineData(0x4ff9ul, false)]
    [InlineData(0x4ffful, false)]
    [InlineData(0x5000ul, false)]
    public void A_relative_run_writes_up_to_the_edges_of_the_writable_segment_and_not_past_them(ulong target, bool accepted)
    {
        ulong addend = 0;
        var (bytes, _) = WithRelativeEntry((_, info) => (target, info));
        using (var elf = ElfFile.Parse(bytes.ToArray(), "edge.so"))
            addend = (ulong)elf.RelocationTables.First(t => t.Name == "DT_RELA")[3].Addend;
        if (!accepted)
        {
            RefusedFromFile<RelocationException>(bytes, "edge.so");
            return;
        }
        string directory = Directory.CreateTempSubdirectory("loader-relative-edge-").FullName;
        try
        {
            string path = Path.Combine(directory, "edge.so");
            File.WriteAllBytes(path, bytes);
            using var context = new LoaderContext();
            using var library = context.Load(path, new LoadOptions { RunInitializers = false });
            var image = library.LoadedModule.Image!;
            ulong bias = (ulong)image.BaseAddress;
            Assert.Equal(bias + addend, image.Memory.ReadUInt64((nint)(bias + target)));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void An_init_array_in_a_segment_that_maps_nothing_is_refused()
    {
        var (bytes, address) = BasicVariants.WithEmptyWritableLoad();
        using (var elf = ElfFile.Parse(bytes.ToArray(), "x"))
            ElfPatch.EditDynamic(bytes, elf, (tag, value) => tag == DT_INIT_ARRAY ? (tag, address) : (tag, value));
        var e = Refused<ElfFormatException>(bytes, "empty-init.so", exact: true);
        Assert.Equal("DT_INIT_ARRAY", e.Field);
    }

    [Fact]
    public void A_symbolic_relocation_without_a_symbol_table_is_a_loader_exception()
    {
        var (bytes, elf) = BasicVariants.Basic();
        using (elf)
            ElfPatch.EditDynamic(bytes, elf, (tag, value) => tag is DT_SYMTAB or DT_GNU_HASH or DT_HASH ? (DT_DEBUG, 0) : (tag, value));
        var e = Refused<LoaderException>(bytes, "no-symtab.so", exact: false);
        Assert.Contains("no-symtab.so", e.Message, StringComparison.Ordinal);
        Assert.Contains("DT_SYMTAB", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_dt_needed_is_a_loader_exception()
    {
        var (bytes, elf) = BasicVariants.Basic();
        using (elf)
        {
            bool first = true;
            ElfPatch.EditDynamic(bytes, elf, (tag, value) =>
            {
                if (tag != DT_NEEDED || !first)
                    return (tag, value);
                first = false;
                return (tag, 0); // offset 0 of DT_STRTAB is its leading NUL: the empty name
            });
        }
        var e = Refused<LoaderException>(bytes, "empty-needed.so", exact: false);
        Assert.Contains("DT_NEEDED", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_library_that_needs_itself_is_unloaded_by_dispose()
    {
        // Its DT_NEEDED libc.so.6 becomes its own DT_SONAME: a cycle of one, which glibc's dlclose collects.
        var (bytes, elf) = BasicVariants.Basic();
        using (elf)
        {
            ulong soname = 0;
            ElfPatch.EditDynamic(bytes, elf, (tag, value) => { if (tag == DT_SONAME) soname = value; return (tag, value); });
            Assert.NotEqual(0ul, soname);
            ElfPatch.EditDynamic(bytes, elf, (tag, value) => tag == DT_NEEDED ? (tag, soname) : (tag, value));
        }
        var context = new LoaderContext();
        var library = context.Load(bytes, "needs-itself.so");
        var range = library.ReservedRange;
        Assert.Equal(5, ((delegate* unmanaged<int, int, int>)library.GetExport("add"))(2, 3));
        library.Dispose();
        Assert.Empty(context.LoadedLibraries);
        Assert.DoesNotContain(File.ReadLines("/proc/self/maps"), l => Convert.ToUInt64(l[..l.IndexOf('-')], 16) == (ulong)range.Start);
    }

    [Fact]
    public void Two_libraries_that_need_each_other_are_unloaded_together()
    {
        var context = new LoaderContext();
        var a = context.Load(Fixtures.Path("linking/libcycle_a.so"));
        Assert.Equal(3, ((delegate* unmanaged<int>)a.GetExport("cycle_a_plus_b"))());
        Assert.Equal(2, context.LoadedLibraries.Count);
        var ranges = context.LoadedLibraries.Select(l => (ulong)l.Module.BaseAddress).ToList();
        a.Dispose();
        Assert.Empty(context.LoadedLibraries);
        var starts = File.ReadLines("/proc/self/maps").Select(l => Convert.ToUInt64(l[..l.IndexOf('-')], 16)).ToHashSet();
        Assert.DoesNotContain(ranges, starts.Contains);
    }

    [Fact]
    public void A_fifo_where_a_dependency_is_searched_is_passed_over_without_waiting()
    {
        // libchain_a.so finds libchain_b.so through DT_RUNPATH $ORIGIN/lib; here that name is a FIFO nobody writes to.
        string directory = Directory.CreateTempSubdirectory("loader-fifo-search-").FullName;
        try
        {
            File.Copy(Fixtures.Path("chain/libchain_a.so"), Path.Combine(directory, "libchain_a.so"));
            Directory.CreateDirectory(Path.Combine(directory, "lib"));
            string fifo = Path.Combine(directory, "lib", "libchain_b.so");
            Assert.Equal(0, Oracles.ChildProcess.Run("mkfifo", fifo).ExitCode);
            Exception? failure = null;
            var load = new Thread(() => failure = Record.Exception(() => new LoaderContext().Load(Path.Combine(directory, "libchain_a.so"),
                new LoadOptions { LdLibraryPath = "" }))) { IsBackground = true };
            load.Start();
            if (!load.Join(TimeSpan.FromSeconds(10)))
            {
                using (File.OpenWrite(fifo)) { } // a writer releases the blocked open, so the thread can end
                Assert.Fail("the search blocked opening a FIFO");
            }
            var e = Assert.IsType<LibraryNotFoundException>(failure);
            Assert.Contains(e.Attempts, a => a.Path == fifo && a.Outcome == "not a regular file");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void An_invalid_finalizer_is_refused_at_load_not_at_unload()
    {
        var (bytes, elf) = BasicVariants.Basic();
        using (elf)
            ElfPatch.EditDynamic(bytes, elf, (tag, value) => tag == DT_FINI ? (tag, 0x3db0) : (tag, value)); // data, not code
        var e = Refused<ElfFormatException>(bytes, "bad-fini.so", exact: true);
        Assert.Equal("DT_FINI", e.Field);
    }

    [Fact]
    public void GetExport_does_not_run_a_resolver_the_load_was_told_not_to_run()
    {
        // ifunc.so's own uses of its IFUNC (IRELATIVE, bindings to it) become R_X86_64_NONE, so it loads with
        // RunResolvers = false; its
        // exported IFUNC 'doubled' is still there to be asked for.
        byte[] bytes = File.ReadAllBytes(Fixtures.Path("ifunc.so"));
        using (var elf = ElfFile.Parse(bytes.ToArray(), "ifunc.so"))
        {
            foreach (var table in elf.RelocationTables)
            {
                ulong at = ElfPatch.FileOffset(elf, table.Address);
                for (int i = 0; i < table.Count; i++)
                    if ((X86_64RelocationType)table[i].Type == X86_64RelocationType.IRelative
                        || (table[i].SymbolIndex != 0 && elf.DynamicSymbols![(int)table[i].SymbolIndex].Type == SymbolType.GnuIfunc))
                        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan((int)at + i * 24 + 8), 0); // r_info: NONE
            }
        }
        using var library = new LoaderContext().Load(bytes, "ifunc-quiet.so", new LoadOptions { RunResolvers = false, RunInitializers = false });
        var e = Assert.Throws<RelocationException>(() => library.GetExport("doubled"));
        Assert.Contains("RunResolvers", e.Message, StringComparison.Ordinal);
        Assert.False(library.TryGetExport("doubled", out _));
    }

    /// <summary>
    /// A PT_TLS whose alignment is not a power of two, or larger than a TLS block is aligned to here, or whose block is
    /// larger than the maximum image size: refused naming the field, before any carrier is made (the carrier is padded
    /// to the alignment: the load fuzzer's p_align 0x68000018 took 4 s and a 1.7 GB memfd to be accepted).
    /// </summary>
    [Theory]
    [InlineData(48, 0x68000018UL, "PT_TLS p_align", "is not a power of two")]
    [InlineData(48, 0x40000000UL, "PT_TLS p_align", "is larger than the 0x10000 bytes")]
    [InlineData(40, 0xaa25000000000024UL, "PT_TLS p_memsz", "(MaxImageSize)")]
    public void A_thread_local_block_the_loader_cannot_carry_is_refused_by_field(int field, ulong value, string name, string why)
    {
        byte[] bytes = File.ReadAllBytes(Fixtures.Path("tls/libtls_gd.so"));
        using (var elf = ElfFile.Parse(bytes.ToArray(), "x"))
        {
            int tls = elf.ProgramHeaders.ToList().FindLastIndex(p => p.Type == SegmentType.Tls);
            Assert.True(tls >= 0, "libtls_gd.so has a PT_TLS");
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan((int)elf.Header.ProgramHeaderOffset + tls * ProgramHeader.Size64 + field), value);
        }
        var e = Refused<ElfFormatException>(bytes, "bad-tls.so", exact: true);
        Assert.Equal(name, e.Field);
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_long_name_for_an_image_in_memory_is_only_a_label()
    {
        string name = new string('n', 400) + ".so";
        using var library = new LoaderContext().Load(File.ReadAllBytes(Fixtures.Path("basic.so")), name);
        Assert.Equal(name, library.Path);
        Assert.Equal(5, ((delegate* unmanaged<int, int, int>)library.GetExport("add"))(2, 3));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    public void A_maximum_image_size_that_is_not_positive_is_a_caller_mistake(long size) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new LoadOptions { MaxImageSize = size });
}
