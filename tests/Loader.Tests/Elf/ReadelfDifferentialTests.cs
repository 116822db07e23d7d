using System.Collections.Concurrent;
using Loader.Elf;
using Loader.Tests.Oracles;
using Xunit.Abstractions;

namespace Loader.Tests.Elf;

/// <summary>
/// Our reader against GNU readelf as an outside oracle: program headers, dynamic tags, dynamic symbols
/// (with versions), relocations (REL/RELA/RELR) and the build ID, for every fixture and for every ELF
/// shared object in /usr/lib/x86_64-linux-gnu. A file readelf rejects must be rejected by us too.
/// </summary>
public sealed class ReadelfDifferentialTests(ITestOutputHelper output)
{
    [Fact]
    public void EveryFixtureReadsAsReadelfReadsIt()
    {
        var paths = Fixtures.All.Select(f => f.Path).ToList();
        var (compared, failures) = CompareAll(paths);
        output.WriteLine($"compared {compared.Files} fixtures: {compared.Symbols} symbols, {compared.Relocations} relocations, {compared.RelrAddresses} RELR addresses");
        Assert.True(failures.IsEmpty, string.Join("\n", failures.Take(20)));
        Assert.Equal(paths.Count, compared.Files);
    }

    [Fact]
    public void EverySystemSharedObjectReadsAsReadelfReadsIt()
    {
        var paths = SystemLibraries.SharedObjects();
        var (compared, failures) = CompareAll(paths);
        output.WriteLine($"compared {compared.Files} of {paths.Count} shared objects in {SystemLibraries.Directory} " +
            $"({compared.Rejected} rejected by both): {compared.Symbols} symbols, {compared.DynamicEntries} dynamic entries, " +
            $"{compared.Relocations} relocations, {compared.RelrAddresses} RELR addresses");
        Assert.True(failures.IsEmpty, $"{failures.Count} differences, first ones:\n" + string.Join("\n", failures.Take(20)));
        // The machine image holds about 470; far fewer means the enumeration broke, not that all is well.
        Assert.True(compared.Files >= 300, $"only {compared.Files} shared objects found");
    }

