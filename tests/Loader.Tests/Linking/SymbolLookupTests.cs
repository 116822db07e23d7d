using System.Text;
using Loader.Elf;
using Loader.Linking;

namespace Loader.Tests.Linking;

/// <summary>The lookup itself: glibc's check_match rules, both hash tables agreeing, and no allocation per lookup.</summary>
public sealed class SymbolLookupTests
{
    private static int Find(ElfLibrary lib, string name, VersionRequest version) =>
        SymbolLookup.FindInModule(lib.LoadedModule, new SymbolName(Encoding.UTF8.GetBytes(name)), version);

    [Fact]
    public void GnuAndSysvHashTablesFindTheSameSymbols()
    {
        var context = new LoaderContext();
        using var gnu = context.Load(Fixtures.Path("hash_gnu.so"));
        using var sysv = context.Load(Fixtures.Path("hash_sysv.so"));
        using var both = context.Load(Fixtures.Path("hash_both.so"));
        Assert.Null(sysv.LoadedModule.Tables!.GnuHash);
        Assert.Null(gnu.LoadedModule.Tables!.SysvHash);
        foreach (string name in new[] { "add", "scale", "greeting", "counter", "colors", "format_to", "apply", "use_hidden" })
        {
            int g = Find(gnu, name, default), s = Find(sysv, name, default), b = Find(both, name, default);
            Assert.True(g > 0 && s > 0 && b > 0, name);
            Assert.Equal(gnu.LoadedModule.Tables!.Symbols!.GetName(g), sysv.LoadedModule.Tables!.Symbols!.GetName(s));
        }
        foreach (string name in new[] { "hidden_helper", "internal_only", "nonexistent", "printf" })
        {
            Assert.Equal(-1, Find(gnu, name, default));
            Assert.Equal(-1, Find(sysv, name, default));
        }
    }

    [Fact]
    public void VersionsFollowCheckMatch()
    {
        using var lib = new LoaderContext().Load(Fixtures.Path("versioned.so"));
        var tables = lib.LoadedModule.Tables!;
        string VersionOf(int index) => tables.GetSymbolVersion(index).Name!;
        // dlsym: the default version; a relocation without a version: the base or oldest (index <= 2).
        Assert.Equal("VERS_2", VersionOf(Find(lib, "compute", VersionRequest.Export(null))));
        Assert.Equal("VERS_1", VersionOf(Find(lib, "compute", new VersionRequest(null, false, false))));
        Assert.Equal("VERS_1", VersionOf(Find(lib, "compute", VersionRequest.Export("VERS_1"))));
        Assert.Equal(-1, Find(lib, "compute", VersionRequest.Export("VERS_9")));
        // A symbol defined in one version only is found unversioned either way (the only non-hidden version).
        Assert.True(Find(lib, "modern_only", new VersionRequest(null, false, false)) > 0);
    }

    [Fact]
    public void ALookupThroughTheWholeScopeAllocatesNothing()
    {
        using var lib = new LoaderContext().Load(Fixtures.Path("basic.so"));
        var module = lib.LoadedModule;
        var name = Encoding.UTF8.GetBytes("vsnprintf");
        var version = new VersionRequest("GLIBC_2.2.5", false, false);
        Assert.True(Lookup(module, name, version, lib.Context));
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
            Lookup(module, name, version, lib.Context);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private static bool Lookup(Module module, byte[] name, VersionRequest version, LoaderContext context) =>
        SymbolLookup.Lookup(module.Scope!.First, new SymbolName(name), version, context.Namespace, out _)
        || SymbolLookup.Lookup(module.Scope!.Second, new SymbolName(name), version, context.Namespace, out _);
}
