namespace Loader.Linking;

/// <summary>
/// Equality of addresses for the dictionaries keyed by one (resolver results, dlopen handles). The default comparer for
/// <see cref="nint"/> is made by the runtime on first use and its code compiled by the JIT; this one is compiled
/// ahead of time with the library (docs/benchmarks.md, "Cold start").
/// </summary>
internal sealed class AddressComparer : IEqualityComparer<nint>
{
    public static readonly AddressComparer Instance = new();

    public bool Equals(nint x, nint y) => x == y;

    public int GetHashCode(nint address) => ((long)address).GetHashCode();
}
