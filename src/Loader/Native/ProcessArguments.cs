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
    private static readonly Lazy<(int Argc, nint Argv)> Arguments = new(Build);
    private static readonly Lazy<nint> EnvironAddress = new(FindEnviron);

    /// <summary>argc.</summary>
    public static int Argc => Arguments.Value.Argc;

    /// <summary>argv: a NULL-terminated array of NUL-terminated strings.</summary>
    public static nint Argv => Arguments.Value.Argv;

    /// <summary>envp: libc's <c>environ</c> as it is now (setenv may have moved it).</summary>
    public static nint Envp => EnvironAddress.Value == 0 ? 0 : *(nint*)EnvironAddress.Value;

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
        // libc.so.6 exports `environ` (an alias of __environ): the address of the char ** it keeps current.
        return NativeLibrary.TryLoad("libc.so.6", out var libc) && NativeLibrary.TryGetExport(libc, "environ", out var address)
            ? address
            : 0;
    }
}
