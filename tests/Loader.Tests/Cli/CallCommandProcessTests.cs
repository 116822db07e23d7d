using Loader.Tests.Oracles;

namespace Loader.Tests.Cli;

/// <summary>
/// <c>loader call</c> of variadic functions, run as the built tool in a child process (so C's stdout is a pipe, fully
/// buffered by glibc), compared byte for byte with a C program making the same call: what the function printed comes
/// first (the tool flushes C's stdio after the call), then the result.
/// </summary>
public sealed class CallCommandProcessTests
{
    // printf(fmt, ...) with the variadic arguments typed as C types their literals, then the return value.
    private const string PrintfOracle = """
        #include <stdio.h>
        int main(void) {
            int n = printf("x=%d %s %.3f %ld %u|", 42, "hi", 2.5, 5000000000L, 0xffffffffu);
            fflush(stdout);
            printf("%d\n", n);
            return 0;
        }
        """;

    [Fact]
    public void Printf_from_libc_prints_before_the_result_as_C_does()
    {
        var result = LoaderProcess.Run("call", CliHarness.LibC, "int printf(const char *, ...)", "x=%d %s %.3f %ld %u|", "42", "hi", "2.5", "5000000000", "0xffffffff");

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal("", result.Stderr);
        Assert.Equal(COracle.Run(PrintfOracle), result.Stdout);
        Assert.Equal("x=42 hi 2.500 5000000000 4294967295|36\n", result.Stdout);
    }

    // basic.so's format_to(buf, n, fmt, ...) -> vsnprintf: with (NULL, 0) it returns the length it would write.
    private const string FormatToOracle = """
        #include <dlfcn.h>
        #include <stdio.h>
        int main(int argc, char **argv) {
            void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
            if (!h) { fprintf(stderr, "%s\n", dlerror()); return 1; }
            int (*format_to)(char *, size_t, const char *, ...) = (int (*)(char *, size_t, const char *, ...))dlsym(h, "format_to");
            printf("%d\n", format_to(NULL, 0, "%s=%d %g %ld %e", "temperature", -17, 2.5, 5000000000L, 1e-300));
            char buffer[128];
            format_to(buffer, sizeof buffer, "%s=%d %g %ld %e", "temperature", -17, 2.5, 5000000000L, 1e-300);
            printf("%s\n", buffer);
            return 0;
        }
        """;

    [Fact]
    public void A_fixtures_variadic_export_returns_what_C_gets()
    {
        string basic = Fixtures.Path("basic.so");

        var result = LoaderProcess.Run("call", basic, "int format_to(char *, size_t, const char *, ...)", "NULL", "0", "%s=%d %g %ld %e", "temperature", "-17", "2.5", "5000000000", "1e-300");

        Assert.True(result.ExitCode == 0, result.Stderr);
        string[] oracle = COracle.Run(FormatToOracle, basic).Split('\n');
        Assert.Equal(oracle[0] + "\n", result.Stdout);
        Assert.Equal("temperature=-17 2.5 5000000000 1.000000e-300", oracle[1]);
        Assert.Equal($"{oracle[1].Length}\n", result.Stdout);
    }

    [Fact]
    public void Puts_inside_a_call_comes_out_before_the_result()
    {
        var result = LoaderProcess.Run("call", CliHarness.LibC, "int puts(const char *)", "from C");

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal("from C\n7\n", result.Stdout); // puts returns a non-negative number: glibc returns the length written
    }

    [Fact]
    public void Usage_errors_exit_2_from_the_built_tool()
    {
        var result = LoaderProcess.Run("call", CliHarness.LibC, "int abs(int)", "x");

        Assert.Equal(2, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.Contains("argument 1 ('x'): expected an int", result.Stderr);
    }
}
