using System.CommandLine;
using Loader.Cli.Rendering;

namespace Loader.Cli.Commands;

/// <summary>
/// <c>loader try FILE... [--initializers] [--json]</c>: loads each file with its dependencies in a context of its own,
/// says whether Loader mapped it, took the host's copy or refused it (and why), and unloads it — the question "which of
/// these can Loader load?" asked of a whole folder. One line per file as soon as it is known (JSON Lines with
/// <c>--json</c>), so a caller that watches the output knows which file a crash belongs to.
/// </summary>
internal static class TryCommand
{
    public static Command Create()
    {
        var files = new Argument<string[]>("FILE")
        {
            Description = "The shared objects to load, each on its own.",
            Arity = ArgumentArity.OneOrMore,
        };
        var initializers = new Option<bool>("--initializers")
        {
            Description = "Also run each library's initializers (DT_INIT, DT_INIT_ARRAY) and finalizers. Without it only IFUNC " +
                "resolvers run, since a load cannot finish without them.",
        };
        var json = CommonOptions.Json();
        var command = CommonOptions.NewCommand("try",
            "Load each file (with its dependencies, in a context of its own), report whether Loader mapped it, took the host's copy or refused it and why, then unload it.",
            "loader try /usr/lib/x86_64-linux-gnu/*.so.*");
        command.Add(files);
        command.Add(initializers);
        command.Add(json);
        command.SetAction(parseResult => Run(
            parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error,
            parseResult.GetRequiredValue(files), parseResult.GetValue(initializers), parseResult.GetValue(json)));
        return command;
    }

    /// <summary>0 when every file loads (mapped or the host's), 1 when any is refused.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, IReadOnlyList<string> files, bool initializers, bool json)
    {
        var options = new LoadOptions { RunInitializers = initializers };
        int loaded = 0, host = 0, refused = 0;
        foreach (string file in files)
        {
            var outcome = Try(file, options);
            switch (outcome.Outcome)
            {
                case TryOutcome.Loaded: loaded++; break;
                case TryOutcome.Host: host++; break;
                default: refused++; break;
            }
            if (json)
                CliJsonLines.Write(stdout, outcome);
            else
                stdout.WriteLine($"{outcome.Outcome,-8} {file}{(outcome.Reason is null ? "" : ": " + outcome.Reason)}{UnwindNote(outcome)}");
            stdout.Flush(); // one line per file as it happens: a crash is then the next file's
        }
        if (!json)
            stdout.WriteLine($"{files.Count} files: {loaded} loaded by Loader, {host} taken from the host, {refused} refused");
        return refused == 0 ? ExitCodes.Success : ExitCodes.BadFile;
    }

    /// <summary>Said only when it matters: a library whose frames an exception cannot unwind through although it has
    /// a table (glibc's loader would let libgcc search it).</summary>
    private static string UnwindNote(TryResult outcome) => outcome.Unwind == "refused"
        ? " (its unwind table is not registered: libgcc could not walk it, so C++ exceptions cannot unwind through it)"
        : "";

    private static TryResult Try(string file, LoadOptions options)
    {
        try
        {
            string path = ElfFileRunner.LoadablePath(file);
            var context = new LoaderContext();
            SyscallMarkers.Begin();
            var loaded = context.Load(path, options);
            SyscallMarkers.End();
            using var library = loaded;
            int mapped = library.Context.LoadedLibraries.Count;
            return new TryResult(file, library.IsHost ? TryOutcome.Host : TryOutcome.Loaded, library.SoName, mapped,
                library.Tls?.Model.ToString().ToLowerInvariant(), library.UnwindTable.ToString().ToLowerInvariant(), null, null);
        }
        catch (LoaderException e)
        {
            // Worded as every other command words it, without the file's name the line already starts with.
            return new TryResult(file, TryOutcome.Refused, null, 0, null, null, e.GetType().Name, ElfFileRunner.DescribeWithoutPath(file, e));
        }
    }
}

/// <summary>What <c>loader try</c> found for one file.</summary>
internal static class TryOutcome
{
    public const string Loaded = "loaded";
    public const string Host = "host";
    public const string Refused = "refused";
}

/// <summary>One line of <c>loader try --json</c>.</summary>
/// <param name="File">The file as given.</param>
/// <param name="Outcome">loaded (Loader mapped it), host (the host's copy is used) or refused.</param>
/// <param name="SoName">Its DT_SONAME, when loaded.</param>
/// <param name="Mapped">How many images Loader mapped for it (it and its dependencies).</param>
/// <param name="Tls">Its TLS block's model (dynamic or static), or null without one.</param>
/// <param name="Unwind">Whether libgcc can unwind through it (<see cref="UnwindTableState"/>: none, registered,
/// refused or host), when loaded.</param>
/// <param name="Error">The refusal's exception type (<c>SymbolNotFoundException</c>, ...), or null.</param>
/// <param name="Reason">The refusal, worded as every command words it (<c>no such file</c>, …) without the leading
/// file name when it is this file's; or null.</param>
internal sealed record TryResult(string File, string Outcome, string? SoName, int Mapped, string? Tls, string? Unwind, string? Error, string? Reason);
