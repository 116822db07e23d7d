using System.Globalization;
using Loader.Cli.Commands;

namespace Loader.Cli.Rendering;

/// <summary><c>loader bind FILE --all</c> for people: one row per symbol and version the library's relocations bound.</summary>
internal static class BindAllText
{
    public static void Write(TextWriter stdout, BindAllReport report)
    {
        stdout.WriteLine($"Bindings of {report.Name} ({report.File}), in relocation order (LD_DEBUG=bindings as a table):");
        var table = new TextTable(new Column("symbol"), new Column("version"), new Column("provider"), new Column("from"),
            new Column("address", Align.Right), new Column("= provider+"), new Column("type"), new Column("relocations")) { Indent = 2 };
        foreach (var s in report.Symbols)
        {
            string relocations = $"{s.Relocations.ToString(CultureInfo.InvariantCulture)} {string.Join(",", s.RelocationTypes.Select(Short))}";
            string type = s.Resolver is { } resolver ? $"IFUNC (resolver 0x{resolver:x}, the host's)" : s.Type ?? "";
            table.Add(s.Symbol, s.Version is null ? "" : "@" + s.Version,
                s.Provider ?? "(unresolved weak: 0)", s.ProviderOrigin ?? "",
                s.Address is { } a ? $"0x{a:x}" : "", s.Offset is { } o ? $"0x{o:x}" : "", type, relocations);
        }
        table.Write(stdout);
        stdout.WriteLine();
        stdout.WriteLine($"{report.Symbols.Count} symbols bound to {report.Providers} modules" +
            (report.Unresolved > 0 ? $"; {report.Unresolved} weak references defined nowhere (0)" : "") +
            ". No code of the library ran (no initializer, no IFUNC resolver of its own).");
    }

    private static string Short(string type) => type.StartsWith("R_X86_64_", StringComparison.Ordinal) ? type["R_X86_64_".Length..] : type;
}
