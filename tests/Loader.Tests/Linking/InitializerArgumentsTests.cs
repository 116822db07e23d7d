using System.Runtime.InteropServices;

namespace Loader.Tests.Linking;

/// <summary>
/// glibc calls each DT_INIT_ARRAY entry with <c>(argc, argv, envp)</c>, and Loader must too: a constructor that reads
/// its program's arguments (as some libraries' do, to find options or their own name) sees the same ones either way.
/// Two copies of <c>linking/libctor_args.so</c>, one loaded by glibc's <c>dlopen</c> (the oracle) and one by Loader,
/// each keep what their constructor was given.
/// </summary>
public sealed unsafe class InitializerArgumentsTests
{
    [Fact]
    public void A_constructor_gets_the_arguments_and_environment_glibc_gives_it()
    {
        string dir = Directory.CreateTempSubdirectory("loader-ctor-args-").FullName;
        nint glibc = 0;
        try
        {
            string forGlibc = Path.Combine(dir, "glibc-libctor_args.so");
            string forLoader = Path.Combine(dir, "loader-libctor_args.so");
            File.Copy(Fixtures.Path("linking/libctor_args.so"), forGlibc);
            File.Copy(Fixtures.Path("linking/libctor_args.so"), forLoader);

            glibc = NativeLibrary.Load(forGlibc);
            var expected = Read(name => NativeLibrary.GetExport(glibc, name));
            using var library = new LoaderContext().Load(forLoader);
            var actual = Read(library.GetExport);

            // The oracle is glibc's dlopen; the process's own command line says it read the right thing.
            string[] cmdline = File.ReadAllText("/proc/self/cmdline").TrimEnd('\0').Split('\0');
            Assert.Equal(cmdline, expected.Argv);
            Assert.Equal(expected.Argv.Length, actual.Argc);
            Assert.Equal(expected.Argv, actual.Argv);
            Assert.Equal(expected.Envp, actual.Envp); // both pass libc's environ as it is now
            Assert.NotEqual(0, actual.Envp);
        }
        finally
        {
            if (glibc != 0)
                NativeLibrary.Free(glibc);
            Directory.Delete(dir, recursive: true);
        }
    }

    private static (int Argc, string[] Argv, nint Envp) Read(Func<string, nint> export)
    {
        int argc = ((delegate* unmanaged<int>)export("ctor_argc"))();
        var argv = (nint*)((delegate* unmanaged<nint>)export("ctor_argv"))();
        nint envp = ((delegate* unmanaged<nint>)export("ctor_envp"))();
        Assert.True(argc > 0, $"the constructor was given argc {argc}");
        Assert.Equal(0, argv[argc]); // NULL-terminated, as a C main's
        var strings = new string[argc];
        for (int i = 0; i < argc; i++)
            strings[i] = Marshal.PtrToStringUTF8(argv[i])!;
        return (argc, strings, envp);
    }
}
