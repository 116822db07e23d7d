using Loader.Cli;
using Loader.Tests.Oracles;

namespace Loader.Tests.Cli;

/// <summary>The bash completion script, run by bash itself: what it completes is what the command tree has.</summary>
public sealed class CompletionTests
{
    [Fact]
    public void An_empty_word_completes_to_every_command_the_tool_has()
    {
        string[] commands = CliApp.CreateRootCommand().Subcommands.Select(c => c.Name).Order().ToArray();

        string[] offered = Complete("loader", "").Where(w => !w.StartsWith('-')).Order().ToArray();

        Assert.Equal(commands, offered);
        Assert.Contains("completion", offered);
    }

    [Theory]
    [InlineData(new[] { "loader", "la" }, "layout")]
    [InlineData(new[] { "loader", "layout", "libz.so", "--s" }, "--svg")]
    [InlineData(new[] { "loader", "bind", "x.so", "--a" }, "--all")]
    [InlineData(new[] { "loader", "deps", "--v" }, "--verbose")]
    [InlineData(new[] { "loader", "symbols", "x.so", "--he" }, "--help")]
    public void A_prefix_completes_to_the_one_word_that_fits(string[] words, string expected)
    {
        Assert.Equal([expected], Complete(words));
    }

    [Fact]
    public void A_file_argument_completes_to_file_names()
    {
        string directory = Path.Combine(Path.GetTempPath(), $"loader-complete-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        try
        {
            File.WriteAllBytes(Path.Combine(directory, "libalpha.so.1"), []);
            File.WriteAllBytes(Path.Combine(directory, "libbeta.so.2"), []);

            Assert.Equal([Path.Combine(directory, "libalpha.so.1")], Complete("loader", "info", Path.Combine(directory, "liba")));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Only_bash_is_offered_and_another_shell_is_a_usage_error()
    {
        var result = CliHarness.Run("completion", "zsh");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("zsh", result.Stderr, StringComparison.Ordinal);
    }

    /// <summary>Sources the script in bash, sets COMP_WORDS to <paramref name="words"/> (the last is the word being
    /// completed), calls the completion function and returns COMPREPLY.</summary>
    private static string[] Complete(params string[] words)
    {
        var script = CliHarness.Run("completion", "bash");
        CliHarness.AssertSuccess(script);
        string file = Path.Combine(Path.GetTempPath(), $"loader-completion-{Guid.NewGuid():N}.bash");
        File.WriteAllText(file, script.Stdout);
        try
        {
            string quoted = string.Join(' ', words.Select(w => "'" + w.Replace("'", "'\\''") + "'"));
            var bash = ChildProcess.Run("bash", "--norc", "-c",
                $"source '{file}' && COMP_WORDS=({quoted}) && COMP_CWORD={words.Length - 1} && _loader_complete && printf '%s\\n' \"${{COMPREPLY[@]}}\"");
            Assert.True(bash.ExitCode == 0, $"bash: {bash.Stderr}");
            return bash.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
