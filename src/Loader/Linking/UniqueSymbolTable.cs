using System.Runtime.CompilerServices;
using Loader.Elf;

namespace Loader.Linking;

/// <summary>
/// <c>STB_GNU_UNIQUE</c> definitions of one namespace: the first definition found for a name is the one every later
/// lookup of that name gets, from any library (glibc's <c>_ns_unique_sym_table</c>), until its module unloads.
/// </summary>
/// <remarks>
/// Keyed by the defining symbol itself (its module and index, whose name stays readable in the mapped image until the
/// module unloads and <see cref="Forget"/> drops it), not by a decoded string: a namespace holding many C++ libraries
/// has hundreds of these, with long mangled names, and would otherwise keep a copy of each (issue 14).
/// </remarks>
internal struct UniqueSymbolTable // a field of its namespace, not an object of its own
{
    private Dictionary<DefinedName, ResolvedSymbol>? _first; // made at the namespace's first STB_GNU_UNIQUE definition

    /// <summary>The definition this name already has in the namespace, or <paramref name="found"/>, which becomes it
    /// (<paramref name="entered"/> then true).</summary>
    /// <param name="name"><paramref name="found"/>'s name, as its module's symbol table has it.</param>
    /// <param name="found">The definition a lookup found.</param>
    /// <param name="entered">True when <paramref name="found"/> is the name's first definition, entered now.</param>
    public ResolvedSymbol Intern(ReadOnlySpan<byte> name, ResolvedSymbol found, out bool entered)
    {
        _first ??= new(DefinedName.SameName);
        var key = new DefinedName(found.Module, found.Index, GnuHashTable.Hash(name));
        entered = !_first.TryGetValue(key, out var first);
        if (!entered)
            return first;
        _first[key] = found;
        return found;
    }

    /// <summary>Forgets the definitions <paramref name="module"/> provided (it is unloading).</summary>
    public readonly void Forget(Module module)
    {
        if (_first is not null)
            ForgetIn(_first, module);
    }

    // Out of line: a method's types are loaded when it is first called, and every unload of a process's first library
    // calls Forget, C++ or not.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ForgetIn(Dictionary<DefinedName, ResolvedSymbol> first, Module module)
    {
        List<DefinedName>? gone = null;
        foreach (var (name, definition) in first)
            if (definition.Module == module || name.Module == module)
                (gone ??= []).Add(name);
        foreach (var name in gone ?? [])
            first.Remove(name);
    }

    /// <summary>A symbol's name, read where its module's table has it; equal to another when the bytes are.</summary>
    private readonly record struct DefinedName(Module Module, int Index, uint Hash)
    {
        public ReadOnlySpan<byte> Bytes => Module.Tables!.Symbols!.GetNameBytes(Index);

        public static readonly IEqualityComparer<DefinedName> SameName = new NameComparer();

        private sealed class NameComparer : IEqualityComparer<DefinedName>
        {
            public bool Equals(DefinedName x, DefinedName y) =>
                x.Hash == y.Hash && ((x.Module == y.Module && x.Index == y.Index) || x.Bytes.SequenceEqual(y.Bytes));

            public int GetHashCode(DefinedName name) => (int)name.Hash;
        }
    }
}
