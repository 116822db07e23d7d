namespace Loader.Tests.Oracles;

/// <summary>
/// gdb in batch mode, starting the program itself (<c>run</c>) rather than attaching: no ptrace permission to ask
/// for (Yama, containers), and the libraries a program maps after it starts reach gdb through the dynamic linker's
/// <c>r_brk</c> events, which is what a debugger sees of a load.
/// </summary>
public static class Gdb
{
    /// <summary>A batch run is a few seconds; a hung one fails the test instead of stalling the suite.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Runs <paramref name="program"/> with <paramref name="arguments"/> under gdb: <paramref name="setup"/> before
    /// <c>run</c>, <paramref name="atStop"/> where it first stops, then kills it. Breakpoints may be pending (on a
    /// library not loaded yet).
    /// </summary>
    public static ChildProcess.Result Run(string program, IReadOnlyList<string> arguments, IReadOnlyList<string> setup, IReadOnlyList<string> atStop)
    {
        var args = new List<string> { "-batch", "-nx", "-iex", "set debuginfod enabled off" };
        // The .NET runtime signals its own threads (SIGRTMIN to inject activations, SIGUSR*), and turns faults in
        // managed code into exceptions (SIGSEGV, SIGFPE): gdb passes them on silently instead of stopping there.
        string[] settings =
        [
            "set breakpoint pending on", "set pagination off", "set confirm off", "set disable-randomization off",
            "handle SIGUSR1 SIGUSR2 SIGPIPE SIG34 SIG35 SIG36 SIGSEGV SIGFPE SIGILL SIGBUS SIGCHLD nostop noprint pass",
        ];
        foreach (string command in (IEnumerable<string>)[.. settings, .. setup, "run", .. atStop, "kill"])
        {
            args.Add("-ex");
            args.Add(command);
        }
        args.Add("--args");
        args.Add(program);
        args.AddRange(arguments);
        return ChildProcess.Run("gdb", args, timeout: Timeout);
    }

    /// <summary>
    /// Attaches to the running process <paramref name="pid"/> (<c>gdb -batch -p</c>), runs <paramref name="commands"/>
    /// and detaches: what a debugger sees of a process that loaded libraries before it came.
    /// </summary>
    public static ChildProcess.Result Attach(int pid, IReadOnlyList<string> commands)
    {
        var args = new List<string> { "-batch", "-nx", "-iex", "set debuginfod enabled off", "-ex", "set pagination off" };
        foreach (string command in commands)
        {
            args.Add("-ex");
            args.Add(command);
        }
        args.Add("-p");
        args.Add(pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return ChildProcess.Run("gdb", args, timeout: Timeout);
    }
}
