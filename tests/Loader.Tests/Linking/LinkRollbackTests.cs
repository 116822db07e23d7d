using Loader.Tests.Mapping;

namespace Loader.Tests.Linking;

/// <summary>A load that fails while linking — a missing dependency, an undefined symbol, a refused relocation —
/// leaves /proc/self/maps and /proc/self/fd as they were, for the library and every dependency it had mapped.</summary>
[Collection("AddressSpace")]
public sealed class LinkRollbackTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("loader-link-rollback-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Copy(string fixture, string relative)
    {
        string target = Path.Combine(_dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        File.Copy(Fixtures.Path(fixture), target);
        return target;
    }

    private static void AssertFailsAndLeavesNothing<TException>(string path, string[] involved, string expected)
        where TException : LoaderException
    {
        var before = AddressSpaceSnapshot.Take();
        var context = new LoaderContext();
        var e = Assert.Throws<TException>(() => context.Load(path, new LoadOptions { LdLibraryPath = "" }));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.Empty(context.LoadedLibraries);
        foreach (string file in involved)
            before.AssertNothingLeft(null, file, []);
    }

    [Fact]
    public void AMissingDependencyDeepInTheTree()
    {
        string a = Copy("chain/libchain_a.so", "libchain_a.so");
        string b = Copy("chain/lib/libchain_b.so", "lib/libchain_b.so"); // lib/deep/libchain_c.so is missing
        AssertFailsAndLeavesNothing<LibraryNotFoundException>(a, [a, b], "libchain_c.so");
    }

    [Fact]
    public void AnUndefinedSymbolNamesItselfItsVersionAndTheLibraryThatNeedsIt()
    {
        string user = Copy("linking/libinterpose_user.so", "libinterpose_user.so");
        string first = Copy("linking/libinterpose_first.so", "libinterpose_first.so");
        string second = Copy("linking/libinterpose_first.so", "libinterpose_second.so"); // has no second_only
        AssertFailsAndLeavesNothing<SymbolNotFoundException>(user, [user, first, second], "'second_only'");
        var e = Assert.Throws<SymbolNotFoundException>(() => new LoaderContext().Load(user));
        Assert.Equal("second_only", e.Symbol);
        Assert.Equal(user, e.RequestedBy);
        Assert.Contains(user, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ARefusedRelocation()
    {
        // Refused after its TLS carrier was offered to glibc: the carrier's memfd must be closed too.
        string tls = Copy("tls/libtls_ie_huge.so", "libtls_ie_huge.so");
        AssertFailsAndLeavesNothing<LoaderException>(tls, [tls], "cannot allocate memory in static TLS block");
    }

    [Fact]
    public void UnloadingLeavesNothing()
    {
        var before = AddressSpaceSnapshot.Take();
        string a = Copy("chain/libchain_a.so", "libchain_a.so");
        string b = Copy("chain/lib/libchain_b.so", "lib/libchain_b.so");
        string c = Copy("chain/lib/deep/libchain_c.so", "lib/deep/libchain_c.so");
        var context = new LoaderContext();
        var library = context.Load(a);
        var ranges = context.LoadedLibraries.Select(l => l.Module.BaseAddress).ToList();
        Assert.Equal(3, ranges.Count);
        library.Dispose();
        Assert.Empty(context.LoadedLibraries);
        foreach (string file in new[] { a, b, c })
            before.AssertNothingLeft(null, file, []);
    }
}
