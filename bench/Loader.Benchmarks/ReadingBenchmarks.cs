using BenchmarkDotNet.Attributes;
using Loader.Elf;

namespace Loader.Benchmarks;

/// <summary>
/// The reader alone: <c>ElfFile.Open</c> (map the file read-only, parse headers, dynamic section and table locations)
/// and walks over its dynamic symbols and relocations, then Dispose. There is no glibc equivalent (readelf would be a
/// process spawn), so the figures are absolute; each benchmark includes <c>Open</c>, so a walk's own cost is its time
/// minus <see cref="Open"/>'s, and the per-entry cost that divided by the counts the setup prints.
/// </summary>
[MemoryDiagnoser]
public class ReadingBenchmarks
{
    private static ulong s_relrSink;
    private static readonly Action<ulong> s_relrVisitor = address => s_relrSink += address;

    private string _path = "";

    public static IEnumerable<string> Libraries_() => ["libc.so.6", Libraries.Largest()];

    [ParamsSource(nameof(Libraries_))]
    public string Library { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        _path = Libraries.SystemPath(Library);
        using var file = ElfFile.Open(_path);
        int relocations = file.RelocationTables.Sum(t => t.Count);
        int relr = file.Relr?.DecodeAddresses().Count ?? 0;
        Console.WriteLine($"// {Library}: {new FileInfo(_path).Length} bytes, {file.DynamicSymbols?.Count ?? 0} dynamic symbols, " +
            $"{relocations} relocations in {file.RelocationTables.Count} tables, {relr} RELR addresses");
    }

    [Benchmark(Description = "Open+Dispose")]
    public int Open()
    {
        using var file = ElfFile.Open(_path);
        return file.ProgramHeaderCount;
    }

    /// <summary>Every dynamic symbol: its fields and its name's bytes (no string is made).</summary>
    [Benchmark(Description = "Open+symbols+names")]
    public ulong WalkSymbols()
    {
        using var file = ElfFile.Open(_path);
        var symbols = file.DynamicSymbols!;
        ulong sum = 0;
        for (int i = 0; i < symbols.Count; i++)
        {
            var symbol = symbols[i];
            sum += symbol.Value + symbol.Size + (ulong)symbols.GetNameBytes(i).Length;
        }
        return sum;
    }

    /// <summary>Every dynamic symbol with its name and its version (what <c>readelf --dyn-syms</c> prints).</summary>
    [Benchmark(Description = "Open+symbols+names+versions")]
    public ulong WalkSymbolsWithVersions()
    {
        using var file = ElfFile.Open(_path);
        var symbols = file.DynamicSymbols!;
        ulong sum = 0;
        for (int i = 0; i < symbols.Count; i++)
        {
            var symbol = symbols[i];
            var version = file.GetSymbolVersion(i);
            sum += symbol.Value + (ulong)symbols.GetNameBytes(i).Length + version.Index;
        }
        return sum;
    }

    /// <summary>Every relocation of every table (DT_RELA, DT_REL, DT_JMPREL) and every DT_RELR address.</summary>
    [Benchmark(Description = "Open+relocations")]
    public ulong WalkRelocations()
    {
        using var file = ElfFile.Open(_path);
        ulong sum = 0;
        foreach (var table in file.RelocationTables)
        {
            foreach (var relocation in table)
                sum += relocation.Offset + relocation.SymbolIndex + relocation.Type;
        }
        file.Relr?.ForEachAddress(s_relrVisitor);
        return sum + s_relrSink;
    }
}
