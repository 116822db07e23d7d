using System.Diagnostics;
using System.Globalization;

namespace Loader.Benchmarks;

/// <summary>
/// <c>--paired [LIBRARY…]</c>: load + unload of a fresh copy, glibc's <c>dlopen(RTLD_NOW|RTLD_LOCAL)</c> +
/// <c>dlclose</c> against Loader's <c>Load</c> + <c>Dispose</c> in one <see cref="LoaderContext"/> (as the survey), each
/// side in a process of its own (<c>--paired-child SIDE LIBRARY</c>), as BenchmarkDotNet runs them —
/// but in lockstep: the parent asks one side for one load, then the other, in an order shuffled per round, and only one
/// side runs at a time. The VM's drift then falls on both sides alike (separate BenchmarkDotNet runs of the same code
/// differ by more than a change moves a load on this VM), and neither side's objects enter the other's process (in the
/// one-process loops, every glibc <c>dlopen</c> changes the host's list of objects that Loader's next load walks).
/// <c>--paired --held N[,N…] [LIBRARY…]</c>: each side first loads N small generated libraries
/// (<see cref="GeneratedLibrarySet"/>) and holds them while it times the rounds, as a plugin host holds its plugins
/// (glibc in its one namespace, Loader in the same context as the timed loads): what loading one more library costs
/// when a process already has many.
/// <c>--paired --no-unwind-tables [LIBRARY…]</c>: Loader's side loads with <see cref="LoadOptions.RegisterUnwindTables"/>
/// false (no <c>.eh_frame</c> checked or registered), what a library no unwinder walks through can ask for.
/// </summary>
internal static class Paired
{
    public const string Command = "--paired";
    public const string ChildCommand = "--paired-child";
    private const string NoUnwindTables = "--no-unwind-tables";
    private const string LoaderWithoutUnwindTables = "loader-no-unwind-tables";

    private const int Rounds = 400;
    private static readonly string[] Benchmarked =
        ["libz.so.1", "libsqlite3.so.0", "libpfm.so.4", "libcrypto.so.3", "libpython3.11.so.1.0", "libcap-ng.so.0"];

