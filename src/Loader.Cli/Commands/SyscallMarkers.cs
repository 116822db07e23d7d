namespace Loader.Cli.Commands;

/// <summary>
/// With <c>LOADER_SYSCALL_MARKERS=1</c> in the environment, <c>loader try</c> brackets each load with a <c>stat</c> of
/// two paths nobody has (<see cref="BeginPath"/>, <see cref="EndPath"/>), so that <c>strace</c> of the published
/// binary can count exactly the system calls a load makes on its thread, as glibc's side is counted by
/// <c>tests/fixtures/tools/load_marked.c</c> (<c>LoadSyscallTests</c>). Off, it costs a field read.
/// </summary>
internal static class SyscallMarkers
{
    public const string Variable = "LOADER_SYSCALL_MARKERS";
    public const string BeginPath = "/loader-marker-begin";
    public const string EndPath = "/loader-marker-end";

    private static readonly bool s_enabled = Environment.GetEnvironmentVariable(Variable) == "1";

    public static void Begin()
    {
        if (s_enabled)
            File.Exists(BeginPath);
    }

    public static void End()
    {
        if (s_enabled)
            File.Exists(EndPath);
    }
}
