using Loader.Tests.Oracles;

namespace Loader.Tests.Scripts;

/// <summary>
/// scripts/gen-tls-server.sh: the machine code committed in src/Loader/Native/TlsServerCode.cs is what gcc makes of
/// tls_server.c now (the script refuses code with relocations or data of its own), so the C source is the code Loader
/// runs.
/// </summary>
public sealed class GenTlsServerTests
{
    [Fact]
    public void The_committed_code_is_what_the_script_compiles_from_the_source()
    {
        string output = Path.Combine(Path.GetTempPath(), $"loader-tls-server-{Guid.NewGuid():N}.cs");
        try
        {
            var run = ChildProcess.Run("bash", Path.Combine(Fixtures.RepositoryRoot, "scripts", "gen-tls-server.sh"), output);
            Assert.True(run.ExitCode == 0, $"gen-tls-server.sh: {run.Stdout}{run.Stderr}");
            string committed = File.ReadAllText(Path.Combine(Fixtures.RepositoryRoot, "src", "Loader", "Native", "TlsServerCode.cs"));
            Assert.Equal(committed, File.ReadAllText(output));
            Assert.Contains("public const int GetAddrOffset = ", committed, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(output);
        }
    }
}
