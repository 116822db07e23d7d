using System.Runtime.InteropServices;
using System.Text;

namespace Loader.Native;

/// <summary>
/// The <c>(argc, argv, envp)</c> glibc passes to initializers: the process's real command line, read once from
/// <c>/proc/self/cmdline</c> into native memory that lives as long as the process (initializers may keep the pointers,
/// as they may with glibc's <c>_dl_argv</c>), and libc's current <c>environ</c>.
/// </summary>
internal static unsafe class ProcessArguments
{
    // Each value is computed once, on first use, by the class constructor of a class of its own (which the runtime runs
    // once, thread-safely): not a Lazy<T>, whose code for these value types the JIT would compile on the first load.
    private static class CommandLine
    {
        public static readonly (int Argc, nint Argv) Value = Build();
    }

    private static class Environ
    {
        public static readonly nint Address = FindEnviron();
    }

    /// <summary>argc.</summary>
    public static int Argc => CommandLine.Value.Argc;

    /// <summary>argv: a NULL-terminated array of NUL-terminated strings.</summary>
    public static nint Argv => CommandLine.Value.Argv;

    /// <summary>envp: libc's <c>environ</c> as it is now (setenv may have moved it).</summary>
    public static nint Envp => Environ.Address == 0 ? 0 : *(nint*)Environ.Address;

    private static (int, nint) Build()
    {
        string[] args;
        try
        {
            var bytes = File.ReadAllBytes("/proc/self/cmdline");
            args = Encoding.UTF8.GetString(bytes).TrimEnd('\0').Split('\0');
        }
        catch (IOException)
        {
            args = Environment.GetCommandLineArgs();
        }
        // Never freed: initializers may keep argv (glibc's is the process's own).
        var argv = (nint*)NativeMemory.AllocZeroed((nuint)(args.Length + 1), (nuint)sizeof(nint));
        for (int i = 0; i < args.Length; i++)
        {
            var utf8 = Encoding.UTF8.GetBytes(args[i]);
            var s = (byte*)NativeMemory.AllocZeroed((nuint)utf8.Length + 1);
            utf8.CopyTo(new Span<byte>(s, utf8.Length));
            argv[i] = (nint)s;
        }
        return (args.Length, (nint)argv);
    }

    private static nint FindEnviron()
    {
        // libc.so.6 exports `environ` (an alias of __environ): the address of the char ** it keeps current. Through our
        // dlopen and dlsym (the handle stays open, as libc does), not NativeLibrary.TryLoad, whose string marshalling
        // is a stub the JIT compiles.
        nint libc = DynamicLinker.Open("libc.so.6", RtldFlags.RTLD_LAZY, out _);
        return libc == 0 ? 0 : DynamicLinker.Symbol(libc, "environ", out _);
    }
}
