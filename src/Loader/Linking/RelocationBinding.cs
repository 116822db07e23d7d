using Loader.Elf;

namespace Loader.Linking;

/// <summary>
/// The definition a relocation against one of a module's dynamic symbols binds to, by glibc's rules: the library
/// itself for a local symbol, a protected or hidden definition, or any definition of a DT_SYMBOLIC library (a
/// default-visibility <c>STB_GNU_UNIQUE</c> one still through the namespace's unique table); otherwise the first
/// match in the module's relocation scope (<see cref="SymbolLookup"/>). The relocator asks it once per symbol index
/// while it loads; <see cref="AppliedRelocations"/> asks it again when the list is wanted, so a loaded module keeps
/// no per-symbol record of what bound where. The scope is fixed once the module is loaded and every unique symbol
/// it bound is already interned, so the second answer is the first one.
/// </summary>
internal static class RelocationBinding
{
    /// <returns>False when nothing in scope defines the symbol (<paramref name="found"/> is then default).</returns>
    public static bool TryFind(Module module, int symbolIndex, ModuleNamespace space, out ResolvedSymbol found)
    {
        var tables = module.Tables!;
        var symbols = tables.Symbols!;
        var reference = symbols[symbolIndex];
        bool self = reference.Binding == SymbolBinding.Local
            || (!reference.IsUndefined && (reference.Visibility != SymbolVisibility.Default || module.Symbolic));
        if (self)
        {
            found = new ResolvedSymbol(module, symbolIndex, reference);
            if (reference.Binding == SymbolBinding.GnuUnique && reference.Visibility == SymbolVisibility.Default)
                found = space.Unique(found);
            return true;
        }
        var nameBytes = symbols.NameBytesAt(reference.NameOffset, out uint gnuHash); // the entry read once, above
        var name = new SymbolName(nameBytes, gnuHash);
        // The global part starts at its first module that may define the name, or is skipped when its filter shows
        // none does (GlobalScopeFilter): the modules passed over define no name with this hash.
        var scope = module.Scope!;
        var global = scope.GlobalCandidates(name.GnuHash);
        // Most of a large library's references are to its own exports: when no global module can define the name and
        // the module comes first in its local scope, the lookup's answer is the referencing entry itself whenever the
        // hash chain offers it first (SymbolLookup.FindsOwnDefinition), without running the matcher over it — or
        // making the version request the matcher needs (out of line, below, with its copies).
        if (!scope.DeepBind && global.IsEmpty && scope.Second.Length > 0 && scope.Second[0] == module
            && SymbolLookup.FindsOwnDefinition(module, symbolIndex, reference, name.GnuHash))
        {
            found = new ResolvedSymbol(module, symbolIndex, reference);
            if (reference.Binding == SymbolBinding.GnuUnique)
                found = space.Unique(found);
            return true;
        }
        return LookUp(module, symbolIndex, !reference.IsUndefined, name, global, space, out found);
    }

    /// <summary>The scope's lookup for a reference <see cref="TryFind"/> did not answer itself.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static bool LookUp(Module module, int symbolIndex, bool isDefined, scoped in SymbolName name,
        ReadOnlySpan<Module> global, ModuleNamespace space, out ResolvedSymbol found)
    {
        var version = VersionRequest.Relocation(module.Tables!, symbolIndex, isDefined);
        var scope = module.Scope!;
        if (scope.GlobalMemo is { } memo && !global.IsEmpty)
        {
            // The shared global part, searched first: what a lookup found there before is its answer now.
            var versionName = version.HasNameBytes ? version.NameTable.GetBytes(version.NameOffset) : default;
            if (memo.TryFind(name, versionName, version.HasNameBytes, out found))
                return true;
            if (SymbolLookup.Lookup(global, name, version, space, out found))
            {
                memo.Remember(name, versionName, version.HasNameBytes, found);
                return true;
            }
            return SymbolLookup.Lookup(scope.Second, name, version, space, out found);
        }
        return scope.DeepBind
            ? SymbolLookup.Lookup(scope.First, name, version, space, out found)
                || SymbolLookup.Lookup(global, name, version, space, out found)
            : SymbolLookup.Lookup(global, name, version, space, out found)
                || SymbolLookup.Lookup(scope.Second, name, version, space, out found);
    }
}
