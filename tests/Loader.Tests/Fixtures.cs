namespace Loader.Tests;

/// <summary>What a fixture is, for a test choosing which fixtures to run a check over.</summary>
public enum FixtureKind
{
    /// <summary>An ordinary x86_64 shared object the loader must load (and glibc does).</summary>
    X64,

    /// <summary>A valid x86_64 shared object with a deliberately unusual layout (no section
    /// headers, non-zero bytes in the bss tail); the loader must load it correctly.</summary>
    X64Odd,

    /// <summary>A valid x86_64 shared object whose load fails by design, under glibc's dlopen too: a symbol it
    /// needs is defined nowhere in its scope (absent, or present only hidden), or its initial-exec TLS block does
    /// not fit in static TLS. Readable, never loadable.</summary>
    X64LinkFails,

    /// <summary>ELFCLASS32, little-endian, EM_386: readable, never loadable here.</summary>
    Elf32,

    /// <summary>Big-endian (ELF64 EM_PPC64 or ELF32 EM_PPC), written by a generator:
    /// readable, never loadable here.</summary>
    BigEndian,
}

/// <summary>One built fixture.</summary>
/// <param name="Name">Path relative to <see cref="Fixtures.Directory"/>, with '/' separators.</param>
/// <param name="Path">Absolute path of the built file.</param>
/// <param name="Kind">What it is: which checks apply to it.</param>
/// <param name="Description">Why it exists, in one line (tests/fixtures/README.md says more).</param>
public sealed record FixtureInfo(string Name, string Path, FixtureKind Kind, string Description)
{
    /// <summary>x86_64 little-endian ELF64: every kind a test can hand to <c>readelf</c> and
    /// expect the same machine as the host.</summary>
    public bool IsX64 => Kind is FixtureKind.X64 or FixtureKind.X64Odd or FixtureKind.X64LinkFails;

    /// <summary>The loader is expected to load it (and glibc's dlopen does too).</summary>
    public bool IsLoadable => Kind is FixtureKind.X64 or FixtureKind.X64Odd;

    public override string ToString() => Name;
}

/// <summary>
/// The C fixtures built by scripts/build-fixtures.sh into tests/fixtures/build (the build of
/// this project runs the script first, see Fixtures.targets). tests/fixtures/README.md says
/// how each is built and why it exists.
/// </summary>
public static class Fixtures
{
    private static readonly Lazy<string> RepositoryRootLazy = new(FindRepositoryRoot);

    /// <summary>The folder holding Loader.sln.</summary>
    public static string RepositoryRoot => RepositoryRootLazy.Value;

    /// <summary>tests/fixtures/build.</summary>
    public static string Directory => System.IO.Path.Combine(RepositoryRoot, "tests", "fixtures", "build");

    /// <summary>The absolute path of a built fixture, e.g. <c>Path("basic.so")</c> or
    /// <c>Path("chain/libchain_a.so")</c>; throws if it has not been built.</summary>
    public static string Path(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        string path = System.IO.Path.GetFullPath(System.IO.Path.Combine(Directory, name));
        if (!File.Exists(path))
        {
            throw new FileNotFoundException(
                $"Fixture '{name}' not found at {path}. The fixtures are built by scripts/build-fixtures.sh " +
                "(run automatically when tests/Loader.Tests builds, on Linux with gcc); run it by hand to see why it failed.",
                path);
        }
        return path;
    }

    private static readonly Lazy<IReadOnlyList<FixtureInfo>> AllLazy = new(CreateAll);

    /// <summary>Every fixture, in the order of tests/fixtures/README.md. Whether each file exists
    /// is not checked here: use <see cref="Path(string)"/> or <c>File.Exists(info.Path)</c>.</summary>
    public static IReadOnlyList<FixtureInfo> All => AllLazy.Value;

