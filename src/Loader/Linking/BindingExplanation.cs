using Loader.Elf;

namespace Loader.Linking;

/// <summary>Which part of a scope a module belongs to.</summary>
public enum ScopePart
{
    /// <summary>The global scope: the host's runtime libraries, in the host's load order.</summary>
    Global,

    /// <summary>The local scope: the library, then its DT_NEEDED tree breadth-first.</summary>
    Local,
}

/// <summary>What one module of the scope said when asked for a symbol.</summary>
/// <param name="Module">The module searched.</param>
/// <param name="Part">Global or local scope.</param>
/// <param name="Defines">True when it has a definition that matches (name, version, binding, visibility).</param>
/// <param name="Version">The version of that definition (<c>@@VERS_2</c>), or none.</param>
/// <param name="Binding">STB_GLOBAL, STB_WEAK or STB_GNU_UNIQUE of the definition.</param>
/// <param name="Type">Its symbol type (STT_GNU_IFUNC for an IFUNC).</param>
/// <param name="Value">st_value of the definition (link-time), or 0.</param>
public sealed record ScopeProbe(ModuleInfo Module, ScopePart Part, bool Defines, SymbolVersion Version, SymbolBinding Binding, SymbolType Type, ulong Value);

/// <summary>
/// How a reference to one symbol from a library binds, as <c>LD_DEBUG=bindings</c> would show it for that name: the
/// scope in the order searched, what each module had, and the winner (the first that defines it).
/// </summary>
/// <param name="Symbol">The name asked for.</param>
/// <param name="RequestedVersion">The version asked for, or null (an unversioned reference binds to the base or
/// oldest version, as glibc's <c>check_match</c>).</param>
/// <param name="RequestedBy">The library the reference is from.</param>
/// <param name="DeepBind">True when the local scope was searched before the global one.</param>
/// <param name="Scope">Every module of the scope, in search order, with what it had.</param>
/// <param name="Provider">The probe that won, or null when no module defines it.</param>
/// <param name="Address">The address a relocation would use (the resolver's result for an IFUNC), or 0: when nothing
/// defines it, and for an IFUNC of a library loaded with <see cref="LoadOptions.RunResolvers"/> false, whose resolver is
/// not run (its address is the provider's base + <see cref="ScopeProbe.Value"/>).</param>
public sealed record BindingExplanation(
    string Symbol, string? RequestedVersion, ModuleInfo RequestedBy, bool DeepBind, IReadOnlyList<ScopeProbe> Scope, ScopeProbe? Provider, nint Address)
{
    /// <summary>True when a module defines it.</summary>
    public bool Found => Provider is not null;
}
