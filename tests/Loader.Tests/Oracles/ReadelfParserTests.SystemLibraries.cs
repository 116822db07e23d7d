using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Loader.Tests.Oracles;

// The parser over every shared object of the machine: each parses, and no row readelf printed is dropped.
public sealed partial class ReadelfParserTests
{
    // ---- every system library ----------------------------------------------------------------

    [Fact]
    public void SystemLibraries_AreSortedRealElfSharedObjects()
    {
        IReadOnlyList<string> libraries = SystemLibraries.SharedObjects();

        Assert.True(libraries.Count > 50, $"only {libraries.Count} shared objects in {SystemLibraries.Directory}");
        Assert.Equal(libraries.Order(StringComparer.Ordinal), libraries);
        Assert.Equal(libraries.Count, libraries.Distinct().Count());
        Assert.Contains(SystemLibraries.RealPath(Libz), libraries);
        Assert.DoesNotContain(libraries, l => l.EndsWith("/libc.so", StringComparison.Ordinal)); // a linker script
        Assert.All(libraries, l => Assert.Equal(l, SystemLibraries.RealPath(l)));
        output.WriteLine($"{libraries.Count} shared objects in {SystemLibraries.Directory}, {SystemLibraries.SharedObjects(recursive: true).Count} with subdirectories");
    }

    [Fact]
    public void SystemLibraries_AllParseAndNoRowIsDropped()
    {
        IReadOnlyList<string> libraries = SystemLibraries.SharedObjects();
        var failures = new ConcurrentBag<string>();
        long symbols = 0, relocations = 0;
        var clock = Stopwatch.StartNew();

        Parallel.ForEach(libraries, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(2, Environment.ProcessorCount) }, path =>
        {
            try
            {
                ReadelfReport report = Readelf.ReadAll(path);
                CheckCounts(report);
                Interlocked.Add(ref symbols, report.Output.SymbolTables.Sum(t => t.Symbols.Count));
                Interlocked.Add(ref relocations, report.Relocations.Sum(r => r.Entries.Count + r.RelrAddresses.Count));
            }
            catch (Exception e)
            {
                failures.Add($"{path}: {e.Message}");
            }
        });

        output.WriteLine($"{libraries.Count} libraries, {symbols} symbols, {relocations} relocations parsed in {clock.Elapsed.TotalSeconds:F1} s");
        foreach (string failure in failures.Order(StringComparer.Ordinal).Take(20))
        {
            output.WriteLine(failure);
        }
        Assert.Empty(failures);
    }

    /// <summary>
    /// Declared counts against parsed rows, and rows counted straight from the raw text (with patterns that know
    /// nothing of the parser) against parsed rows, so the parser cannot drop a row without failing.
    /// </summary>
    private static void CheckCounts(ReadelfReport report)
    {
        Assert.False(report.HasErrors, report.Stderr);
        ReadelfOutput parsed = report.Output;
        ReadelfFileHeader header = Assert.IsType<ReadelfFileHeader>(parsed.FileHeader);
        Assert.Equal(header.ProgramHeaderCount, parsed.ProgramHeaders!.Headers.Count);
        if (parsed.Sections is not null)
        {
            Assert.Equal(header.SectionHeaderCount, parsed.Sections.Count);
        }
        if (parsed.Dynamic is not null)
        {
            Assert.Equal(parsed.Dynamic.DeclaredCount, parsed.Dynamic.Entries.Count);
        }
        Assert.NotNull(parsed.DynamicSymbols);
        foreach (ReadelfSymbolTable table in parsed.SymbolTables)
        {
            Assert.Equal(table.DeclaredCount, table.Symbols.Count);
        }
        foreach (ReadelfRelocationSection section in parsed.Relocations)
        {
            if (section.Format == ReadelfRelocationFormat.Relr)
            {
                Assert.Equal(section.RelrDeclaredAddresses, section.RelrAddresses.Count);
            }
            else
            {
                long size = section.Format == ReadelfRelocationFormat.Rela ? (header.Class == "ELF64" ? 24 : 12) : (header.Class == "ELF64" ? 16 : 8);
                Assert.Equal(section.CountIsBytes ? section.DeclaredCount / size : section.DeclaredCount, section.Entries.Count);
            }
        }

        string[] lines = report.Stdout.Split('\n');
        Assert.Equal(lines.Count(l => SymbolLine().IsMatch(l)), parsed.SymbolTables.Sum(t => t.Symbols.Count));
        Assert.Equal(lines.Count(l => RelocationLine().IsMatch(l)), parsed.Relocations.Sum(r => r.Entries.Count));
        Assert.Equal(lines.Count(l => AddressLine().IsMatch(l)), parsed.Relocations.Sum(r => r.RelrAddresses.Count));
        Assert.Equal(lines.Count(l => l.StartsWith(" 0x", StringComparison.Ordinal)), parsed.Dynamic?.Entries.Count ?? 0);
        Assert.Equal(lines.Count(l => l.StartsWith("  [", StringComparison.Ordinal) && !l.StartsWith("  [Nr]", StringComparison.Ordinal)
            && !l.Contains("[Requesting", StringComparison.Ordinal)), parsed.Sections?.Count ?? 0);
    }

    [GeneratedRegex(@"^ *\d+: [0-9a-f]+ ")]
    private static partial Regex SymbolLine();

    [GeneratedRegex(@"^[0-9a-f]+ +[0-9a-f]+ +\S")]
    private static partial Regex RelocationLine();

    [GeneratedRegex(@"^[0-9a-f]+$")]
    private static partial Regex AddressLine();
}
