using Loader.Tests.Oracles;

namespace Loader.Tests;

/// <summary>Checks of the test suite itself: no test passes by skipping its work, and what CI installs covers what
/// the tests need.</summary>
public sealed class TestSuiteHygieneTests
{
    /// <summary>tests/Loader.Tests in the checkout these tests were built from (found through Loader.sln).</summary>
    private static string TestSourceDirectory => Path.Combine(Fixtures.RepositoryRoot, "tests", "Loader.Tests");

    private static IEnumerable<string> TestSources()
    {
        string root = TestSourceDirectory;
        Assert.True(Directory.Exists(root), $"no test sources at {root}: the suite runs from a build of its own checkout");
        return Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !Path.GetRelativePath(root, f).Split(Path.DirectorySeparatorChar).Any(d => d is "bin" or "obj"))
            .Order(StringComparer.Ordinal);
    }

    [Fact]
    public void No_test_returns_early_when_an_input_is_missing()
    {
        int files = 0, methods = 0;
        var findings = new List<EarlyReturnDetector.Finding>();
        foreach (string path in TestSources())
        {
            var result = EarlyReturnDetector.Scan(File.ReadAllText(path), Path.GetRelativePath(TestSourceDirectory, path));
            files++;
            methods += result.TestMethods;
            findings.AddRange(result.Findings);
        }

        // A scan that finds no tests would pass vacuously.
        Assert.True(files > 50 && methods > 300, $"scanned only {files} files and {methods} test methods under {TestSourceDirectory}");
        Assert.True(findings.Count == 0, string.Join("\n", findings));
    }

    [Fact]
    public void Every_test_source_has_balanced_braces_once_strings_and_comments_are_blanked()
    {
        // The detector finds method bodies by matching braces: a string it failed to blank would shift them.
        foreach (string path in TestSources())
        {
            string code = EarlyReturnDetector.BlankStringsAndComments(File.ReadAllText(path));
            Assert.True(code.Count(c => c == '{') == code.Count(c => c == '}'), $"{path}: unbalanced braces after blanking");
        }
    }

    public static TheoryData<string, string> EarlyReturns() => new()
    {
        { "missing file", "if (!File.Exists(path))\n            return;" },
        { "lookup then null", "var f = Fixtures.All.FirstOrDefault(x => x.Name == \"a\");\n        if (f is null)\n            return; // fixtures not built" },
        { "guard in braces", "if (relro < 0)\n        {\n            return;\n        }" },
        { "failed match", "var m = Regex.Match(text, \"x\");\n        if (!m.Success) { output.WriteLine(\"skipped\"); return; }" },
        { "inside a lambda", "Parallel.ForEach(paths, p => { if (!File.Exists(p)) return; Check(p); });" },
    };

    [Theory]
    [MemberData(nameof(EarlyReturns))]
    public void The_detector_reports_an_early_return(string label, string statements)
    {
        var result = EarlyReturnDetector.Scan(InATest(statements), "sample.cs");

        Assert.Equal(1, result.TestMethods);
        var finding = Assert.Single(result.Findings);
        Assert.Equal("Sample_test", finding.Method);
        Assert.True(finding.Line > 3, label);
    }

    public static TheoryData<string, string> LegitimateReturns() => new()
    {
        { "return after asserting one case", "if (symbol.Type != SymbolType.GnuIfunc)\n        {\n            Assert.Equal(glibc, ours);\n            return;\n        }\n        Assert.True(x);" },
        { "the word in a string", "string s = \"if (x is null) return;\";\n        Assert.NotNull(s);" },
        { "the word in a comment", "// if (!File.Exists(p)) return;\n        Assert.True(true);" },
        { "the word in a raw string", "string s = \"\"\"\n            if (!File.Exists(p)) return;\n            \"\"\";\n        Assert.NotEmpty(s);" },
        { "an interpolated string with a nested string", "string s = $\"{(a ? \"{\" : \"}\")} if (x is null) return;\";\n        Assert.NotNull(s);" },
    };

    [Theory]
    [MemberData(nameof(LegitimateReturns))]
    public void The_detector_leaves_other_code_alone(string label, string statements)
    {
        var result = EarlyReturnDetector.Scan(InATest(statements), "sample.cs");

        Assert.Equal(1, result.TestMethods);
        Assert.True(result.Findings.Count == 0, $"{label}: {string.Join("\n", result.Findings)}");
    }

    [Fact]
    public void The_detector_looks_only_inside_tests()
    {
        const string helper = """
            public static class Helpers
            {
                public static void Check(string path)
                {
                    if (File.Exists(path) is false)
                        return;
                }

                [Fact]
                public void Expression_bodied() => Check("x");
            }
            """;

        var result = EarlyReturnDetector.Scan(helper, "helper.cs");

        Assert.Equal(0, result.TestMethods);
        Assert.Empty(result.Findings);
    }

    private static string InATest(string statements) => $$"""
        public sealed class SampleTests
        {
            [Theory]
            [InlineData("{")]
            public void Sample_test(string unused)
            {
                {{statements}}
            }

            private static void After() { }
        }
        """;

    [Fact]
    public void Ci_installs_every_system_library_the_tests_require()
    {
        string ci = Path.Combine(Fixtures.RepositoryRoot, ".ci", "run");
        Assert.True(File.Exists(ci), $"{ci} is missing");
        string script = File.ReadAllText(ci);
        foreach (var (soname, package) in SystemLibraries.Packages)
            Assert.True(script.Contains($"{soname}:{package}", StringComparison.Ordinal), $".ci/run does not install {package} ({soname})");
    }
}
