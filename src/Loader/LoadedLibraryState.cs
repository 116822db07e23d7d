using Loader.Linking;

namespace Loader;

/// <summary>A library loaded in a context and how many references keep it loaded.</summary>
/// <param name="Module">The module.</param>
/// <param name="ReferenceCount">Handles plus the DT_NEEDED edges of other loaded libraries that point at it, and their
/// relocation dependencies on it (a library whose relocations bound to this one outside its DT_NEEDED tree, as glibc's
/// l_reldeps).</param>
public sealed record LoadedLibraryState(ModuleInfo Module, int ReferenceCount)
{
    /// <summary>Kept loaded until its context is disposed, whatever its reference count: <c>DF_1_NODELETE</c>,
    /// <see cref="LoadOptions.NoDelete"/>, or an <c>STB_GNU_UNIQUE</c> symbol it defines that its context entered (as
    /// glibc's <c>dlclose</c> keeps such a library).</summary>
    public bool NoDelete { get; init; }
}
