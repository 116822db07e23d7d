namespace Loader.Cli.Commands;

/// <summary>What <c>loader bind FILE SYMBOL</c> prints.</summary>
/// <param name="RequestedVersion">The version explained (given, or chosen by <paramref name="VersionRule"/>), or null.</param>
/// <param name="VersionRule">Why that version: <c>given</c>, <c>reference</c> (what the library's relocation asks
/// for), <c>default</c> (no reference: the provider's <c>@@</c> version) or <c>unversioned</c>.</param>
/// <param name="VersionReason">The same, in a sentence.</param>
/// <param name="OtherReferences">Other versions the library's relocations ask for the same name.</param>
/// <param name="Provider">The module that provides it (its soname or file name), or null.</param>
/// <param name="Address">The address a relocation gets (an IFUNC's target), or null: nothing provides it, or an IFUNC
/// whose resolver was not run.</param>
/// <param name="Offset">Address − the provider's base.</param>
/// <param name="Resolver">For an IFUNC, its resolver's address (provider base + st_value); null otherwise.</param>
/// <param name="ResolverRun">For an IFUNC: <c>host</c> when its resolver is a host library's code (run, as for the host's
/// own relocations: <paramref name="Address"/> is its choice), <c>not run</c> for a resolver in a library Loader mapped
/// (bind runs none of their code: <paramref name="Address"/> is null); null for anything else.</param>
internal sealed record BindReport(string Symbol, string? RequestedVersion, string VersionRule, string VersionReason, List<string> OtherReferences,
    string RequestedBy, string RequestedByPath, bool DeepBind,
    string? Provider, string? ProviderPath, string? Version, ulong? Address, ulong? Offset, string? Type, ulong? Resolver, string? ResolverRun,
    List<BindProbe> Scope);

/// <summary>One module of the scope and what it has for the name.</summary>
/// <param name="Scope">global or local.</param>
/// <param name="Origin">host or loaded.</param>
/// <param name="Version">The definition's version (<c>@@VERS_2</c>), empty when unversioned.</param>
/// <param name="Binds">True for the one the reference binds to.</param>
internal sealed record BindProbe(int Index, string Scope, string Module, string Path, string Origin, ulong BaseAddress, bool Defines,
    string? Type, string? Binding, string? Version, ulong? Value, bool Binds);

/// <summary>What <c>loader bind FILE --all</c> prints: every symbol the library's relocations bind, as
/// <c>LD_DEBUG=bindings</c> shows them.</summary>
/// <param name="Unresolved">Weak references no module defines (bound to 0).</param>
internal sealed record BindAllReport(string File, string Name, List<BoundSymbol> Symbols, int Providers, int Unresolved);

/// <summary>One symbol (and version) the library's relocations name, and what it bound to.</summary>
/// <param name="Version">The version the reference asks for (DT_VERNEED, or DT_VERDEF for its own symbol), or null.</param>
/// <param name="Provider">The module that defines it (soname or file name); null for an unresolved weak reference.</param>
/// <param name="Address">The symbol's address as written by a GLOB_DAT, JUMP_SLOT or R_X86_64_64 relocation (an IFUNC's
/// target); null when only other types (TLS) name it or it is unresolved.</param>
/// <param name="Type">FUNC, OBJECT, IFUNC, TLS… of the definition, or null.</param>
/// <param name="Resolver">For an IFUNC, its resolver's address; null otherwise.</param>
/// <param name="Relocations">How many relocations name it, and their types.</param>
internal sealed record BoundSymbol(string Symbol, string? Version, string? Provider, string? ProviderPath, string? ProviderOrigin, ulong? Address,
    ulong? Offset, string? Type, ulong? Resolver, int Relocations, List<string> RelocationTypes);