    [Fact]
    public void FilesReadelfRejectsAreRejectedByUsToo()
    {
        // Corrupted copies of a real library: each must be one readelf refuses (the oracle decides), and then ours
        // must refuse it with a LoaderException through the same comparison path as above.
        byte[] zlib = File.ReadAllBytes("/usr/lib/x86_64-linux-gnu/libz.so.1");
        var cases = new Dictionary<string, byte[]>
        {
            ["truncated-in-the-program-headers"] = zlib[..100],
            ["truncated-in-the-dynamic-section"] = zlib[..0x1cde0],
            ["bad-magic"] = Patched(zlib, 3, (byte)'G'),
            ["phoff-past-the-end"] = Patched(zlib, 0x20, 0xf0),
        };
        string dir = Directory.CreateTempSubdirectory("loader-rejects-").FullName;
        try
        {
            foreach (var (name, bytes) in cases)
            {
                string path = Path.Combine(dir, name + ".so");
                File.WriteAllBytes(path, bytes);
                Assert.True(Readelf.Rejects(path), $"{name}: readelf accepts it, so it proves nothing here");
                Assert.Equal(1, CompareOne(path).Rejected);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }

        static byte[] Patched(byte[] original, int offset, byte value)
        {
            var copy = original.ToArray();
            copy[offset] = value;
            return copy;
        }
    }

    private sealed class Counts
    {
        public int Files, Rejected;
        public long Symbols, DynamicEntries, Relocations, RelrAddresses;
    }

    private static (Counts, ConcurrentBag<string>) CompareAll(IReadOnlyList<string> paths)
    {
        var counts = new Counts();
        var failures = new ConcurrentBag<string>();
        Parallel.ForEach(paths, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, path =>
        {
            try
            {
                var c = CompareOne(path);
                lock (counts)
                {
                    counts.Files++;
                    counts.Rejected += c.Rejected;
                    counts.Symbols += c.Symbols;
                    counts.DynamicEntries += c.DynamicEntries;
                    counts.Relocations += c.Relocations;
                    counts.RelrAddresses += c.RelrAddresses;
                }
            }
            catch (Exception e)
            {
                failures.Add($"{path}: {e.GetType().Name}: {e.Message}");
            }
        });
        return (counts, failures);
    }

    private static Counts CompareOne(string path)
    {
        var counts = new Counts();
        var report = Readelf.ReadAll(path);
        if (report.HasErrors || Readelf.Rejects(path))
        {
            var e = Record.Exception(() => { using var f = ElfFile.Open(path); ElfReadAll.ReadEverything(f); });
            if (e is not LoaderException)
                throw new Exception($"readelf rejects the file but we {(e is null ? "read it" : "threw " + e.GetType().Name)}");
            counts.Rejected = 1;
            return counts;
        }

        using var file = ElfFile.Open(path);
        CompareProgramHeaders(file, report);
        counts.DynamicEntries = CompareDynamic(file, report);
        counts.Symbols = CompareSymbols(file, report);
        (counts.Relocations, counts.RelrAddresses) = CompareRelocations(file, report);
        CompareNotes(file, report);
        return counts;
    }

    private static void CompareProgramHeaders(ElfFile file, ReadelfReport report)
    {
        var theirs = report.ProgramHeaders?.Headers ?? [];
        Check(theirs.Count == file.ProgramHeaders.Count, $"program header count: ours {file.ProgramHeaders.Count}, readelf {theirs.Count}");
        for (int i = 0; i < theirs.Count; i++)
        {
            var (ours, t) = (file.ProgramHeaders[i], theirs[i]);
            string where = $"program header {i}";
            if (ReadelfNames.Segment(ours.Type) is { } name)
                Check(name == t.Type, $"{where} type: ours {name}, readelf {t.Type}");
            Check(ours.Offset == t.Offset && ours.VirtualAddress == t.VirtualAddress && ours.PhysicalAddress == t.PhysicalAddress
                && ours.FileSize == t.FileSize && ours.MemorySize == t.MemorySize && ours.Alignment == t.Align,
                $"{where}: ours {ours}, readelf {t}");
            Check((uint)(ours.Flags & (SegmentFlags.Read | SegmentFlags.Write | SegmentFlags.Execute)) == (uint)t.Flags,
                $"{where} flags: ours {ours.Flags}, readelf {t.FlagsText}");
        }
        Check(file.Interpreter == report.ProgramHeaders?.Interpreter, $"interpreter: ours {file.Interpreter}, readelf {report.ProgramHeaders?.Interpreter}");
    }

    private static long CompareDynamic(ElfFile file, ReadelfReport report)
    {
        var theirs = report.Dynamic?.Entries ?? [];
        var ours = file.Dynamic?.Entries ?? [];
        Check(ours.Count == theirs.Count, $"dynamic entry count: ours {ours.Count}, readelf {theirs.Count}");
        for (int i = 0; i < theirs.Count; i++)
        {
            var (o, t) = (ours[i], theirs[i]);
            string where = $"dynamic entry {i} ({t.TagName})";
            Check((ulong)o.RawTag == t.Tag || (file.Encoding.Is64 ? false : (uint)o.RawTag == (uint)t.Tag), $"{where} tag: ours 0x{o.RawTag:x}, readelf 0x{t.Tag:x}");
            if (t.Kind == ReadelfDynamicValueKind.Name)
            {
                string name = file.DynamicStrings.GetString((uint)o.Value);
                Check(name == t.Name, $"{where}: ours '{name}', readelf '{t.Name}'");
            }
            else if (t.Number is { } number)
            {
                Check(o.Value == number, $"{where} value: ours 0x{o.Value:x}, readelf 0x{number:x}");
            }
        }
        return ours.Count;
    }

    private static long CompareSymbols(ElfFile file, ReadelfReport report)
    {
        var theirs = report.DynamicSymbols?.Symbols ?? [];
        var table = file.DynamicSymbols;
        int count = table?.Count ?? 0;
        Check(count == theirs.Count, $"dynamic symbol count: ours {count}, readelf {theirs.Count}");
        for (int i = 0; i < theirs.Count; i++)
        {
            var t = theirs[i];
            var s = table![i];
            string name = table.GetName(i);
            var version = file.GetSymbolVersion(i);
            string where = $"symbol {i} ({t.RawName})";
            // readelf names an unnamed section symbol after its section.
            if (s.Type == SymbolType.Section && name.Length == 0 && s.SectionIndex < file.Sections.Count)
                name = file.Sections[s.SectionIndex].Name;
            Check(name == t.Name, $"{where} name: ours '{name}'");
            version = version.ForDisplay(name);
            Check(s.Value == t.Value && s.Size == t.Size, $"{where} value/size: ours 0x{s.Value:x}/{s.Size}, readelf 0x{t.Value:x}/{t.Size}");
            if (ReadelfNames.SymbolType(s.Type) is { } type)
                Check(type == t.Type, $"{where} type: ours {type}, readelf {t.Type}");
            if (ReadelfNames.Binding(s.Binding, file.Header.OsAbi) is { } bind)
                Check(bind == t.Bind, $"{where} bind: ours {bind}, readelf {t.Bind}");
            Check(ReadelfNames.Visibility(s.Visibility) == t.Visibility, $"{where} visibility: ours {s.Visibility}, readelf {t.Visibility}");
            Check(ReadelfNames.SectionIndex(s.SectionIndex) == t.SectionIndex, $"{where} ndx: ours {s.SectionIndex}, readelf {t.SectionIndex}");
            Check(ReadelfNames.VersionKind(version.Kind) == t.VersionKind && version.Name == t.Version,
                $"{where} version: ours {version.Kind} {version.Name}, readelf {t.VersionKind} {t.Version}");
            if (t.VersionIndex is { } index)
                Check(version.Index == index, $"{where} version index: ours {version.Index}, readelf {index}");
        }
        return theirs.Count;
    }

    private static (long, long) CompareRelocations(ElfFile file, ReadelfReport report)
    {
        var theirs = report.Relocations.Where(r => r.Format != ReadelfRelocationFormat.Relr).SelectMany(r => r.Entries)
            .Select(r => (r.Offset, r.Info, Addend: r.Addend ?? 0, Symbol: r.SymbolName ?? ""))
            .OrderBy(r => r.Offset).ThenBy(r => r.Info).ToList();
        var symbols = file.DynamicSymbols;
        var ours = new List<(ulong Offset, ulong Info, long Addend, string Symbol)>();
        foreach (var table in file.RelocationTables)
            foreach (var r in table)
                ours.Add((r.Offset, r.Info, r.Addend, r.SymbolIndex == 0 || symbols is null ? "" : symbols.GetName((int)r.SymbolIndex)));
        ours.Sort((a, b) => a.Offset != b.Offset ? a.Offset.CompareTo(b.Offset) : a.Info.CompareTo(b.Info));
        Check(ours.Count == theirs.Count, $"relocation count: ours {ours.Count}, readelf {theirs.Count}");
        for (int i = 0; i < ours.Count; i++)
        {
            var (o, t) = (ours[i], theirs[i]);
            Check(o.Offset == t.Offset && o.Info == t.Info && o.Symbol == t.Symbol
                && (o.Addend == t.Addend || !file.RelocationTables.Any(x => x.Format == RelocationFormat.Rela)),
                $"relocation {i}: ours {o}, readelf {t}");
        }

        var theirRelr = report.Relocations.Where(r => r.Format == ReadelfRelocationFormat.Relr).SelectMany(r => r.RelrAddresses).ToList();
        var ourRelr = file.Relr?.DecodeAddresses() ?? [];
        Check(ourRelr.SequenceEqual(theirRelr), $"RELR addresses: ours {ourRelr.Count}, readelf {theirRelr.Count}, first difference at " +
            ourRelr.Zip(theirRelr).TakeWhile(p => p.First == p.Second).Count());
        return (ours.Count, ourRelr.Count);
    }

    private static void CompareNotes(ElfFile file, ReadelfReport report)
    {
        string? theirs = report.Notes.Select(n => n.BuildId).FirstOrDefault(b => b is not null);
        string ours = Convert.ToHexStringLower(file.BuildId.Span);
        Check(ours == (theirs ?? ""), $"build ID: ours '{ours}', readelf '{theirs}'");
    }

    private static void Check(bool condition, string message)
    {
        if (!condition)
            throw new Exception(message);
    }
}
