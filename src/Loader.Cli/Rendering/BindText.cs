using System.Globalization;
using Loader.Cli.Commands;

namespace Loader.Cli.Rendering;

/// <summary><c>loader bind FILE SYMBOL</c> for people: the answer, the rule that chose the version, then the scope as a
/// table in search order.</summary>
internal static class BindText
{
    public static void Write(TextWriter stdout, BindReport report)
    {
        string asked = report.RequestedVersion is null ? $"'{report.Symbol}' (unversioned: the base or only version)" : $"'{report.Symbol}@{report.RequestedVersion}'";
        stdout.WriteLine($"A reference to {asked} from {report.RequestedBy} ({report.RequestedByPath})");
        if (report.Provider is not null && report.Address is null)
            stdout.WriteLine($"binds to {report.Provider} ({report.Type} {report.Symbol}{report.Version}), at the address its resolver would choose");
        else if (report.Provider is not null)
            stdout.WriteLine($"binds to {report.Provider} at 0x{report.Address:x} = {report.Provider}+0x{report.Offset:x} ({report.Type} {report.Symbol}{report.Version})");
        else
            stdout.WriteLine("binds to nothing: no module in the scope defines it.");
        stdout.WriteLine($"Version: {report.VersionReason}.");
        if (report.OtherReferences.Count > 0)
            stdout.WriteLine($"{report.RequestedBy} also references {report.Symbol} as {string.Join(", ", report.OtherReferences)}: give the version to see that binding.");
        if (report.Resolver is { } resolver)
        {
            ulong providerBase = report.Scope.First(p => p.Binds).BaseAddress;
            string at = $"IFUNC: its resolver is at 0x{resolver:x} ({report.Provider}+0x{resolver - providerBase:x})";
            stdout.WriteLine(report.ResolverRun == "host"
                ? $"{at}, host code (Loader runs a host library's resolvers as glibc does for the host); it chose 0x{report.Address:x}. No code of {report.RequestedBy} ran."
                : $"{at}. The resolver was NOT run: loader bind runs no code of the libraries it loads, so the address it would choose is not known.");
        }
        stdout.WriteLine();
        stdout.WriteLine(report.DeepBind
            ? "The scope, in search order (DeepBind: the library and its dependencies first, then the host's global scope):"
            : "The scope, in search order (glibc's dlopen RTLD_LOCAL: the host's global scope, then the library and its dependencies breadth-first):");
        var table = new TextTable(new Column("#", Align.Right), new Column("scope"), new Column("module"), new Column("from"),
            new Column("defines"), new Column("version"), new Column("")) { Indent = 2 };
        bool bound = false;
        foreach (var p in report.Scope)
        {
            string definition = p.Defines ? $"{p.Type} {p.Binding} st_value 0x{p.Value:x}" : "-";
            string note = p.Binds ? "<- binds here (first in scope order)"
                : p.Defines && bound ? $"also defines it; {report.Provider} comes first"
                : "";
            bound |= p.Binds;
            table.Add(p.Index.ToString(CultureInfo.InvariantCulture), p.Scope, p.Module, p.Origin, definition, p.Version ?? "", note);
        }
        table.Write(stdout);
    }
}
