using Loader.Elf;

namespace Loader.Tests.Linking;

/// <summary><see cref="ElfLibrary.Explain"/> on a library loaded with <see cref="LoadOptions.RunResolvers"/> false: an
/// IFUNC of an image Loader mapped is explained (provider, type, st_value of its resolver) without running the
/// resolver, its address left at 0; with resolvers allowed, the same question gets the resolver's choice.</summary>
[Collection("AddressSpace")]
public sealed class ExplainWithoutResolversTests
{
    [Fact]
    public void An_ifunc_whose_resolver_may_not_run_is_explained_with_address_0()
    {
        using var context = new LoaderContext();
        using var library = context.Load(Fixtures.Path("linking/libctor_marker.so"), new LoadOptions { RunInitializers = false, RunResolvers = false });

        var explained = library.Explain("marked_ifunc");

        Assert.NotNull(explained.Provider);
        Assert.Equal(SymbolType.GnuIfunc, explained.Provider.Type);
        Assert.Equal("libctor_marker.so", explained.Provider.Module.Name);
        Assert.Equal(0, explained.Address);
    }

    [Fact]
    public void With_resolvers_allowed_the_same_ifunc_gets_its_resolvers_choice()
    {
        using var context = new LoaderContext();
        using var library = context.Load(Fixtures.Path("linking/libctor_marker.so"), new LoadOptions { RunInitializers = false });

        var explained = library.Explain("marked_ifunc");

        nint resolver = library.BaseAddress + (nint)explained.Provider!.Value;
        Assert.NotEqual(0, explained.Address);
        Assert.NotEqual(resolver, explained.Address);
        Assert.True(library.ReservedRange.Overlaps(explained.Address, explained.Address + 1), $"0x{explained.Address:x} is outside {library.ReservedRange}");
    }
}
