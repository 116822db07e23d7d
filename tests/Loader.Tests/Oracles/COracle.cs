using System.Security.Cryptography;
using System.Text;

namespace Loader.Tests.Oracles;

/// <summary>
/// An outside oracle written in C: a small program compiled with the host's gcc (once per source text, cached in the
/// temp folder) and run as a process, so what C prints — <c>printf("%.17g")</c>, a variadic call, glibc's own
/// <c>dlopen</c>/<c>dlsym</c> — is compared with what the tool prints.
/// </summary>
internal static class COracle
{
    private static readonly Lock CompileLock = new();

    /// <summary>Compiles <paramref name="source"/> (with <c>-ldl -lm</c>) unless already compiled; returns the executable's path.</summary>
    public static string Compile(string source)
    {
        string hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(source)))[..16].ToLowerInvariant();
        string directory = Path.Combine(Path.GetTempPath(), "loader-tests-coracle");
        string executable = Path.Combine(directory, $"oracle-{hash}");
        lock (CompileLock)
        {
            if (File.Exists(executable))
                return executable;
            Directory.CreateDirectory(directory);
            string sourcePath = executable + ".c";
            File.WriteAllText(sourcePath, source);
            string temporary = executable + $".{Environment.ProcessId}.tmp";
            var result = ChildProcess.Run("gcc", "-O0", "-w", "-o", temporary, sourcePath, "-ldl", "-lm");
            Assert.True(result.ExitCode == 0, $"gcc failed on the oracle program:\n{result.Stderr}\n{source}");
            File.Move(temporary, executable, overwrite: true);
            return executable;
        }
    }

    /// <summary>Compiles and runs <paramref name="source"/> with <paramref name="args"/>; fails the test unless it exits 0.</summary>
    public static string Run(string source, params string[] args)
    {
        var result = ChildProcess.Run(Compile(source), args);
        Assert.True(result.ExitCode == 0, $"the C oracle exited {result.ExitCode}: {result.Stderr}");
        return result.Stdout;
    }
}
