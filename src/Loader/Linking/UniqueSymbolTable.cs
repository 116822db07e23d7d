using System.Text;

namespace Loader.Linking;

/// <summary>
/// <c>STB_GNU_UNIQUE</c> definitions of one namespace: the first definition found for a name is the one every later
/// lookup of that name gets, from any library (glibc's <c>_ns_unique_sym_table</c>), until its module unloads.
/// </summary>
internal struct UniqueSymbolTable // a field of its namespace, not an object of its own
{
    private Dictionary<string, ResolvedSymbol>? _first; // made at the namespace's first STB_GNU_UNIQUE definition

    /// <summary>The definition this name already has in the namespace, or <paramref name="found"/>, which becomes it.</summary>
    public ResolvedSymbol Intern(ReadOnlySpan<byte> name, ResolvedSymbol found)
    {
        string key = Encoding.UTF8.GetString(name);
        _first ??= new(StringComparer.Ordinal);
        if (_first.TryGetValue(key, out var first))
            return first;
        _first[key] = found;
        return found;
    }

    /// <summary>Forgets the definitions <paramref name="module"/> provided (it is unloading).</summary>
    public void Forget(Module module)
    {
        if (_first is null)
            return;
        List<string>? gone = null;
        foreach (var (name, definition) in _first)
            if (definition.Module == module)
                (gone ??= []).Add(name);
        foreach (string name in gone ?? [])
            _first.Remove(name);
    }
}
