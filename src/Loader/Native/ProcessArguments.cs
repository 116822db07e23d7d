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
        if (ReadCommandLine() is not { } bytes)
        {
            // No /proc: the runtime's own copy of the arguments.
            var args = Environment.GetCommandLineArgs();
            var utf8 = new List<byte>();
            foreach (string arg in args)
            {
                utf8.AddRange(Encoding.UTF8.GetBytes(arg));
                utf8.Add(0);
            }
            bytes = [.. utf8];
        }
        // Each argument ends with a NUL, the last one too (and a program that rewrote its argv in place may leave more):
        // the trailing NULs are dropped, so the split makes no empty argument after the last.
        int end = bytes.Length;
        while (end > 0 && bytes[end - 1] == 0)
            end--;
        var text = bytes.AsSpan(0, end);
        int argc = text.Count((byte)0) + 1;
        // Never freed: initializers may keep argv (glibc's is the process's own).
        var argv = (nint*)NativeMemory.AllocZeroed((nuint)(argc + 1), (nuint)sizeof(nint));
        for (int i = 0; i < argc; i++)
        {
            int length = text.IndexOf((byte)0);
            var arg = length < 0 ? text : text[..length];
            var s = (byte*)NativeMemory.AllocZeroed((nuint)arg.Length + 1);
            arg.CopyTo(new Span<byte>(s, arg.Length));
            argv[i] = (nint)s;
            text = length < 0 ? default : text[(length + 1)..];
        }
        return (argc, (nint)argv);
    }

    /// <summary>
    /// /proc/self/cmdline, read with our own open and pread (its size reads as 0, so until pread returns 0); null when
    /// it cannot be read. Not <c>File.ReadAllBytes</c>: its <c>SafeFileHandle</c> is made through <c>Activator</c>, whose
    /// cache the runtime makes by reflection and the JIT compiles, on every process's first load.
    /// </summary>
    private static byte[]? ReadCommandLine()
    {
        using var fd = FileDescriptor.OpenReadOnly("/proc/self/cmdline", out _);
        if (fd is null)
            return null;
        var buffer = new byte[4096];
        int length = 0;
        while (true)
        {
            if (length == buffer.Length)
                Array.Resize(ref buffer, buffer.Length * 2);
            int read = fd.ReadAt(buffer.AsSpan(length), length, out _);
            if (read < 0)
                return null;
            if (read == 0)
                return buffer[..length];
            length += read;
        }
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