    public static int Run(string[] arguments, TextWriter output)
    {
        int[] held = [0];
        bool noUnwindTables = arguments.Contains(NoUnwindTables);
        arguments = [.. arguments.Where(a => a != NoUnwindTables)];
        int at = Array.IndexOf(arguments, "--held");
        if (at >= 0)
        {
            if (at + 1 >= arguments.Length)
                throw new ArgumentException("--held needs a count, or counts separated by commas (0,100,1000)");
            held = [.. arguments[at + 1].Split(',').Select(n => int.Parse(n, CultureInfo.InvariantCulture))];
            arguments = [.. arguments[..at], .. arguments[(at + 2)..]];
        }
        string[] libraries = arguments.Length == 0 ? Benchmarked : arguments;
        int setSize = held.Max();
        if (setSize > 0)
            GeneratedLibrarySet.Ensure(setSize); // made once here (gcc), not in each child
        output.WriteLine($"glibc and Loader in a process each, one load + unload of a fresh copy at a time, {Rounds} rounds in shuffled order");
        if (setSize > 0)
            output.WriteLine($"held: that many of {setSize} generated libraries, loaded by each side before its warm-up and held throughout");
        if (noUnwindTables)
            output.WriteLine("Loader's side loads with RegisterUnwindTables = false: no .eh_frame checked or registered");
        output.WriteLine();
        output.WriteLine("| library | held | glibc median | Loader median | ratio of medians | glibc p25 | Loader p25 | ratio of p25s | median of the rounds' ratios |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (string library in libraries)
            foreach (int count in held)
                Compare(library, count, setSize, noUnwindTables, output);
        return 0;
    }

    private static void Compare(string library, int held, int setSize, bool noUnwindTables, TextWriter output)
    {
        using var glibc = Side.Start("glibc", library, held, setSize);
        using var loader = Side.Start(noUnwindTables ? LoaderWithoutUnwindTables : "loader", library, held, setSize);
        glibc.WaitUntilReady();
        loader.WaitUntilReady();
        var g = new double[Rounds];
        var l = new double[Rounds];
        var perRound = new double[Rounds];
        var random = new Random(17);
        for (int round = 0; round < Rounds; round++)
        {
            if (random.Next(2) == 0)
            {
                g[round] = glibc.LoadOnce();
                l[round] = loader.LoadOnce();
            }
            else
            {
                l[round] = loader.LoadOnce();
                g[round] = glibc.LoadOnce();
            }
            perRound[round] = l[round] / g[round];
        }
        Array.Sort(g);
        Array.Sort(l);
        Array.Sort(perRound);
        double gm = g[Rounds / 2], lm = l[Rounds / 2], gq = g[Rounds / 4], lq = l[Rounds / 4];
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {library} | {held} | {gm:F0} µs | {lm:F0} µs | {lm / gm:F3}× | {gq:F0} µs | {lq:F0} µs | {lq / gq:F3}× | {perRound[Rounds / 2]:F3}× |"));
    }

    /// <summary>The child: warms its side up, says "ready", then times one load + unload of a fresh copy for every "go"
    /// on its standard input, answering with the microseconds.</summary>
    public static int Child(string side, string library, int held, int setSize)
    {
        string source = library.Contains('/') ? library : Libraries.SystemPath(library);
        // One context for every load, as glibc has one namespace: what glibc keeps after a dlclose (a DF_1_NODELETE
        // copy, the first definer of an STB_GNU_UNIQUE symbol) the context keeps too, and no more — with a context per
        // load, every copy of a C++ library would stay, each in a namespace of its own (docs/benchmarks.md, "Session 13").
        var context = new LoaderContext();
        var options = side == LoaderWithoutUnwindTables ? new LoadOptions { RegisterUnwindTables = false } : LoadOptions.Default;
        if (side == LoaderWithoutUnwindTables)
            side = "loader";
        var holding = Hold(side, context, options, held == 0 ? [] : GeneratedLibrarySet.Ensure(setSize).GetRange(0, held));
        Func<string, double> loadOnce = side switch
        {
            "glibc" => Glibc.TimeLoadUnload,
            "loader" => copy =>
            {
                long start = Stopwatch.GetTimestamp();
                context.Load(copy, options).Dispose();
                return Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            },
            _ => throw new ArgumentException($"{side}: the side is glibc or loader", nameof(side)),
        };
        double OnFreshCopy(string tag) => Libraries.OnPrivateCopyOf(source, tag, loadOnce);
        // The same warm-up on both sides (it compiles glibc's side's managed timing code too): until a stage of loads
        // compiles nothing, so the rounds run the optimized load path.
        JitWarmUp.UntilSettled(() =>
        {
            for (int i = 0; i < 30; i++)
                OnFreshCopy("paired-warm-" + side);
        }, TimeSpan.FromMilliseconds(500), maxStages: 20);
        Console.Out.WriteLine("ready");
        Console.Out.Flush();
        while (Console.In.ReadLine() == "go")
        {
            Console.Out.WriteLine(OnFreshCopy("paired-" + side).ToString("R", CultureInfo.InvariantCulture));
            Console.Out.Flush();
        }
        GC.KeepAlive(holding);
        return 0;
    }

    /// <summary>Loads <paramref name="files"/> through the side and keeps them: glibc's handles, or Loader's in the
    /// context the rounds load into, with the rounds' options.</summary>
    private static object Hold(string side, LoaderContext context, LoadOptions options, List<string> files)
    {
        if (side == "loader")
            return files.ConvertAll(file => context.Load(file, options));
        var handles = new List<nint>(files.Count);
        foreach (string file in files)
        {
            nint handle = Glibc.DlOpen(file, Glibc.RTLD_NOW | Glibc.RTLD_LOCAL);
            if (handle == 0)
                throw new InvalidOperationException($"dlopen({file}): {Glibc.DlError()}");
            handles.Add(handle);
        }
        return handles;
    }

    /// <summary>One side's child process, spoken to a line at a time.</summary>
    private sealed class Side : IDisposable
    {
        private readonly Process _process;
        private readonly string _name;

        private Side(Process process, string name)
        {
            _process = process;
            _name = name;
        }

        public static Side Start(string side, string library, int held, int setSize)
        {
            var (program, arguments) = SelfCommand.With(ChildCommand, side, library,
                held.ToString(CultureInfo.InvariantCulture), setSize.ToString(CultureInfo.InvariantCulture));
            var start = new ProcessStartInfo(program, arguments) { RedirectStandardInput = true, RedirectStandardOutput = true };
            return new Side(Process.Start(start)!, $"{side} child for {library}, holding {held}");
        }

        public void WaitUntilReady()
        {
            string? line = _process.StandardOutput.ReadLine();
            if (line != "ready")
                throw new InvalidOperationException($"{_name}: expected \"ready\", read {(line is null ? "the end" : $"\"{line}\"")}");
        }

        public double LoadOnce()
        {
            _process.StandardInput.WriteLine("go");
            _process.StandardInput.Flush();
            string line = _process.StandardOutput.ReadLine()
                ?? throw new InvalidOperationException($"{_name}: ended (exit {(_process.WaitForExit(5000) ? _process.ExitCode : -1)})");
            return double.Parse(line, CultureInfo.InvariantCulture);
        }

        public void Dispose()
        {
            try
            {
                _process.StandardInput.WriteLine("quit");
                _process.StandardInput.Close();
                if (!_process.WaitForExit(30_000))
                    _process.Kill(entireProcessTree: true);
            }
            finally
            {
                _process.Dispose();
            }
        }
    }
}
