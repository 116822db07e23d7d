using Loader.Elf;
using Loader.Linking;

namespace Loader.Cli.Commands;

/// <summary>
/// Which version of a name <c>loader bind</c> explains, and the rule that chose it: the one given; else the one the
/// library's own relocation against the name asks for (its DT_VERNEED entry, what <c>LD_DEBUG=bindings</c> shows);
/// else, when the library has no reference to it, the default version (<c>@@</c>) of the first module in its scope that
/// defines it (what <c>dlsym</c> returns).
/// </summary>
/// <param name="Version">The version to explain, or null for an unversioned reference.</param>
/// <param name="Rule">given, reference, default or unversioned.</param>
/// <param name="Reason">The rule in a sentence.</param>
/// <param name="Others">Other versions the library's relocations ask for the same name (<c>@VERS_1</c>).</param>
internal sealed record VersionChoice(string? Version, string Rule, string Reason, List<string> Others)
{
    public static VersionChoice For(ElfLibrary library, string name, string? given)
    {
        string self = library.Module.Name;
        if (given is not null)
            return new VersionChoice(given, "given", "the version given", []);

        var references = new List<string?>();
        foreach (var r in library.Relocations)
            if (r.Symbol == name && !references.Contains(r.Version))
                references.Add(r.Version);
        if (references.Count > 0)
        {
            string? version = references[0];
            var others = references.Skip(1).Select(v => v is null ? "(unversioned)" : "@" + v).ToList();
            return version is null
                ? new VersionChoice(null, "reference", $"{self}'s relocation against {name} asks for no version: the base or oldest definition (glibc's check_match)", others)
                : new VersionChoice(version, "reference", $"the version {self}'s DT_VERNEED asks for in its relocation against {name}", others);
        }

        var first = library.Explain(name).Provider;
        if (first is null)
            return new VersionChoice(null, "unversioned", $"no reference in {self}, and no module in its scope defines {name}", []);
        string? defaultVersion = DefaultVersion(first.Module.Path, name);
        return defaultVersion is null
            ? new VersionChoice(null, "unversioned", $"no reference in {self}: {first.Module.Name}, the first module that defines {name}, has no default (@@) version of it", [])
            : new VersionChoice(defaultVersion, "default", $"no reference in {self}: the default version (@@) of {first.Module.Name}, the first module in its scope that defines {name}", []);
    }

    /// <summary>The <c>@@</c> version of <paramref name="name"/> in the file at <paramref name="path"/>, read from the
    /// file (a host library's too), or null.</summary>
    private static string? DefaultVersion(string path, string name)
    {
        using var file = ElfFile.Open(path);
        if (file.DynamicSymbols is not { } symbols)
            return null;
        for (int i = 1; i < symbols.Count; i++)
        {
            if (symbols[i].IsUndefined || symbols.GetName(i) != name)
                continue;
            var version = file.GetSymbolVersion(i);
            if (version.Kind == SymbolVersionKind.Default)
                return version.Name;
        }
        return null;
    }
}