    private static FixtureInfo[] CreateAll() =>
    [
        Fixture("basic.so", FixtureKind.X64, "plain exports: int/double/string functions, data, a callback, a variadic vsnprintf wrapper"),
        Fixture("bigbss.so", FixtureKind.X64, "initialized arrays and a 3 MiB .bss (p_memsz far beyond p_filesz)"),
        Fixture("versioned.so", FixtureKind.X64, "compute@VERS_1 and compute@@VERS_2; VERS_2 inherits from the base node VERS_1"),
        Fixture("self_refs.so", FixtureKind.X64, "relocations against its own exports; names with equal GNU hashes; twice@VERS_1 and twice@@VERS_2"),
        Fixture("repeat_refs.so", FixtureKind.X64, "symbolic relocations that repeat one symbol (own function and array, strlen, an undefined weak) with addends, from .data.rel.ro and .data"),
        Fixture("hash_sysv.so", FixtureKind.X64, "basic.c, DT_HASH only (--hash-style=sysv)"),
        Fixture("hash_gnu.so", FixtureKind.X64, "basic.c, DT_GNU_HASH only (--hash-style=gnu)"),
        Fixture("hash_both.so", FixtureKind.X64, "basic.c, DT_HASH and DT_GNU_HASH (--hash-style=both)"),
        Fixture("manyrelocs_small.so", FixtureKind.X64, "2,000 R_X86_64_RELATIVE and 2,000 R_X86_64_64 against one exported function"),
        Fixture("manyrelocs_large.so", FixtureKind.X64, "the same with 40,000 of each: allocation per relocation, from the difference"),
        Fixture("relr.so", FixtureKind.X64, "DT_RELR (-z pack-relative-relocs): 200 consecutive pointers, sparse pointers, function pointers"),
        Fixture("relro_share.so", FixtureKind.X64, "a 9-page RELRO: 8 pages of pointers into itself, a page of pointers to libc's strlen; relro_share_sum() = 22016"),
        Fixture("gold.so", FixtureKind.X64, "basic.c linked by gold (-fuse-ld=gold): two PT_LOADs, gold's section order"),
        Fixture("maxpage_2m.so", FixtureKind.X64, "basic.c with -z max-page-size=0x200000: p_align 2 MiB"),
        Fixture("noseparate_code.so", FixtureKind.X64, "basic.c with -z noseparate-code: headers and code in one R+X PT_LOAD"),
        Fixture("norelro.so", FixtureKind.X64, "basic.c with -z norelro: no PT_GNU_RELRO"),
        Fixture("ifunc.so", FixtureKind.X64, "STT_GNU_IFUNC export (symbolic relocations) and a hidden ifunc (R_X86_64_IRELATIVE)"),
        Fixture("elf32_i386.so", FixtureKind.Elf32, "ELFCLASS32 EM_386 (-m32 -nostdlib): to be read, refused for loading"),
        Fixture("bigendian64_ppc64.so", FixtureKind.BigEndian, "hand-written ELF64 big-endian EM_PPC64: DT_HASH, RELA, NEEDED, SONAME"),
        Fixture("bigendian32_ppc.so", FixtureKind.BigEndian, "hand-written ELF32 big-endian EM_PPC: DT_HASH, RELA, NEEDED, SONAME"),
        Fixture("no_section_headers.so", FixtureKind.X64Odd, "basic.so with e_shoff=e_shnum=e_shstrndx=0 and cut after the last segment"),
        Fixture("dirty_bss_tail.so", FixtureKind.X64Odd, "file bytes after p_filesz on the data segment's last page are 0xA5; .bss must read 0"),
        Fixture("chain/libchain_a.so", FixtureKind.X64, "needs libchain_b.so through DT_RUNPATH $ORIGIN/lib; chain_a_value() = 321"),
        Fixture("chain/lib/libchain_b.so", FixtureKind.X64, "needs libchain_c.so through DT_RUNPATH $ORIGIN/deep"),
        Fixture("chain/lib/deep/libchain_c.so", FixtureKind.X64, "end of the chain"),
        Fixture("linking/libinterpose_first.so", FixtureKind.X64, "defines interposed_name/interposed_value (\"first\", 1)"),
        Fixture("linking/libinterpose_second.so", FixtureKind.X64, "defines the same symbols (\"second\", 2)"),
        Fixture("linking/libinterpose_user.so", FixtureKind.X64, "needs first then second; lookups must find \"first\" and 1"),
        Fixture("linking/libweak_provider.so", FixtureKind.X64, "defines weak_present and a strong weak_defined"),
        Fixture("linking/libweak.so", FixtureKind.X64, "weak undefined references (one satisfied, two not) and a weak definition"),
        Fixture("linking/libctors_log.so", FixtureKind.X64, "exported init log and fini sink that constructors/destructors append to"),
        Fixture("linking/libctors.so", FixtureKind.X64, "DT_INIT, prioritized constructors, DT_INIT_ARRAY, DT_FINI_ARRAY, DT_FINI, logging their order"),
        Fixture("linking/libmath_user.so", FixtureKind.X64, "DT_NEEDED libm.so.6, calls cos and sqrt"),
        Fixture("linking/libhost_versions.so", FixtureKind.X64, "binds realpath and pthread_cond_wait each under two libc versions (GLOB_DAT), and returns each binding"),
        Fixture("linking/libtls.so", FixtureKind.X64, "__thread variables: PT_TLS, DTPMOD64/DTPOFF64 relocations, __tls_get_addr"),
        Fixture("linking/libcycle_a.so", FixtureKind.X64, "needs libcycle_b.so, which needs libcycle_a.so back (RUNPATH $ORIGIN): a DT_NEEDED cycle"),
        Fixture("linking/libcycle_b.so", FixtureKind.X64, "the other half of the cycle"),
        Fixture("linking/libversioned_user.so", FixtureKind.X64, "needs versioned.so (RUNPATH $ORIGIN/..), binds compute@VERS_1 and compute@@VERS_2"),
        Fixture("linking/libctor_marker.so", FixtureKind.X64, "a constructor and an exported IFUNC's resolver append to $LOADER_TEST_MARKER: proof that code ran"),
        Fixture("linking/libctor_args.so", FixtureKind.X64, "a constructor that keeps the argc, argv and envp it is given"),
        Fixture("linking/libneeds_missing.so", FixtureKind.X64LinkFails, "needs libctor_marker.so (RUNPATH $ORIGIN) and libloader_absent.so, which exists nowhere at run time"),
        // 16. Symbol binding rules (binding/); link-time stubs in binding/stub/ and bindpatch inputs in
        // binding/unpatched/ are not fixtures and are not listed.
        Fixture("binding/libbind_plain_dep.so", FixtureKind.X64, "defines who()=2/shared_value=20 and uses them through JUMP_SLOT/GLOB_DAT"),
        Fixture("binding/libbind_plain_root.so", FixtureKind.X64, "defines who()=1/shared_value=10, needs plain_dep: the dependency's uses are interposed (probe_call()=1)"),
        Fixture("binding/libbind_bsym_dep.so", FixtureKind.X64, "who_dep.c with -Bsymbolic: DT_SYMBOLIC, ld bound its own uses (no relocation left)"),
        Fixture("binding/libbind_bsym_root.so", FixtureKind.X64, "who_root.c over bsym_dep: probe_call()=2"),
        Fixture("binding/libbind_dtsym_dep.so", FixtureKind.X64, "who_dep.c, -z now, DF_SYMBOLIC patched in: the JUMP_SLOT/GLOB_DAT stay for the loader to bind to itself"),
        Fixture("binding/libbind_dtsym_root.so", FixtureKind.X64, "who_root.c over dtsym_dep: probe_call()=2 by the loader's DT_SYMBOLIC rule"),
        Fixture("binding/libbind_prot_dep.so", FixtureKind.X64, "who_dep.c with who/shared_value patched to STV_PROTECTED, relocations kept"),
        Fixture("binding/libbind_prot_root.so", FixtureKind.X64, "who_root.c over prot_dep: probe_call()=2 by the loader's STV_PROTECTED rule"),
        Fixture("binding/libbind_unique_a.so", FixtureKind.X64, "C++ Counter<int>::value, STB_GNU_UNIQUE, referenced through the GOT; unique_a_addr()"),
        Fixture("binding/libbind_unique_b.so", FixtureKind.X64, "the same unique object, loaded independently: one copy per context (glibc: per namespace)"),
        Fixture("binding/libbind_unique_symdep.so", FixtureKind.X64, "the same unique object, -Bsymbolic (ld keeps the GLOB_DAT for unique symbols)"),
        Fixture("binding/libbind_unique_root.so", FixtureKind.X64, "the same unique object, needs unique_symdep: both references reach the symdep's copy"),
        Fixture("binding/libbind_keep_dep.so", FixtureKind.X64, "keep_dep_count() counts its calls in .data: the dependency of keep and nodelete"),
        Fixture("binding/libbind_nodelete.so", FixtureKind.X64, "DF_1_NODELETE (-z nodelete): count_calls()/dep_calls() go on counting after dlclose and a new dlopen"),
        Fixture("binding/libbind_keep.so", FixtureKind.X64, "the same without NODELETE: unloaded at the last dlclose (counts start again), unless RTLD_NODELETE"),
        Fixture("binding/libbind_lone_unique.so", FixtureKind.X64, "lone_unique: STB_GNU_UNIQUE, defined in assembly, never referred to by its own library"),
        Fixture("binding/libbind_lone_user.so", FixtureKind.X64, "needs lone_unique and refers to it (GLOB_DAT): its load enters the unique object and keeps its definer"),
        Fixture("binding/libbind_lone_user_fail.so", FixtureKind.X64LinkFails, "the same, and calls vanished(), which only the link stub defines: fails after entering lone_unique"),
        Fixture("binding/libbind_vdep_two.so", FixtureKind.X64, "vfunc@VERS_1 (1, index 2) and vfunc@@VERS_2 (2)"),
        Fixture("binding/libbind_vdep_one.so", FixtureKind.X64, "only vfunc@@VERS_2 (2); VERS_1 exists"),
        Fixture("binding/libbind_vdep_hiddenonly.so", FixtureKind.X64, "only vfunc@VERS_2, non-default (hidden version)"),
        Fixture("binding/libbind_vuser_two.so", FixtureKind.X64, "unversioned reference to vfunc (linked against a stub): binds to the oldest, call_vfunc()=1"),
        Fixture("binding/libbind_vuser_one.so", FixtureKind.X64, "unversioned reference to vfunc: binds to the only non-hidden version, call_vfunc()=2"),
        Fixture("binding/libbind_vuser_hiddenonly.so", FixtureKind.X64LinkFails, "unversioned reference to vfunc, which exists only as a hidden version: undefined"),
        Fixture("binding/libbind_missing.so", FixtureKind.X64, "present@@VERS_1 only (its link-time stub also had gone and weak_absent)"),
        Fixture("binding/libbind_missing_weak.so", FixtureKind.X64, "weak references nobody defines (weak_absent@VERS_1, weak_absent_data) resolve to 0"),
        Fixture("binding/libbind_missing_strong.so", FixtureKind.X64LinkFails, "strong reference to gone@VERS_1, defined nowhere: the load fails naming it"),
        Fixture("binding/libbind_hidden_dep.so", FixtureKind.X64, "public_value, and secret_value patched to STV_HIDDEN in .dynsym"),
        Fixture("binding/libbind_hidden_user.so", FixtureKind.X64LinkFails, "needs secret_value, which its dependency has only hidden: the load fails naming it"),
        // 19. For gdb -p (debug/).
        Fixture("debug/libsleeper.so", FixtureKind.X64, "sleeper_wait(n) sleeps n seconds inside sleeper_inner: a process to attach a debugger to"),
        // 18. Thread-local storage (tls/).
        Fixture("tls/libtls_gd.so", FixtureKind.X64, "tls_models.c, general dynamic: DTPMOD64/DTPOFF64; a 4 KiB .tbss aligned 64; tls_threads_check makes its own threads"),
        Fixture("tls/libtls_ld.so", FixtureKind.X64, "tls_models.c, local dynamic: one DTPMOD64 with symbol 0, offsets from the linker"),
        Fixture("tls/libtls_ie.so", FixtureKind.X64, "tls_models.c (small), initial exec: TPOFF64 against its own block, DF_STATIC_TLS"),
        Fixture("tls/libtls_desc.so", FixtureKind.X64, "tls_models.c (small), -mtls-dialect=gnu2: TLSDESC, served from static TLS; tls_vectors_survive"),
        Fixture("tls/libtls_desc_dynamic.so", FixtureKind.X64, "tls_models.c with its 4 KiB .tbss, -mtls-dialect=gnu2: too big for static TLS, so dynamic TLSDESC"),
        Fixture("tls/libtls_ie_huge.so", FixtureKind.X64LinkFails, "tls_models.c with 1 MiB of initial-exec .tbss: no room in static TLS, glibc refuses it too"),
        Fixture("tls/libtls_host.so", FixtureKind.X64, "TPOFF64 against libc's errno@GLIBC_PRIVATE, DTPMOD64/DTPOFF64 against libstdc++'s std::__once_callable"),
        // 17. C++ exceptions through Loader-mapped code (cxx/).
        Fixture("cxx/libcxx_thrower.so", FixtureKind.X64, "C++ (libstdc++): throws, catches inside itself, runs cleanups, takes backtraces; key functions of the shared types"),
        Fixture("cxx/libcxx_catcher.so", FixtureKind.X64, "needs libcxx_thrower.so (RUNPATH $ORIGIN): catches its exceptions by its types, dynamic_cast and typeid on its objects"),
        Fixture("cxx/libcxx_thread_local.so", FixtureKind.X64, "a thread_local with a destructor (__cxa_thread_atexit): tl_start_thread's thread owes it one until it exits"),
        Fixture("cxx/libno_eh_frame_hdr.so", FixtureKind.X64, "basic.c with -Wl,--no-eh-frame-hdr: no PT_GNU_EH_FRAME, nothing to register with libgcc"),
    ];

    /// <summary>The fixtures of one kind.</summary>
    public static IEnumerable<FixtureInfo> OfKind(FixtureKind kind) => All.Where(f => f.Kind == kind);

    /// <summary>The fixture with this name (relative to <see cref="Directory"/>).</summary>
    public static FixtureInfo Get(string name) =>
        All.FirstOrDefault(f => f.Name == name)
        ?? throw new ArgumentException($"No fixture named '{name}' in Fixtures.All.", nameof(name));

    private static FixtureInfo Fixture(string name, FixtureKind kind, string description) =>
        new(name, System.IO.Path.Combine(Directory, name), kind, description);

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Loader.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException(
            $"Cannot find the repository root: no Loader.sln in {AppContext.BaseDirectory} or any folder above it.");
    }
}
