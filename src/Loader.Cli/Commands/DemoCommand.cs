using System.CommandLine;
using Loader.Cli.Rendering;
using Loader.Mapping;

namespace Loader.Cli.Commands;

/// <summary>
/// <c>loader demo</c> (and <c>loader</c> with no argument): the sample library that ships with the tool,
/// libloader_demo.so (built from Sample/libloader_demo.c with the CLI), shown from file to running code: its
/// <c>info</c> summary, its <c>layout</c> and its <c>trace</c> (mapped only), then loaded for real with
/// <see cref="ElfLibrary.Load(string, LoadOptions?)"/> — relocated, RELRO protected — and two of its exports called
/// as <c>loader call</c> calls them. Needs no argument, so it is the first command to try.
/// </summary>
internal static class DemoCommand
{
    /// <summary>The sample's file name; the build copies it next to the tool.</summary>
    public const string SampleFileName = "libloader_demo.so";

    public static Command Create()
    {
        var json = CommonOptions.Json();
        var command = CommonOptions.NewCommand("demo",
            $"Show what the loader does on its sample library {SampleFileName} (shipped next to the tool): info, layout, trace, then load it and call two of its exports. Also what `loader` alone runs.",
            "loader demo");
        command.Add(json);
        command.SetAction(parseResult => parseResult.GetValue(json)
            ? RunJson(parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error)
            : Run(parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error));
        return command;
    }

    /// <summary>
    /// <c>loader demo --json</c>: the same four parts as one object — <c>info</c>, <c>layout</c> and <c>trace</c> as
    /// those commands' <c>--json</c> write them, and <c>load</c>: where the loaded sample's regions are and the two calls.
    /// </summary>
    public static int RunJson(TextWriter stdout, TextWriter stderr)
    {
        string sample = SamplePath;
        if (!File.Exists(sample))
            return SampleMissing(stderr);
        DemoReport report;
        try
        {
            report = DemoJson.Build(sample);
        }
        catch (Exception ex) when (ElfFileRunner.IsFileProblem(ex))
        {
            return ElfFileRunner.Fail(stderr, sample, ex);
        }
        CliJsonContext.Write(stdout, report, CliJsonContext.Default.DemoReport);
        return ExitCodes.Success;
    }

    private static int SampleMissing(TextWriter stderr)
    {
        stderr.WriteLine($"loader: the sample library {SampleFileName} is not next to the tool in {AppContext.BaseDirectory} " +
            "(the CLI's build compiles it from Sample/libloader_demo.c with gcc); pass a FILE to layout or trace instead");
        return ExitCodes.BadFile;
    }

    /// <summary>Where the sample is: next to the tool (the executable, or Loader.Cli.dll).</summary>
    public static string SamplePath => Path.Combine(AppContext.BaseDirectory, SampleFileName);

    public static int Run(TextWriter stdout, TextWriter stderr)
    {
        string sample = SamplePath;
        if (!File.Exists(sample))
            return SampleMissing(stderr);

        stdout.WriteLine($"loader demo: the sample library that ships with the tool, {sample}");
        stdout.WriteLine("First it is only mapped, the way a dynamic loader maps it (one PROT_NONE reservation, MAP_FIXED overlays, .bss, RELRO),");
        stdout.WriteLine("and nothing of it runs; then it is loaded for real (relocated, RELRO protected) and two of its exports are called.");
        stdout.WriteLine("Try the same on any library: loader info|layout|trace|deps FILE, loader call FILE 'PROTOTYPE' ARGS...");

        int exit = Section(stdout, "info", $"loader info {SampleFileName}: what the file is",
            () => InfoCommand.Run(stdout, stderr, sample, json: false));
        if (exit == ExitCodes.Success)
            exit = Section(stdout, "layout", $"loader layout {SampleFileName}: where each region landed, next to /proc/self/maps",
                () => LayoutCommand.Run(stdout, stderr, sample, json: false, svgPath: null));
        if (exit == ExitCodes.Success)
            exit = Section(stdout, "trace", $"loader trace {SampleFileName}: how it got there, call by call",
                () => TraceCommand.Run(stdout, stderr, sample, json: false));
        if (exit == ExitCodes.Success)
            exit = Section(stdout, "call", $"ElfLibrary.Load({SampleFileName}), then loader call on two of its exports",
                () => LoadAndCall(stdout, stderr, sample));
        return exit;
    }

    /// <summary>Loads the sample with <see cref="ElfLibrary.Load(string, LoadOptions?)"/>, shows where its regions are
    /// now (RELRO read-only after relocation) and calls <c>demo_add</c> and <c>demo_greeting</c>.</summary>
    private static int LoadAndCall(TextWriter stdout, TextWriter stderr, string sample)
    {
        ElfLibrary library;
        try
        {
            library = ElfLibrary.Load(sample);
        }
        catch (Exception ex) when (ElfFileRunner.IsFileProblem(ex))
        {
            return ElfFileRunner.Fail(stderr, sample, ex);
        }
        using (library)
        {
            int relative = library.Relocations.Count(r => r.Symbol is null);
            stdout.WriteLine($"Loaded at 0x{library.BaseAddress:x}: {library.Relocations.Count} relocations applied ({relative} relative), " +
                $"DT_NEEDED {(library.Dependencies.Count == 0 ? "none" : string.Join(", ", library.Dependencies.Select(d => $"{d.Needed} ({d.FoundVia})")))}, " +
                "initializers run, RELRO read-only:");
            var table = new TextTable(new Column("start"), new Column("end"), new Column("prot"),
                new Column("kind"), new Column("sections")) { Indent = 2 };
            foreach (var segment in library.Segments)
                table.Add($"0x{segment.Start:x}", $"0x{segment.End:x}", segment.Protection.ToMapsString(),
                    MappingNames.Kind(segment.Content), string.Join(' ', segment.Sections));
            table.Write(stdout);
            stdout.WriteLine();
            stdout.WriteLine("Calls, through libffi, as `loader call` makes them:");
            foreach (var (call, result) in DemoJson.Calls(library))
                stdout.WriteLine($"  {call} = {result}");
            stdout.WriteLine();
            stdout.WriteLine($"Try: loader call {sample} 'int demo_add(int, int)' 40 2");
        }
        return ExitCodes.Success;
    }

    private static int Section(TextWriter stdout, string name, string title, Func<int> body)
    {
        stdout.WriteLine();
        stdout.WriteLine($"== {name} == {title}");
        stdout.WriteLine();
        return body();
    }
}
