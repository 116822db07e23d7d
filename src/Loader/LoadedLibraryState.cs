using Loader.Linking;

namespace Loader;

/// <summary>A library loaded in a context and how many references keep it loaded.</summary>
/// <param name="Module">The module.</param>
/// <param name="ReferenceCount">Handles plus the DT_NEEDED edges of other loaded libraries that point at it.</param>
public sealed record LoadedLibraryState(ModuleInfo Module, int ReferenceCount);
