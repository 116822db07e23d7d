using System.Runtime.InteropServices;
using Loader.Elf;
using Loader.Linking;
using Loader.Native;
using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// The host's modules read in place, checked against glibc itself: every address our reading of a module's tables
/// gives (<c>Base + st_value</c>) must be the one glibc's own <c>dlsym</c>/<c>dlvsym</c> returns, and the files must be
/// the ones /proc/self/maps shows. The .NET runtime loads libraries of its own, so no test assumes an exact list.
/// </summary>
public sealed class HostModulesTests
{
    private const string LibC = "libc.so.6";
    private const string LibM = "libm.so.6";
    private const string LibZ = "libz.so.1";

    [Fact]
    public void SystemRuntime_is_the_list_the_host_always_provides()
    {
        Assert.Equal(
            ["libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "ld-linux-x86-64.so.2", "libgcc_s.so.1", "libstdc++.so.6"],
            HostModules.SystemRuntime);
    }

    [Fact]
    public void Enumerate_starts_with_the_main_program_and_holds_libc_and_the_dynamic_linker()
    {
        int before = Glibc.CountObjects();
        var modules = HostModules.Enumerate();
        int after = Glibc.CountObjects();

        Assert.Equal("/proc/self/exe", modules[0].Path);
        Assert.Contains(modules, m => m.SoName == LibC);
        Assert.Contains(modules, m => m.SoName == "ld-linux-x86-64.so.2");
        // glibc's own count of loaded objects: one dl_phdr_info per object, ours skips at most the vDSO and Loader's TLS
        // carriers (the bounds allow for other tests loading libraries meanwhile).
        Assert.InRange(modules.Count, Math.Min(before, after) - 1 - TlsCarrier.LiveCount, Math.Max(before, after));
        Assert.Equal(modules.Count, modules.Select(m => (m.Base, m.Path)).Distinct().Count());
    }

    [Fact]
    public void A_TLS_carrier_is_not_a_host_module_and_its_dlopen_leaves_the_host_list_as_it_was()
    {
        // Copies, so each load is a new image with a carrier of its own (the same file twice would be one module).
        string directory = Directory.CreateTempSubdirectory("loader-host-walk-").FullName;
        try
        {
            var copies = new List<string>();
            foreach (string name in new[] { "tls/libtls_gd.so", "tls/libtls_ld.so", "tls/libtls_desc_dynamic.so", "tls/libtls_gd.so" })
            {
                string copy = Path.Combine(directory, $"{copies.Count}-{Path.GetFileName(name)}");
                File.Copy(Fixtures.Path(name), copy);
                copies.Add(copy);
            }
            var run = ChildProcess.Run("dotnet", [typeof(HostModulesTests).Assembly.Location, HostWalkChild.Scenario, .. copies]);
            Assert.True(run.ExitCode == 0, $"child exited {run.ExitCode}: {run.Stderr}");
            var parts = Assert.Single(run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("walk ", StringComparison.Ordinal)).Split(' ');
            long allocated = long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
            // glibc lists the carriers (so each load did change its list of objects) ...
            Assert.Equal(copies.Count, int.Parse(parts[4], System.Globalization.CultureInfo.InvariantCulture));
            // ... but they are not the host's libraries: none is listed, the list is the one before the last load, and
            // the walk that found so cost no more than its own bookkeeping (each of the process's few dozen objects
            // decoded and read again would be several KB).
            Assert.Equal("0", parts[3]);
            Assert.Equal("True", parts[2]);
            Assert.True(allocated < 512, $"the host walk after a carrier's dlopen allocated {allocated:N0} B");
            // ... and the carrier's dlopen, the only change, was accepted as it happened (HostModules.AcceptOwnChange):
            // neither the last load nor the walk after it read glibc's list again.
            Assert.Equal("0", parts[5]);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void An_own_change_is_not_accepted_when_another_load_happened_in_the_same_interval()
    {
        // Two fresh objects through the system loader: one as if another thread had loaded it, one as the caller's own
        // (a carrier's dlopen). The counters moved by two, the caller accounts for one: the list must be read again,
        // and it has the other thread's object.
        string directory = Directory.CreateTempSubdirectory("loader-own-change-").FullName;
        nint foreign = 0, own = 0;
        try
        {
            string foreignPath = Path.Combine(directory, "foreign.so"), ownPath = Path.Combine(directory, "own.so");
            File.Copy(Fixtures.Path("basic.so"), foreignPath);
            File.Copy(Fixtures.Path("basic.so"), ownPath);
            HostModules.Enumerate();
            var before = DynamicLinker.Generation();
            foreign = DynamicLinker.Open(foreignPath, RtldFlags.RTLD_NOW | RtldFlags.RTLD_LOCAL, out string? error);
            Assert.True(foreign != 0, error);
            own = DynamicLinker.Open(ownPath, RtldFlags.RTLD_NOW | RtldFlags.RTLD_LOCAL, out error);
            Assert.True(own != 0, error);
            HostModules.AcceptOwnChange(before, DynamicLinker.Generation(), added: 1, removed: 0);

            Assert.Contains(HostModules.Enumerate(), m => m.Path == foreignPath);
        }
        finally
        {
            if (own != 0)
                DynamicLinker.Close(own, out _);
            if (foreign != 0)
                DynamicLinker.Close(foreign, out _);
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Every_module_has_symbols_and_its_tables_lie_in_its_PT_LOAD_memory()
    {
        int checkedModules = 0;
        foreach (var module in HostModules.Enumerate())
        {
            // Its dynamic section and program headers are read in place: pinned while they are (Glibc.TryPin).
            if (!Glibc.TryPin(module, out nint pin))
                continue;
            try
            {
                var symbols = module.Tables.Symbols;
                Assert.True(symbols is { Count: > 0 }, $"{module}: no dynamic symbols");

                ulong strtab = module.Dynamic.Get(DynamicTag.StrTab) ?? throw new Xunit.Sdk.XunitException($"{module}: no DT_STRTAB");
                ulong strsz = module.Dynamic.Get(DynamicTag.StrSz) ?? 0;
                ulong symtab = module.Dynamic.Get(DynamicTag.SymTab) ?? throw new Xunit.Sdk.XunitException($"{module}: no DT_SYMTAB");
                Assert.True(InsidePtLoad(module, strtab, strsz), $"{module}: DT_STRTAB 0x{strtab:x} (+0x{strsz:x}) outside its PT_LOADs");
                Assert.True(InsidePtLoad(module, symtab, (ulong)symbols!.Count * 24), $"{module}: DT_SYMTAB 0x{symtab:x} outside its PT_LOADs");
                Assert.Equal(symtab, symbols.Address);
                checkedModules++;
            }
            finally
            {
                if (pin != 0)
                    Glibc.Close(pin);
            }
        }
        // The runtime's libraries are always loaded (libc, ld.so, libcoreclr and more): the walk checked something.
        Assert.True(checkedModules >= 3, $"only {checkedModules} host modules checked");
    }

    [Fact]
    public void Libc_dynamic_section_in_memory_has_the_pointers_glibc_made_absolute_and_we_read_them_back_as_virtual_addresses()
    {
        var libc = Get(LibC);
        var raw = ReadRawDynamicSection(libc);
        ulong bias = (ulong)libc.Base;
        Assert.NotEqual(0UL, bias);

        // What glibc 2.36's elf_get_dynamic_info adds l_addr to (libc's PT_DYNAMIC is writable): now absolute.
        foreach (var tag in new[] { DynamicTag.StrTab, DynamicTag.SymTab, DynamicTag.GnuHash, DynamicTag.VerSym, DynamicTag.JmpRel, DynamicTag.PltGot })
        {
            Assert.True(raw.TryGetValue(tag, out ulong inMemory), $"libc has no {tag}");
            Assert.Equal(inMemory - bias, libc.Dynamic.Get(tag));
        }
        // What it leaves alone: still the file's virtual addresses, unchanged by our rebasing.
        foreach (var tag in new[] { DynamicTag.VerDef, DynamicTag.VerNeed, DynamicTag.StrSz, DynamicTag.SoName })
        {
            Assert.True(raw.TryGetValue(tag, out ulong inMemory), $"libc has no {tag}");
            Assert.True(inMemory < bias, $"{tag} 0x{inMemory:x} was rewritten");
            Assert.Equal(inMemory, libc.Dynamic.Get(tag));
        }
    }

    [Fact]
    public void WithAbsolutePointersMadeRelative_subtracts_the_bias_from_the_rewritten_tags_only()
    {
        const ulong bias = 0x7f12_3456_0000;
        var dyn = Dynamic(
            (DynamicTag.Needed, 0x10),
            (DynamicTag.StrTab, bias + 0x1000),
            (DynamicTag.SymTab, bias + 0x2000),
            (DynamicTag.Rela, 0),                 // zero beside DT_RELR: glibc does not add l_addr to it
            (DynamicTag.Relr, bias + 0x3000),
            (DynamicTag.VerSym, bias + 0x4000),
            (DynamicTag.VerDef, 0x5000),          // never rewritten
            (DynamicTag.Init, 0x6000),            // never rewritten
            (DynamicTag.GnuHash, 0x7000),         // a read-only PT_DYNAMIC (the vDSO): left as it was
            (DynamicTag.Null, 0));

        var rebased = dyn.WithAbsolutePointersMadeRelative(bias);

        Assert.Equal(0x10UL, rebased.Get(DynamicTag.Needed));
        Assert.Equal(0x1000UL, rebased.Get(DynamicTag.StrTab));
        Assert.Equal(0x2000UL, rebased.Get(DynamicTag.SymTab));
        Assert.Equal(0UL, rebased.Get(DynamicTag.Rela));
        Assert.Equal(0x3000UL, rebased.Get(DynamicTag.Relr));
        Assert.Equal(0x4000UL, rebased.Get(DynamicTag.VerSym));
        Assert.Equal(0x5000UL, rebased.Get(DynamicTag.VerDef));
        Assert.Equal(0x6000UL, rebased.Get(DynamicTag.Init));
        Assert.Equal(0x7000UL, rebased.Get(DynamicTag.GnuHash));
        Assert.Equal(bias + 0x1000, dyn.Get(DynamicTag.StrTab)); // a copy: the original is untouched
        // A non-PIE executable has bias 0: nothing changes.
        Assert.Equal(dyn.Entries, dyn.WithAbsolutePointersMadeRelative(0).Entries);
    }

    public static TheoryData<string, string, string?> VersionedSymbols => new()
    {
        { LibC, "memcpy", "GLIBC_2.14" },
        { LibC, "memcpy", "GLIBC_2.2.5" },
        { LibC, "realpath", "GLIBC_2.3" },
        { LibC, "realpath", "GLIBC_2.2.5" },
        { LibC, "strlen", "GLIBC_2.2.5" },
        { LibC, "printf", "GLIBC_2.2.5" },
        { LibC, "pthread_create", "GLIBC_2.34" },
        { LibC, "pthread_create", "GLIBC_2.2.5" },
        { LibC, "malloc", null },
        { LibC, "realpath", null },
        { LibC, "memcpy", null },
        { LibM, "cos", "GLIBC_2.2.5" },
        { LibM, "exp", "GLIBC_2.29" },
        { LibM, "exp", "GLIBC_2.2.5" },
        { LibM, "cos", null },
        { LibM, "lgamma", null },
        { LibZ, "zlibVersion", null },
        { LibZ, "crc32", null },
        { LibZ, "deflate", null },
        { LibZ, "crc32_z", "ZLIB_1.2.9" },
    };

    [Theory]
    [MemberData(nameof(VersionedSymbols))]
    public void Symbol_read_in_place_is_where_glibc_dlsym_finds_it(string library, string name, string? version)
    {
        var module = Get(library);
        nint handle = Glibc.OpenLoaded(library);
        int index = version is null ? FindDefault(module.Tables, name) : FindVersion(module.Tables, name, version);
        string label = version is null ? name : $"{name}@{version}";
        Assert.True(index > 0, $"{label} not found in {module}");
        var symbol = module.Tables.Symbols![index];
        nint ours = (nint)((ulong)module.Base + symbol.Value);
        nint glibc = version is null ? Glibc.Symbol(handle, name) : Glibc.VersionedSymbol(handle, name, version);
        Assert.NotEqual(0, glibc);

        if (symbol.Type != SymbolType.GnuIfunc)
        {
            Assert.Equal(glibc, ours);
            return;
        }
        // An IFUNC: st_value is the resolver, and dlsym returns what the resolver chose. Both lie in this module, and
        // the resolver's address is exactly a dynamic symbol's.
        var resolver = Glibc.AddressInfo(ours);
        Assert.Equal(ours, resolver.SymbolAddress);
        Assert.Equal(module.Base, resolver.FileBase);
        Assert.Equal(Glibc.AddressInfo(glibc).FileBase, module.Base);
    }

    [Theory]
    [InlineData("memcpy", "GLIBC_2.14")]
    [InlineData("strlen", "GLIBC_2.2.5")]
    public void Libc_string_functions_are_IFUNCs_whose_st_value_is_the_resolver(string name, string version)
    {
        var libc = Get(LibC);
        int index = FindVersion(libc.Tables, name, version);
        Assert.True(index > 0);
        Assert.Equal(SymbolType.GnuIfunc, libc.Tables.Symbols![index].Type);
        nint resolver = (nint)((ulong)libc.Base + libc.Tables.Symbols[index].Value);
        Assert.Equal(libc.Path, Glibc.AddressInfo(resolver).FileName);
    }

    [Fact]
    public void Versions_of_one_name_are_distinct_definitions()
    {
        var libc = Get(LibC);
        var old = libc.Tables.Symbols![FindVersion(libc.Tables, "realpath", "GLIBC_2.2.5")];
        var current = libc.Tables.Symbols[FindVersion(libc.Tables, "realpath", "GLIBC_2.3")];
        Assert.NotEqual(old.Value, current.Value);
        Assert.Equal(SymbolVersionKind.Hidden, libc.Tables.GetSymbolVersion(FindVersion(libc.Tables, "realpath", "GLIBC_2.2.5")).Kind);
        Assert.Equal(SymbolVersionKind.Default, libc.Tables.GetSymbolVersion(FindVersion(libc.Tables, "realpath", "GLIBC_2.3")).Kind);
    }

    [Fact]
    public void Get_dlopens_a_library_the_process_does_not_have_with_the_system_loader_and_Enumerate_shows_it()
    {
        var libz = Get(LibZ);

        Assert.Equal(LibZ, libz.SoName);
        Assert.NotEqual(0, Glibc.OpenLoaded(LibZ)); // RTLD_NOLOAD: the system loader has it now
        Assert.Contains(libz, HostModules.Enumerate());
        Assert.Same(libz, Get(LibZ));
        Assert.Same(libz, HostModules.Get(libz.Path, out _));
    }

    [Fact]
    public void Get_loads_what_nothing_loaded_yet_and_Enumerate_reflects_the_present()
    {
        const string name = "libbz2.so.1.0"; // a system library nothing else in the tests uses
        if (Glibc.OpenLoaded(name) == 0)
            Assert.DoesNotContain(HostModules.Enumerate(), m => m.SoName == name);

        var module = Get(name);

        Assert.Equal(name, module.SoName);
        Assert.NotEqual(0, Glibc.OpenLoaded(name));
        Assert.Contains(module, HostModules.Enumerate());
        Assert.Equal(Glibc.Symbol(Glibc.OpenLoaded(name), "BZ2_bzlibVersion"),
            (nint)((ulong)module.Base + module.Tables.Symbols![module.Tables.FindDefinedSymbol("BZ2_bzlibVersion")].Value));
    }

    [Fact]
    public void Get_by_another_path_to_the_same_file_finds_the_host_copy()
    {
        var libc = Get(LibC);
        // On a merged-/usr system /lib is a link to /usr/lib: one of these is not the path glibc opened.
        foreach (var path in new[] { "/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6" })
            Assert.Same(libc, HostModules.Get(path, out _));
    }

    [Fact]
    public void Get_of_a_library_nobody_can_load_is_null_with_the_system_loader_message()
    {
        var module = HostModules.Get("libdoes-not-exist-4f1c.so.7", out string? error);

        Assert.Null(module);
        Assert.NotNull(error);
        Assert.Contains("libdoes-not-exist-4f1c.so.7", error);
        Assert.Throws<ArgumentException>(() => HostModules.Get("", out _));
    }

    [Fact]
    public void FindByFile_finds_libc_by_the_device_and_inode_proc_self_maps_shows()
    {
        var libc = Get(LibC);
        var (device, inode) = ProcMaps.DeviceAndInodeAt(libc.Base);

        Assert.Equal(inode, libc.Inode);
        Assert.Equal(device, libc.Device);
        Assert.Same(libc, HostModules.FindByFile(device, inode));
        Assert.Null(HostModules.FindByFile(device, ulong.MaxValue));
    }

    [Fact]
    public void Program_headers_are_the_mapped_ones()
    {
        var libc = Get(LibC);
        var load = libc.ProgramHeaders.First(p => p.Type == SegmentType.Load);
        // The first PT_LOAD maps the ELF header: its magic is at Base + p_vaddr (p_offset 0).
        Assert.Equal(0UL, load.Offset);
        Assert.Equal(0x464c457f, Marshal.ReadInt32((nint)((ulong)libc.Base + load.VirtualAddress)));
        Assert.Contains(libc.ProgramHeaders, p => p.Type == SegmentType.Dynamic);
    }

    // ---- helpers ----

    private static HostModule Get(string name) =>
        HostModules.Get(name, out string? error) ?? throw new Xunit.Sdk.XunitException($"{name}: {error}");

    /// <summary>The definition dlsym returns for a bare name: the default (@@) version, or an unversioned one.</summary>
    private static int FindDefault(DynamicTables tables, string name)
    {
        int index = tables.FindDefinedSymbol(name);
        if (index > 0 && tables.GetSymbolVersion(index).Kind != SymbolVersionKind.Hidden)
            return index;
        var symbols = tables.Symbols!;
        for (int i = 1; i < symbols.Count; i++)
            if (!symbols[i].IsUndefined && symbols.GetName(i) == name && tables.GetSymbolVersion(i).Kind != SymbolVersionKind.Hidden)
                return i;
        return -1;
    }

    /// <summary>The definition of <paramref name="name"/> at exactly <paramref name="version"/>, by walking the table.</summary>
    private static int FindVersion(DynamicTables tables, string name, string version)
    {
        var symbols = tables.Symbols!;
        for (int i = 1; i < symbols.Count; i++)
            if (!symbols[i].IsUndefined && symbols.GetName(i) == name && tables.GetSymbolVersion(i).Name == version)
                return i;
        return -1;
    }

    private static bool InsidePtLoad(HostModule module, ulong address, ulong length) =>
        module.ProgramHeaders.Any(p => p.Type == SegmentType.Load
            && address >= p.VirtualAddress && address - p.VirtualAddress <= p.MemorySize && length <= p.MemorySize - (address - p.VirtualAddress));

    private static DynamicSection Dynamic(params (DynamicTag Tag, ulong Value)[] entries)
    {
        var bytes = new byte[entries.Length * 16];
        for (int i = 0; i < entries.Length; i++)
        {
            BitConverter.TryWriteBytes(bytes.AsSpan(i * 16), (long)entries[i].Tag);
            BitConverter.TryWriteBytes(bytes.AsSpan(i * 16 + 8), entries[i].Value);
        }
        return DynamicSection.Read(bytes, new ElfEncoding(ElfClass.Elf64, ElfData.LittleEndian), 0x1000, 0x1000, "test.so");
    }

    /// <summary>The module's dynamic section as it is in memory now (the last entry of each tag), read directly.</summary>
    private static Dictionary<DynamicTag, ulong> ReadRawDynamicSection(HostModule module)
    {
        var ph = module.ProgramHeaders.Single(p => p.Type == SegmentType.Dynamic);
        nint at = (nint)((ulong)module.Base + ph.VirtualAddress);
        var result = new Dictionary<DynamicTag, ulong>();
        for (int i = 0; i < (int)(ph.MemorySize / 16); i++)
        {
            long tag = Marshal.ReadInt64(at, i * 16);
            if (tag == 0)
                break;
            result[(DynamicTag)tag] = (ulong)Marshal.ReadInt64(at, i * 16 + 8);
        }
        return result;
    }
}
