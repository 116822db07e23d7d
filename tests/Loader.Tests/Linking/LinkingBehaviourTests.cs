using System.Runtime.InteropServices;
using Loader.Elf;
using Loader.Linking;

namespace Loader.Tests.Linking;

/// <summary>IFUNC, initializer and finalizer order, DT_RELR, a bad TLS relocation refused, and the options that keep the library's
/// code from running.</summary>
public sealed unsafe class LinkingBehaviourTests
{
    [Fact]
    public void IfuncResolversRunOncePerSymbolAndTheirResultIsUsed()
    {
        using var lib = new LoaderContext().Load(Fixtures.Path("ifunc.so"));
        nint doubled = lib.GetExport("doubled");
        Assert.Equal(14, ((delegate* unmanaged<int, int>)doubled)(7));
        Assert.Equal(10, ((delegate* unmanaged<int, int>)lib.GetExport("call_doubled"))(5));
        Assert.Equal(12, ((delegate* unmanaged<int, int>)lib.GetExport("call_tripled"))(4)); // R_X86_64_IRELATIVE
        Assert.Equal(doubled, *(nint*)lib.GetExport("doubled_pointer")); // R_X86_64_64 against the IFUNC
        Assert.Equal(21, ((delegate* unmanaged<int, int>)*(nint*)lib.GetExport("tripled_pointer"))(7));
        // glibc (RTLD_NOW) calls each resolver once per relocation (2 each); Loader once per symbol per context.
        Assert.Equal(1, *(int*)lib.GetExport("resolver_calls"));
        Assert.Equal(1, *(int*)lib.GetExport("tripler_calls"));
        var explained = lib.Explain("doubled");
        Assert.Equal(SymbolType.GnuIfunc, explained.Provider!.Type);
        Assert.Equal(doubled, explained.Address);
        Assert.All(lib.Relocations.Where(r => r.Type == X86_64RelocationType.IRelative),
            r => Assert.InRange(r.Value, (ulong)lib.ReservedRange.Start, (ulong)lib.ReservedRange.End));
    }

