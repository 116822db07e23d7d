using Loader.Elf;
using Loader.Linking;
using Loader.Tests.Oracles;
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

    /// <summary>The search's check accepts libchain_b (its ELF header is sound) and hands its open descriptor to the
    /// mapper, which refuses the program headers: the descriptor is closed with the rollback.</summary>
    [Fact]
    public void A_dependency_the_search_accepted_and_the_mapper_refused()
    {
        string a = Copy("chain/libchain_a.so", "libchain_a.so");
        string b = Copy("chain/lib/libchain_b.so", "lib/libchain_b.so");
        byte[] bytes = File.ReadAllBytes(b);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(0x20), 0x7fff_0000); // e_phoff past the end
        File.WriteAllBytes(b, bytes);
        var before = AddressSpaceSnapshot.Take();
        var e = Assert.ThrowsAny<LoaderException>(() => new LoaderContext().Load(a, new LoadOptions { LdLibraryPath = "" }));
        Assert.Contains(b, e.Message, StringComparison.Ordinal);
        foreach (string file in new[] { a, b })
            before.AssertNothingLeft(null, file, []);
    }

    /// <summary>libchain_b without a DT_SONAME, loaded by its path first: libchain_a's DT_NEEDED then finds it only by
    /// searching, and the path the search found is the module the context has — reused, and the descriptor the search
    /// opened for it closed.</summary>
    [Fact]
    public void A_dependency_the_search_found_at_a_path_the_context_has_loaded()
    {
        string a = Copy("chain/libchain_a.so", "libchain_a.so");
        string b = Path.Combine(_dir, "lib/libchain_b.so");
        Directory.CreateDirectory(Path.GetDirectoryName(b)!);
        byte[] bytes = File.ReadAllBytes(Fixtures.Path("chain/lib/libchain_b.so"));
        using (var elf = ElfFile.Parse(bytes.ToArray(), "libchain_b.so"))
            ElfPatch.EditDynamic(bytes, elf, (tag, value) =>
                tag == (long)DynamicTag.SoName ? ((long)DynamicTag.Debug, 0) : (tag, value));
        File.WriteAllBytes(b, bytes);
        Copy("chain/lib/deep/libchain_c.so", "lib/deep/libchain_c.so");
        var before = AddressSpaceSnapshot.Take();
        using var context = new LoaderContext();
        using var first = context.Load(b);
        Assert.Null(first.Module.SoName);
        using var root = context.Load(a, new LoadOptions { LdLibraryPath = "" });
        var dependency = Assert.Single(root.Dependencies, d => d.Needed == "libchain_b.so");
        Assert.Equal(DependencySource.Reused, dependency.Source);
        Assert.Equal(first.Module.BaseAddress, dependency.Module.BaseAddress);
        Assert.Contains(dependency.Attempts, t => t.Path == b && t.Outcome == SearchAttempt.Found);
        Assert.Equal(3, context.LoadedLibraries.Count);
        Assert.DoesNotContain(ProcFds.Targets(), t => t == b || t == a);
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

    /// <summary>
    /// The dependency (-Bsymbolic) is relocated first and puts its <c>Counter&lt;int&gt;::value</c> in the context's
    /// unique-symbol table; then the root is refused (DT_TEXTREL) and both are unmapped. The table must forget that
    /// definition with them: a later load that defines the same name gets its own copy, not the unmapped one (and the
    /// table, which reads a definition's name in its image, does not read the unmapped image).
    /// </summary>
    [Fact]
    public void A_unique_symbol_a_rolled_back_load_interned_is_forgotten_with_it()
    {
        Copy("binding/libbind_unique_symdep.so", "libbind_unique_symdep.so");
        byte[] bytes = File.ReadAllBytes(Fixtures.Path("binding/libbind_unique_root.so"));
        using (var elf = ElfFile.Parse(bytes.ToArray(), "libbind_unique_root.so"))
            ElfPatch.EditDynamic(bytes, elf, (tag, value) =>
                tag == (long)DynamicTag.RelaCount ? ((long)DynamicTag.TextRel, 0) : (tag, value));
        string root = Path.Combine(_dir, "libbind_unique_root.so");
        File.WriteAllBytes(root, bytes);
        using var context = new LoaderContext();
        var refused = Assert.Throws<RelocationException>(() => context.Load(root));
        Assert.Contains("DT_TEXTREL", refused.Message, StringComparison.Ordinal);
        Assert.Empty(context.LoadedLibraries);

        using var a = context.Load(Copy("binding/libbind_unique_a.so", "libbind_unique_a.so"));
        nint value = a.GetExport("_ZN7CounterIiE5valueE");
        Assert.True(a.ReservedRange.Overlaps(value, value + 1),
            $"Counter<int>::value at 0x{value:x}, outside libbind_unique_a.so's image [0x{a.ReservedRange.Start:x}, 0x{a.ReservedRange.End:x})");
    }
}
