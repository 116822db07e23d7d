using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using Loader.Cli.Commands;

namespace Loader.Cli;

/// <summary>The exit codes of every command.</summary>
internal static class ExitCodes
{
    /// <summary>The command did what was asked.</summary>
    public const int Success = 0;
    /// <summary>The file is missing, unreadable, or not a well-formed ELF object.</summary>
    public const int BadFile = 1;
    /// <summary>The command line is wrong: unknown option, missing argument, conflicting options.</summary>
    public const int Usage = 2;
}

/// <summary>
/// The <c>loader</c> tool: builds the command tree and runs one command line against the given writers, so tests
/// run commands in-process and read what they print.
/// </summary>
public static class CliApp
{
    /// <summary>What <c>loader --help</c> says before the list of commands.</summary>
    private const string Overview =
        "Read, map and load ELF shared objects the way a dynamic loader (ld.so) does, and show every step: headers, segments, " +
        "dynamic table, symbols, relocations, the mapped layout and every mmap it took; the dependency tree and the bindings " +
        "(running nothing of the library); load a library and call a function by its C prototype. Without a command, runs " +
        "the demo on the sample library.\n\n" +
        "FILE: a path, or a bare name (libz.so.1) searched for as dlopen searches when no file of that name is here.\n" +
        "Output: tables for people; --json for machines on every command that reports (all but completion).\n" +
        "Exit codes: 0 done; 1 the file or library failed (missing, not ELF, malformed, refused, a dependency not found); " +
        "2 the command line is wrong.\n" +
        "Environment: LD_LIBRARY_PATH is searched for dependencies and bare library names, as glibc does; " +
        "LOADER_DEBUG=1 adds the stack trace to an internal error.\n" +
        "Shell completion: source <(loader completion bash)";

    /// <summary>
    /// The root command with every subcommand. It is a plain <see cref="Command"/> named <c>loader</c> rather than a
    /// <see cref="RootCommand"/>, which names itself after the host executable (<c>Loader.Cli</c>, or <c>testhost</c>
    /// under xunit) in help and usage lines.
    /// </summary>
    /// <remarks>With no command, the root runs <c>loader demo</c> on the sample library that ships with the tool.</remarks>
    public static Command CreateRootCommand()
    {
        var root = new Command("loader", Overview)
        {
            new HelpOption(),
            new VersionOption { Action = new PrintVersion() },
            DemoCommand.Create(),
            InfoCommand.Create(),
            HeadersCommand.Create(),
            SegmentsCommand.Create(),
            SectionsCommand.Create(),
            DynamicCommand.Create(),
            SymbolsCommand.Create(),
            RelocsCommand.Create(),
            LayoutCommand.Create(),
            TraceCommand.Create(),
            CallCommand.Create(),
            DepsCommand.Create(),
            BindCommand.Create(),
            TryCommand.Create(),
            ShareCommand.Create(),
            CompletionCommand.Create(),
        };
        root.SetAction(parseResult => DemoCommand.Run(parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error));
        return root;
    }

    /// <summary>
    /// Runs <paramref name="args"/>: 0 on success, 1 for a bad or unreadable file (one line on
    /// <paramref name="stderr"/>), 2 for a bad command line (System.CommandLine's errors on
    /// <paramref name="stderr"/>). An exception the tool did not expect is a bug: it exits 1 with one line naming it,
    /// and the stack trace only when <c>LOADER_DEBUG=1</c>, so a user never sees one by default.
    /// </summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);

        var parseResult = CreateRootCommand().Parse(args);
        if (parseResult.Action is ParseErrorAction)
        {
            foreach (var error in parseResult.Errors)
                stderr.WriteLine(error.Message);
            var failed = parseResult.CommandResult.Command;
            string command = failed.Parents.Any() ? "loader " + failed.Name : "loader";
            stderr.WriteLine($"Run '{command} --help' for usage.");
            return ExitCodes.Usage;
        }

        var configuration = new InvocationConfiguration
        {
            Output = stdout,
            Error = stderr,
            EnableDefaultExceptionHandler = false,
        };
        try
        {
            return parseResult.Invoke(configuration);
        }
        catch (Exception ex)
        {
            bool debug = Environment.GetEnvironmentVariable("LOADER_DEBUG") == "1";
            stderr.WriteLine($"loader: internal error (please report it): {(debug ? ex.ToString() : $"{ex.GetType().Name}: {ex.Message}")}");
            return ExitCodes.BadFile;
        }
    }
}

/// <summary><c>loader --version</c>: the package version and the commit it was built from.</summary>
internal sealed class PrintVersion : System.CommandLine.Invocation.SynchronousCommandLineAction
{
    public override int Invoke(ParseResult parseResult)
    {
        parseResult.InvocationConfiguration.Output.WriteLine(Text);
        return ExitCodes.Success;
    }

    /// <summary><c>loader 0.1.0 (commit 97b377a05f76)</c>; the SDK appends the commit to the informational version when
    /// it builds from a git checkout (<c>0.1.0+sha</c>), and without one there is no commit to print.</summary>
    public static string Text
    {
        get
        {
            string informational = typeof(PrintVersion).Assembly
                .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
                .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion ?? "0.0.0";
            int plus = informational.IndexOf('+', StringComparison.Ordinal);
            return plus < 0
                ? $"loader {informational} (commit unknown: not built from a git checkout)"
                : $"loader {informational[..plus]} (commit {informational[(plus + 1)..]})";
        }
    }
}
