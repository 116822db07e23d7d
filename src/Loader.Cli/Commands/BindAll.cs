using Loader.Cli.Rendering;
using Loader.Elf;
using Loader.Linking;

namespace Loader.Cli.Commands;

/// <summary>
/// <c>loader bind FILE --all</c>: every symbol the library's relocations bound, once per name and version, in table
/// order — the symbol, the version it asks for, the module that provides it, the address — what glibc's
/// <c>LD_DEBUG=bindings</c> prints while <c>dlopen</c> relocates it. Read from <see cref="ElfLibrary.Relocations"/>
/// (what the load really did), the definition's type from <see cref="ElfLibrary.Explain"/>.
/// </summary>
internal static class BindAll
{
    public static int Run(TextWriter stdout, TextWriter stderr, string path, bool json)
    {
        int failed = BindCommand.Inspect(path, stderr, Build, out BindAllReport report);
        if (failed != ExitCodes.Success)
            return failed;

        if (json)
            CliJsonContext.Write(stdout, report, CliJsonContext.Default.BindAllReport);
        else
            BindAllText.Write(stdout, report);
        return ExitCodes.Success;
    }

    internal static BindAllReport Build(ElfLibrary library)
    {
        var groups = new Dictionary<(string, string?), List<AppliedRelocation>>();
        var order = new List<(string Symbol, string? Version)>();
        foreach (var r in library.Relocations)
        {
            if (r.Symbol is null)
                continue;
            var key = (r.Symbol, r.Version);
            if (!groups.TryGetValue(key, out var list))
            {
                groups[key] = list = [];
                order.Add(key);
            }
            list.Add(r);
        }

        var symbols = new List<BoundSymbol>();
        foreach (var key in order)
        {
            var relocations = groups[key];
            var definedBy = relocations[0].DefinedBy;
            var addressed = relocations.FirstOrDefault(r => r.Type is X86_64RelocationType.GlobDat or X86_64RelocationType.JumpSlot)
                ?? relocations.FirstOrDefault(r => r.Type == X86_64RelocationType.R64);
            ulong? address = definedBy is null ? null : addressed?.Value;
            var definition = definedBy is null ? null : Definition(library, key.Symbol, key.Version, definedBy);
            bool ifunc = definition?.Type == SymbolType.GnuIfunc;
            symbols.Add(new BoundSymbol(key.Symbol, key.Version, definedBy?.Name, definedBy?.Path,
                definedBy is null ? null : definedBy.IsHost ? "host" : "loaded", address,
                address is { } a ? a - (ulong)definedBy!.BaseAddress : null,
                definition is null ? null : ElfNames.SymbolType(definition.Type),
                ifunc ? (ulong)definedBy!.BaseAddress + definition!.Value : null,
                relocations.Count, relocations.Select(r => RelocationTypeNames.Name(ElfMachine.X86_64, (uint)r.Type)).Distinct().ToList()));
        }
        return new BindAllReport(library.Path, library.Module.Name, symbols,
            symbols.Where(s => s.Provider is not null).Select(s => s.ProviderPath).Distinct().Count(), symbols.Count(s => s.Provider is null));
    }

    /// <summary>What <paramref name="definedBy"/> defines for the name: its probe in the library's scope (type, st_value).
    /// Null when it is not in the scope's answer (a reference bound to the library itself by DT_SYMBOLIC or protected
    /// visibility is still found: the library is in its own scope).</summary>
    private static ScopeProbe? Definition(ElfLibrary library, string symbol, string? version, ModuleInfo definedBy)
    {
        try
        {
            return library.Explain(symbol, version).Scope.FirstOrDefault(p => p.Defines && p.Module == definedBy);
        }
        catch (RelocationException)
        {
            return null; // an IFUNC in an image Loader mapped, whose resolver may not run: the relocation already says where it bound
        }
    }
}
