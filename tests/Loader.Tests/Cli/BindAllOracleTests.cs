using System.Text.Json;
using System.Text.RegularExpressions;
using Loader.Tests.Oracles;

namespace Loader.Tests.Cli;

/// <summary>
/// <c>loader bind FILE --all --json</c> against glibc: the same library dlopened by <c>tools/dlopen_each</c> under
/// <c>LD_DEBUG=bindings</c>, whose lines <c>binding file FILE [0] to PROVIDER [0]: normal symbol `NAME' [VERSION]</c> must
/// name the same symbols, versions and providers (addresses differ between processes and are not compared).
/// </summary>
[Collection("AddressSpace")]
public sealed partial class BindAllOracleTests
{
    [GeneratedRegex(@"binding file (\S+) \[\d+\] to (\S+) \[\d+\]: \w+ symbol `([^']+)'(?: \[([^\]]+)\])?")]
    private static partial Regex BindingLine();

    [Theory]
    [InlineData("libz.so.1")]
    [InlineData("libsqlite3.so.0")]
    public void Every_binding_names_the_symbol_version_and_provider_glibc_names(string soname)
    {
        string path = SystemLibraries.Require(soname);
        var theirs = GlibcBindings(path);

        var result = CliHarness.Run("bind", path, "--all", "--json");

        CliHarness.AssertSuccess(result);
        using var json = JsonDocument.Parse(result.Stdout);
        var ours = json.RootElement.GetProperty("symbols").EnumerateArray()
            .Where(s => s.GetProperty("provider").ValueKind == JsonValueKind.String)
            .Select(s => Binding(s.GetProperty("symbol").GetString()!, s.GetProperty("version").GetString(), s.GetProperty("providerPath").GetString()!))
            .ToHashSet();
        Assert.True(theirs.Count > 40, $"glibc reported only {theirs.Count} bindings of {path}");
        Assert.Equal(theirs.Order(), ours.Order());
    }

    /// <summary>What glibc's dlopen of <paramref name="path"/> bound, one line per symbol, version and provider.</summary>
    private static HashSet<string> GlibcBindings(string path)
    {
        string directory = Directory.CreateTempSubdirectory("loader-bindings-").FullName;
        try
        {
            var run = ChildProcess.Run(Fixtures.Path("tools/dlopen_each"), [], new Dictionary<string, string?>
            {
                ["LD_DEBUG"] = "bindings",
                ["LD_DEBUG_OUTPUT"] = Path.Combine(directory, "bindings"),
            }, standardInput: path + "\n");
            Assert.True(run.ExitCode == 0 && run.Stdout.StartsWith("loaded\t", StringComparison.Ordinal), $"dlopen_each: {run.Stdout} {run.Stderr}");
            var bindings = new HashSet<string>();
            foreach (string file in Directory.GetFiles(directory))
                foreach (Match m in BindingLine().Matches(File.ReadAllText(file)))
                    if (m.Groups[1].Value == path)
                        bindings.Add(Binding(m.Groups[3].Value, m.Groups[4].Success ? m.Groups[4].Value : null, m.Groups[2].Value));
            return bindings;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static string Binding(string symbol, string? version, string provider) =>
        $"{symbol}@{version ?? "(none)"} from {SystemLibraries.RealPath(provider) ?? provider}";
}
