using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// Relocations against a library's own exports, which the relocator binds without a lookup when the hash chain offers
/// the referencing entry first (<c>SymbolLookup.FindsOwnDefinition</c>), and through the lookup when an entry with the
/// same GNU hash comes before it (<c>self_refs.so</c>: <c>Ab</c>/<c>BA</c>, <c>Ac</c>/<c>BB</c>,
/// <c>Ad_data</c>/<c>BC_data</c>, and <c>twice@VERS_1</c> before the default <c>twice@@VERS_2</c>). Every relocation's
/// value is also compared with glibc's by <see cref="GlibcDifferentialTests"/>, which loads every fixture.
/// </summary>
public sealed class SelfReferenceTests
{
    [Fact]
    public unsafe void Each_reference_binds_to_the_definition_glibc_binds_it_to()
    {
        string path = Fixtures.Path("self_refs.so");
        using var ours = new LoaderContext().Load(path);
        nint handle = Glibc.Open(path);
        Assert.True(handle != 0, Glibc.LastError());
        try
        {
            // What each slot of the library's own tables holds, as an offset into the library: glibc's and Loader's.
            foreach (var (table, count) in new[] { ("self_functions", 5), ("self_data", 2) })
            {
                nint mine = ours.GetExport(table), theirs = Glibc.Symbol(handle, table);
                for (int i = 0; i < count; i++)
                {
                    long ourOffset = *(long*)(mine + i * 8) - ours.BaseAddress;
                    long theirOffset = *(long*)(theirs + i * 8) - Glibc.LoadBias(handle);
                    Assert.True(ourOffset == theirOffset, $"{table}[{i}]: Loader +0x{ourOffset:x}, glibc +0x{theirOffset:x}");
                }
            }
            // twice is twice@@VERS_2 (20), not twice@VERS_1 (10), though VERS_1's entry comes first in the chain.
            var twiceSlot = *(delegate* unmanaged<int>*)(ours.GetExport("self_functions") + 4 * 8);
            Assert.Equal(20, twiceSlot());
            Assert.Equal(41, ((delegate* unmanaged<int>)ours.GetExport("call_all"))());
            Assert.Equal(41, ((delegate* unmanaged<int>)Glibc.Symbol(handle, "call_all"))());
        }
        finally
        {
            Assert.Equal(0, Glibc.Close(handle));
        }
    }
}
