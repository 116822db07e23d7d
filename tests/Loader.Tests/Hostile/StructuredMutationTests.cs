using System.Collections.Concurrent;
using System.Diagnostics;
using Loader.Hostile;
using Loader.Tests.Oracles;
using Xunit.Abstractions;

namespace Loader.Tests.Hostile;

/// <summary>
/// The hostile-input contract over structure-aware mutants of real libraries (<see cref="ElfMutator"/>, fixed seed):
/// every mutant goes through <see cref="EntryPoint.Open"/>, <see cref="EntryPoint.Map"/> and <see cref="EntryPoint.Load"/>
/// in child processes (<see cref="HostileBatch"/>), and each is accepted or refused with a LoaderException — no other
/// exception, no crash, no hang, and nothing of it left in /proc/self/maps or /proc/self/fd.
/// </summary>
public sealed class StructuredMutationTests(ITestOutputHelper output)
{
    private const int Seed = 20261202;

    /// <summary>The originals and how many mutants each gives: gcc-built fixtures with different tables (init and fini
    /// arrays, RELR, TLS), and a system library built by its distribution.</summary>
    private static readonly (string Name, Func<string> Path, int Count)[] Sources =
    [
        ("basic", () => Fixtures.Path("basic.so"), 150),
        ("ctors", () => Fixtures.Path("linking/libctors.so"), 60),
        ("relr", () => Fixtures.Path("relr.so"), 50),
        ("tls_gd", () => Fixtures.Path("tls/libtls_gd.so"), 50),
        ("libz", () => SystemLibraries.ZlibPath, 100),
    ];

    private const int BatchSize = 140;

    [Fact]
    public void Mutated_headers_and_tables_are_accepted_or_refused_and_leave_nothing_behind()
    {
        var clock = Stopwatch.StartNew();
        string directory = Directory.CreateTempSubdirectory("loader-mutants-").FullName;
        try
        {
            var inputs = WriteMutants(directory);
            var batches = Enum.GetValues<EntryPoint>().SelectMany(e => inputs.Chunk(BatchSize).Select(chunk => (Entry: e, Inputs: chunk))).ToList();
            var outcomes = new ConcurrentBag<InputOutcome>();
            Parallel.ForEach(batches, new ParallelOptions { MaxDegreeOfParallelism = 3 }, batch =>
            {
                foreach (var outcome in HostileBatch.Run(batch.Entry, batch.Inputs))
                    outcomes.Add(outcome);
            });

            output.WriteLine($"{inputs.Count} mutants (seed {Seed}) through each entry point in {batches.Count} children, {clock.Elapsed.TotalSeconds:0.0} s");
            foreach (var entry in Enum.GetValues<EntryPoint>())
            {
                var mine = outcomes.Where(o => o.Entry == entry).ToList();
                output.WriteLine($"{entry}: {mine.Count} inputs, {mine.Count(o => o.Outcome == "accepted")} accepted, {mine.Count(o => o.Outcome == "refused")} refused "
                    + $"({string.Join(", ", mine.Where(o => o.Outcome == "refused").GroupBy(o => o.Type).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Count()}"))}), "
                    + $"{mine.Count(o => o.Field.Length > 0 && o.Outcome == "refused")} naming {mine.Where(o => o.Outcome == "refused").Select(o => o.Field).Where(f => f.Length > 0).Distinct().Count()} different fields");
            }
            var broken = outcomes.Where(o => !o.Clean).OrderBy(o => o.Entry).ThenBy(o => o.Input, StringComparer.Ordinal).ToList();
            foreach (var b in broken)
                output.WriteLine(b.ToString());
            Assert.True(broken.Count == 0, $"{broken.Count} inputs broke the contract:\n{string.Join("\n", broken.Take(40))}");

            // Not vacuous: each entry point saw every input, accepted some and refused many, for many different fields.
            foreach (var entry in Enum.GetValues<EntryPoint>())
            {
                var mine = outcomes.Where(o => o.Entry == entry).ToList();
                Assert.Equal(inputs.Count, mine.Count);
                int accepted = mine.Count(o => o.Outcome == "accepted"), refused = mine.Count(o => o.Outcome == "refused");
                int fields = mine.Where(o => o.Outcome == "refused").Select(o => o.Field).Where(f => f.Length > 0).Distinct().Count();
                Assert.True(accepted >= inputs.Count / 20, $"{entry}: only {accepted} of {inputs.Count} accepted");
                Assert.True(refused >= inputs.Count / 4, $"{entry}: only {refused} of {inputs.Count} refused");
                Assert.True(fields >= 15, $"{entry}: refusals named only {fields} different fields");
            }
            // Load goes past the reader: some mutants are refused by the linker (a relocation, a symbol, a dependency).
            var linking = outcomes.Where(o => o.Entry == EntryPoint.Load && o.Outcome == "refused" && o.Type is not ("ElfFormatException" or "UnsupportedElfException"))
                .Select(o => o.Type).Distinct().ToList();
            Assert.True(linking.Count >= 2, $"Load refused only through the reader ({string.Join(", ", linking)})");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void The_mutator_is_deterministic_and_changes_every_kind_of_structure()
    {
        byte[] basic = File.ReadAllBytes(Fixtures.Path("basic.so"));
        var first = new ElfMutator("basic", basic).Generate(new Random(Seed), 200).ToList();
        var second = new ElfMutator("basic", basic).Generate(new Random(Seed), 200).ToList();
        Assert.Equal(first.Select(m => m.Name), second.Select(m => m.Name));
        Assert.True(first.Zip(second).All(p => p.First.Bytes.AsSpan().SequenceEqual(p.Second.Bytes)));
        Assert.All(first, m => Assert.False(m.Bytes.AsSpan().SequenceEqual(basic), m.Name));
        foreach (string structure in new[] { "-e_", ".p_", ".d_tag", ".d_val", ".st_", ".r_" })
            Assert.Contains(first, m => m.Name.Contains(structure, StringComparison.Ordinal));
    }

    /// <summary>Writes the mutants of every source into <paramref name="directory"/>, numbered; returns their paths.</summary>
    private static List<string> WriteMutants(string directory)
    {
        var random = new Random(Seed);
        var paths = new List<string>();
        foreach (var (name, path, count) in Sources)
        {
            var mutator = new ElfMutator(name, File.ReadAllBytes(path()));
            foreach (var mutant in mutator.Generate(random, count))
            {
                string file = Path.Combine(directory, $"{paths.Count:D4}-{mutant.Name}");
                File.WriteAllBytes(file, mutant.Bytes);
                paths.Add(file);
            }
        }
        return paths;
    }
}