    /// <summary>A library that calls a dependency's IFUNC (a JUMP_SLOT and an R_X86_64_64 against ifunc.so's
    /// <c>doubled</c>): the dependency is relocated first, so its resolver runs when the user's relocation first binds
    /// the symbol, once for the context, and both bindings hold the implementation it chose.</summary>
    [Fact]
    public void A_dependencys_ifunc_binds_to_the_resolvers_choice_once()
    {
        string directory = Directory.CreateTempSubdirectory("loader-ifunc-user-").FullName;
        try
        {
            File.Copy(Fixtures.Path("ifunc.so"), Path.Join(directory, "ifunc.so"));
            string source = Path.Join(directory, "ifunc_user.c"), user = Path.Join(directory, "libifunc_user.so");
            File.WriteAllText(source, """
                extern int doubled(int);
                int (*user_pointer)(int) = doubled;
                int call_user(int x) { return doubled(x); }
                """);
            var (code, _, err) = Oracles.ChildProcess.Run("gcc", ["-shared", "-fPIC", "-O1", "-o", user, source,
                Path.Join(directory, "ifunc.so"), "-Wl,--enable-new-dtags,-rpath,$ORIGIN"]);
            Assert.True(code == 0, $"gcc: {err}");
            Assert.Contains(Oracles.Readelf.Output("-rW", user).Split('\n'), l => l.Contains("R_X86_64_64") && l.Contains("doubled"));

            using var context = new LoaderContext();
            using var library = context.Load(user);
            var dependency = context.LoadedLibraries.Single(l => l.Module.Path.EndsWith("/ifunc.so", StringComparison.Ordinal));
            nint chosen = library.GetExport("doubled"); // through the user's scope: ifunc.so's, resolved
            Assert.Equal(14, ((delegate* unmanaged<int, int>)library.GetExport("call_user"))(7));
            Assert.Equal(chosen, *(nint*)library.GetExport("user_pointer"));
            Assert.Contains(library.Relocations, r => r.Symbol == "doubled" && r.Type == X86_64RelocationType.R64
                && r.DefinedBy!.Path == dependency.Module.Path && r.Value == (ulong)chosen);
            Assert.Equal(1, *(int*)library.GetExport("resolver_calls"));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void HostIfuncsBindToTheResolversChoice()
    {
        // libz calls memcpy/memset/strlen, which glibc implements as IFUNCs: they must bind to an implementation, not
        // to the resolver.
        using var zlib = new LoaderContext().Load("/usr/lib/x86_64-linux-gnu/libz.so.1");
        var memcpy = zlib.Relocations.FirstOrDefault(r => r.Symbol == "memcpy");
        Assert.NotNull(memcpy);
        Assert.True(memcpy.DefinedBy!.IsHost);
        var libc = NativeLibrary.Load("libc.so.6");
        Assert.Equal((ulong)NativeLibrary.GetExport(libc, "memcpy"), memcpy.Value); // glibc's dlsym resolves IFUNCs too
    }

    [Fact]
    public void ConstructorsAndDestructorsRunInGlibcsOrder()
    {
        var context = new LoaderContext();
        var ctors = context.Load(Fixtures.Path("linking/libctors.so"));
        Assert.Equal("log:init;init;ctor101;ctor102;ctor;array;", Native.String(((delegate* unmanaged<nint>)ctors.GetExport("log_text"))()));
        Assert.Equal(5, ((delegate* unmanaged<int>)ctors.GetExport("constructors_run"))());

        nint sink = (nint)NativeMemory.AllocZeroed(512);
        try
        {
            ((delegate* unmanaged<nint, nuint, void>)ctors.GetExport("set_fini_sink"))(sink, 512);
            ctors.Dispose();
            Assert.Empty(context.LoadedLibraries);
            Assert.Equal("log:init;init;ctor101;ctor102;ctor;array;array:fini;dtor;dtor102;dtor101;fini;log:fini;", Native.String(sink));
        }
        finally
        {
            NativeMemory.Free((void*)sink);
        }
    }

    [Fact]
    public void ALibraryStillNeededStaysLoadedAndItsFinalizersWait()
    {
        var context = new LoaderContext();
        var log = context.Load(Fixtures.Path("linking/libctors_log.so"));
        var ctors = context.Load(Fixtures.Path("linking/libctors.so"));
        Assert.Equal("log:init;init;ctor101;ctor102;ctor;array;", Native.String(((delegate* unmanaged<nint>)log.GetExport("log_text"))()));
        log.Dispose(); // still needed by libctors.so
        Assert.Equal(2, context.LoadedLibraries.Count);
        ctors.Dispose();
        Assert.Empty(context.LoadedLibraries);
    }

    [Fact]
    public void RunInitializersFalseLoadsAndRelocatesWithoutRunningThem()
    {
        var context = new LoaderContext();
        using var ctors = context.Load(Fixtures.Path("linking/libctors.so"), new LoadOptions { RunInitializers = false });
        Assert.Equal("", Native.String(((delegate* unmanaged<nint>)ctors.GetExport("log_text"))()));
        Assert.Equal(0, ((delegate* unmanaged<int>)ctors.GetExport("constructors_run"))());
        // Relocated all the same: the init array holds absolute addresses inside the image.
        Assert.Contains(ctors.Relocations, r => r.Type == X86_64RelocationType.Relative);
    }

    [Fact]
    public void WithoutResolversAndInitializersALibraryNeedingAResolverIsRefusedByName()
    {
        var options = new LoadOptions { RunInitializers = false, RunResolvers = false };
        var context = new LoaderContext();
        var e = Assert.Throws<RelocationException>(() => context.Load(Fixtures.Path("ifunc.so"), options));
        Assert.Contains("ifunc.so", e.Message, StringComparison.Ordinal);
        Assert.Contains("RunResolvers", e.Message, StringComparison.Ordinal);
        // The first resolver the relocation pass would run: an IRELATIVE entry as readelf lists it (offset, and the
        // resolver's offset as its addend), or the IFUNC symbol by name.
        var named = System.Text.RegularExpressions.Regex.Match(e.Message,
            @"R_X86_64_IRELATIVE at 0x(?<offset>[0-9a-f]+) \(resolver at base\+0x(?<resolver>[0-9a-f]+)\)|IFUNC 'doubled'");
        Assert.True(named.Success, e.Message);
        if (named.Groups["offset"].Success)
            Assert.Matches($@"(?m)^0*{named.Groups["offset"].Value} +0+25 R_X86_64_IRELATIVE +{named.Groups["resolver"].Value}$",
                Oracles.Readelf.Output("-rW", Fixtures.Path("ifunc.so")));
        Assert.Empty(context.LoadedLibraries);

        // A library that needs no resolver of its own loads, and none of its code has run.
        using var ctors = context.Load(Fixtures.Path("linking/libctors.so"), options);
        Assert.Equal(0, ((delegate* unmanaged<int>)ctors.GetExport("constructors_run"))());
    }

    [Fact]
    public void RelrIsApplied()
    {
        using var lib = new LoaderContext().Load(Fixtures.Path("relr.so"));
        Assert.Equal(0, ((delegate* unmanaged<int>)lib.GetExport("ring_mismatches"))());
        Assert.Equal(6, ((delegate* unmanaged<int>)lib.GetExport("call_functions"))());
        Assert.Equal(211, lib.Relocations.Count(r => r.Table == "DT_RELR"));
        Assert.DoesNotContain(lib.Relocations, r => r.Table != "DT_RELR" && r.Type == X86_64RelocationType.Relative);
    }

    [Fact]
    public void TheBssIsZeroAfterLinking()
    {
        using var dirty = new LoaderContext().Load(Fixtures.Path("dirty_bss_tail.so"));
        Assert.Equal(0u, (uint)((delegate* unmanaged<nuint>)dirty.GetExport("tail_nonzero_count"))());
        Assert.Equal(15, ((delegate* unmanaged<int>)dirty.GetExport("dirty_data_sum"))());
    }

    [Fact]
    public void A_tls_relocation_against_a_symbol_that_is_not_thread_local_is_refused_clearly()
    {
        // libtls.so's DTPMOD64/DTPOFF64 name tls_buffer; a copy whose tls_buffer is patched to STT_OBJECT makes a TLS
        // relocation against a plain variable, which no linker emits and no loader may apply.
        byte[] bytes = File.ReadAllBytes(Fixtures.Path("linking/libtls.so"));
        using (var elf = Loader.Elf.ElfFile.Parse(bytes, "libtls.so"))
        {
            var symbols = elf.DynamicSymbols!;
            int index = Enumerable.Range(1, symbols.Count - 1).Single(i => symbols.GetName(i) == "tls_buffer");
            ulong dynsym = elf.Sections.Single(s => s.Type == Loader.Elf.SectionType.DynSym).Offset;
            int info = checked((int)dynsym + index * 24 + 4);
            Assert.Equal((byte)Loader.Elf.SymbolType.Tls, (byte)(bytes[info] & 0xf));
            bytes[info] = (byte)((bytes[info] & 0xf0) | (byte)Loader.Elf.SymbolType.Object);
        }
        var context = new LoaderContext();
        var e = Assert.Throws<RelocationException>(() => context.Load(bytes, "libtls-patched.so"));
        Assert.Contains("libtls-patched.so", e.Message, StringComparison.Ordinal);
        Assert.Contains("R_X86_64_DTPMOD64", e.Message, StringComparison.Ordinal);
        Assert.Contains("'tls_buffer'", e.Message, StringComparison.Ordinal);
        Assert.Contains("not thread-local", e.Message, StringComparison.Ordinal);
        Assert.Empty(context.LoadedLibraries);
    }

    [Fact]
    public void EveryLoadableFixtureLinks()
    {
        foreach (var fixture in Fixtures.All.Where(f => f.IsLoadable))
        {
            var context = new LoaderContext();
            using var lib = context.Load(fixture.Path);
            Assert.False(lib.IsHost, fixture.Name);
            Assert.NotEmpty(lib.Relocations);
            Assert.All(lib.Relocations.Where(r => r.Symbol is not null && r.DefinedBy is null),
                r => Assert.Contains(r.Symbol!, new[] { "_ITM_deregisterTMCloneTable", "_ITM_registerTMCloneTable", "__gmon_start__", "weak_absent", "weak_absent_data" }));
        }
    }
}
