using System.CommandLine;

namespace Loader.Cli.Commands;

/// <summary>
/// <c>loader demo</c> (and <c>loader</c> with no argument): the sample library that ships with the tool,
/// libloader_demo.so (built from Sample/libloader_demo.c with the CLI), shown from file to mapped image: its
/// <c>info</c> summary, its <c>layout</c> and its <c>trace</c>. Needs no argument, so it is the first command to try.
/// </summary>
internal static class DemoCommand
{
    /// <summary>The sample's file name; the build copies it next to the tool.</summary>
    public const string SampleFileName = "libloader_demo.so";

    public static Command Create()
    {
        var command = CommonOptions.NewCommand("demo",
            $"Show what the loader does on its sample library {SampleFileName} (shipped next to the tool): info, layout, trace. Also what `loader` alone runs.",
            "loader demo");
        command.SetAction(parseResult => Run(parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error));
        return command;
    }

    /// <summary>Where the sample is: next to the tool (the executable, or Loader.Cli.dll).</summary>
    public static string SamplePath => Path.Combine(AppContext.BaseDirectory, SampleFileName);

    public static int Run(TextWriter stdout, TextWriter stderr)
    {
        string sample = SamplePath;
        if (!File.Exists(sample))
        {
            stderr.WriteLine($"loader: the sample library {SampleFileName} is not next to the tool in {AppContext.BaseDirectory} " +
                "(the CLI's build compiles it from Sample/libloader_demo.c with gcc); pass a FILE to layout or trace instead");
            return ExitCodes.BadFile;
        }

        stdout.WriteLine($"loader demo: the sample library that ships with the tool, {sample}");
        stdout.WriteLine("It is mapped the way a dynamic loader maps it (one PROT_NONE reservation, MAP_FIXED overlays, .bss, RELRO);");
        stdout.WriteLine("nothing of it runs. Try the same on any library: loader info|layout|trace FILE, loader layout FILE --svg out.svg");

        int exit = Section(stdout, "info", $"loader info {SampleFileName}: what the file is",
            () => InfoCommand.Run(stdout, stderr, sample, json: false));
        if (exit == ExitCodes.Success)
            exit = Section(stdout, "layout", $"loader layout {SampleFileName}: where each region landed, next to /proc/self/maps",
                () => LayoutCommand.Run(stdout, stderr, sample, json: false, svgPath: null));
        if (exit == ExitCodes.Success)
            exit = Section(stdout, "trace", $"loader trace {SampleFileName}: how it got there, call by call",
                () => TraceCommand.Run(stdout, stderr, sample, json: false));
        return exit;
    }

    private static int Section(TextWriter stdout, string name, string title, Func<int> body)
    {
        stdout.WriteLine();
        stdout.WriteLine($"== {name} == {title}");
        stdout.WriteLine();
        return body();
    }
}
