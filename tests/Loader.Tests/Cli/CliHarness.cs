using Loader.Cli;

namespace Loader.Tests.Cli;

/// <summary>Runs <c>loader</c> command lines in-process, capturing what they write.</summary>
internal static class CliHarness
{
    public const string LibZ = "/usr/lib/x86_64-linux-gnu/libz.so.1";
    public const string LibC = "/usr/lib/x86_64-linux-gnu/libc.so.6";

    /// <summary>The outcome of one command line.</summary>
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    /// <summary>Runs <paramref name="args"/> through <see cref="CliApp.Run"/>, capturing both writers.</summary>
    public static Result Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = CliApp.Run(args, stdout, stderr);
        return new Result(exit, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Asserts exit code 0 and an empty stderr, showing stderr when either fails.</summary>
    public static void AssertSuccess(Result result)
    {
        Assert.True(result.ExitCode == 0 && result.Stderr.Length == 0, $"exit code {result.ExitCode}, stderr: {result.Stderr}");
    }

    /// <summary>A temporary file holding <paramref name="bytes"/>, deleted on dispose.</summary>
    public sealed class TempFile : IDisposable
    {
        public TempFile(ReadOnlySpan<byte> bytes, string suffix = ".so")
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"loader-cli-{Guid.NewGuid():N}{suffix}");
            File.WriteAllBytes(Path, bytes.ToArray());
        }

        public string Path { get; }

        public void Dispose() => File.Delete(Path);
    }
}
