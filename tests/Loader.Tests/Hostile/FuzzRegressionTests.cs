using Loader.Hostile;

namespace Loader.Tests.Hostile;

/// <summary>
/// Every file in tests/fuzz-regressions (inputs that once broke Loader: the fuzzers' <c>fuzz-*.bin</c>, the review's
/// <c>class&lt;N&gt;-*.so</c>; its README says what each is) replayed through all three entry points in child processes
/// (<see cref="HostileBatch"/>): each is accepted or refused with a LoaderException, without a crash, a hang or a leak.
/// </summary>
public sealed class FuzzRegressionTests
{
    /// <summary>tests/fuzz-regressions in the checkout these tests were built from.</summary>
    private static string RegressionDirectory => Path.Combine(Fixtures.RepositoryRoot, "tests", "fuzz-regressions");

    private static List<string> Inputs() =>
        [.. Directory.EnumerateFiles(RegressionDirectory).Where(f => Path.GetFileName(f) != "README.md").Order(StringComparer.Ordinal)];

    [Theory]
    [InlineData(EntryPoint.Open)]
    [InlineData(EntryPoint.Map)]
    [InlineData(EntryPoint.Load)]
    public void Every_regression_input_is_accepted_or_refused_and_leaves_nothing_behind(EntryPoint entry)
    {
        var inputs = Inputs();
        // The review's classes are always there (the fuzzers' files come and go): an empty folder would pass vacuously.
        Assert.True(inputs.Count(f => Path.GetFileName(f).StartsWith("class", StringComparison.Ordinal)) >= 7,
            $"expected the class<N>-*.so inputs in {RegressionDirectory}, found: {string.Join(", ", inputs.Select(Path.GetFileName))}");

        // A private copy of each: a child maps them, and a name in the copy's folder cannot collide with another test's.
        string directory = Directory.CreateTempSubdirectory("loader-fuzz-regressions-").FullName;
        try
        {
            var copies = inputs.Select(f => Path.Combine(directory, Path.GetFileName(f))).ToList();
            foreach (var (from, to) in inputs.Zip(copies))
                File.Copy(from, to);

            var outcomes = HostileBatch.Run(entry, copies);

            Assert.Equal(copies, outcomes.Select(o => o.Input));
            var broken = outcomes.Where(o => !o.Clean).ToList();
            Assert.True(broken.Count == 0, $"{broken.Count} of {outcomes.Count} regression inputs broke the contract:\n{string.Join("\n", broken)}");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void The_readme_explains_every_file_the_review_added()
    {
        string readme = File.ReadAllText(Path.Combine(RegressionDirectory, "README.md"));
        foreach (string input in Inputs().Select(f => Path.GetFileName(f)).Where(n => !n.StartsWith("fuzz-", StringComparison.Ordinal)))
            Assert.Contains(input, readme, StringComparison.Ordinal);
    }
}
