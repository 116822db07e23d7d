using System.Globalization;
using System.Text.Json;
using Loader.Tests.Oracles;

namespace Loader.Tests.Cli;

/// <summary>
/// <c>loader call</c> in-process: results compared with what C itself gives (glibc's dlopen+dlsym, <c>printf("%.17g")</c>
/// in a compiled program), the host's libm, and every usage error naming its argument with exit 2.
/// </summary>
[Collection("AddressSpace")]
public sealed class CallCommandTests
{
    private const string LibM = "/usr/lib/x86_64-linux-gnu/libm.so.6";

    // glibc's own answer: dlopen + dlsym in a C program, independent of Loader.
    private const string ZlibVersionOracle = """
        #include <dlfcn.h>
        #include <stdio.h>
        int main(void) {
            void *h = dlopen("/usr/lib/x86_64-linux-gnu/libz.so.1", RTLD_NOW | RTLD_LOCAL);
            if (!h) { fprintf(stderr, "%s\n", dlerror()); return 1; }
            const char *(*version)(void) = (const char *(*)(void))dlsym(h, "zlibVersion");
            if (!version) { fprintf(stderr, "%s\n", dlerror()); return 1; }
            printf("%s\n", version());
            return 0;
        }
        """;

    // scale(a, b) from a fixture, for each pair of arguments, printed as C prints a double with %.17g.
    private const string ScaleOracle = """
        #include <dlfcn.h>
        #include <stdio.h>
        #include <stdlib.h>
        int main(int argc, char **argv) {
            void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
            if (!h) { fprintf(stderr, "%s\n", dlerror()); return 1; }
            double (*scale)(double, double) = (double (*)(double, double))dlsym(h, "scale");
            for (int i = 2; i + 1 < argc; i += 2)
                printf("%.17g\n", scale(strtod(argv[i], NULL), strtod(argv[i + 1], NULL)));
            return 0;
        }
        """;

    [Fact]
    public void ZlibVersion_prints_what_glibcs_dlopen_and_dlsym_give()
    {
        var result = CliHarness.Run("call", CliHarness.LibZ, "const char *zlibVersion(void)");

        CliHarness.AssertSuccess(result);
        string expected = COracle.Run(ZlibVersionOracle);
        Assert.Equal(expected, result.Stdout);
        Assert.Equal("1.2.13\n", result.Stdout);
    }

    public static TheoryData<string, string, string> ScaleCases => new()
    {
        { "basic.so", "2.5", "0.1" },
        { "basic.so", "1", "3" },
        { "basic.so", "0.1", "0.2" },
        { "hash_sysv.so", "-7.25", "1e20" },
        { "gold.so", "1e-300", "1e-10" },
        { "basic.so", "3.141592653589793", "2.718281828459045" },
        { "norelro.so", "123456789", "1e-5" },
        { "basic.so", "1e308", "10" },
        { "basic.so", "-0", "5" },
    };

    [Theory]
    [MemberData(nameof(ScaleCases))]
    public void Doubles_print_what_C_prints_with_percent_17g(string fixture, string a, string b)
    {
        string path = Fixtures.Path(fixture);

        var result = CliHarness.Run("call", path, "double scale(double, double)", a, b);

        CliHarness.AssertSuccess(result);
        Assert.Equal(COracle.Run(ScaleOracle, path, a, b), result.Stdout);
    }

    [Fact]
    public void Cos_of_1_from_the_hosts_libm()
    {
        var result = CliHarness.Run("call", LibM, "double cos(double)", "1");

        CliHarness.AssertSuccess(result);
        Assert.Equal("0.54030230586813977\n", result.Stdout);
        Assert.Equal(0.54030230586813977, Math.Cos(1));
        var deps = CliHarness.Run("deps", LibM);
        Assert.Contains("host", deps.Stdout); // the host's copy is the one called
    }

    [Theory]
    [InlineData("basic.so", "int add(int a, int b)", "5", "2", "3")]
    [InlineData("basic.so", "int add(int, int)", "-1", "2147483647", "-2147483648")]
    [InlineData("basic.so", "int add(int, int)", "16", "0x10", "0")]
    [InlineData("basic.so", "const char *greeting(void)", "Hello, Loader!")]
    [InlineData("basic.so", "const char *color_at(int)", "green", "1")]
    [InlineData("basic.so", "const char *color_at(int)", "NULL", "3")]
    [InlineData("basic.so", "int use_hidden(int);", "15", "4")] // hidden_helper(4) + internal_only(4)
    [InlineData("chain/libchain_a.so", "int chain_a_value(void)", "321")]
    [InlineData("linking/libinterpose_user.so", "const char *which_name(void)", "first")]
    [InlineData("linking/libversioned_user.so", "int call_compute_v1(int)", "11", "10")]
    public void Fixture_functions_return_what_the_fixtures_readme_says(string fixture, string prototype, string expected, params string[] args)
    {
        var result = CliHarness.Run(["call", Fixtures.Path(fixture), prototype, .. args]);

        CliHarness.AssertSuccess(result);
        Assert.Equal(expected + "\n", result.Stdout);
    }

    [Theory]
    [InlineData("int abs(int)", "5", "-5")]
    [InlineData("long labs(long)", "5000000000", "-5000000000")]
    [InlineData("long long llabs(long long)", "9223372036854775807", "-9223372036854775807")]
    [InlineData("size_t strlen(const char *)", "6", "héllo")]
    [InlineData("int toupper(int)", "65", "97")]
    [InlineData("unsigned long strtoul(const char *, char **, int)", "18446744073709551615", "0xffffffffffffffff", "NULL", "16")]
    [InlineData("int strcmp(const char *, const char *)", "0", "same", "same")]
    [InlineData("double atof(const char *)", "0.10000000000000001", "0.1")]
    [InlineData("float strtof(const char *, char **)", "0.100000001", "0.1", "NULL")]
    [InlineData("int32_t abs(int32_t)", "7", "-7")]
    [InlineData("uint8_t abs(int)", "255", "-255")] // the return is truncated to the declared type, as C would
    [InlineData("int isdigit(int)", "2048", "55")]
    [InlineData("double ldexp(double, int)", "1.0000000000000001e-05", "1e-05", "0")]
    [InlineData("double strtod(const char *, char **)", "inf", "INF", "NULL")]
    public void Every_integer_type_float_and_strings_through_libc(string prototype, string expected, params string[] args)
    {
        var result = CliHarness.Run(["call", CliHarness.LibC, prototype, .. args]);

        CliHarness.AssertSuccess(result);
        Assert.Equal(expected + "\n", result.Stdout);
    }

    [Fact]
    public void Void_returns_print_nothing_and_pointers_print_in_hex()
    {
        var set = CliHarness.Run("call", Fixtures.Path("basic.so"), "void set_counter(int)", "7");
        CliHarness.AssertSuccess(set);
        Assert.Equal("", set.Stdout);

        var pointer = CliHarness.Run("call", CliHarness.LibC, "void *memchr(const char *, int, size_t)", "abc", "99", "3");
        CliHarness.AssertSuccess(pointer);
        Assert.Matches("^0x[0-9a-f]+\n$", pointer.Stdout);
        var none = CliHarness.Run("call", CliHarness.LibC, "void *memchr(const char *, int, size_t)", "abc", "100", "3");
        Assert.Equal("0x0\n", none.Stdout);
    }

    [Fact]
    public void Json_has_function_prototype_result_type_library_and_address()
    {
        var result = CliHarness.Run("call", Fixtures.Path("basic.so"), "double scale(double,double)", "2.5", "0.5", "--json");

        CliHarness.AssertSuccess(result);
        using var json = JsonDocument.Parse(result.Stdout);
        var root = json.RootElement;
        Assert.Equal("scale", root.GetProperty("function").GetString());
        Assert.Equal("double scale(double, double)", root.GetProperty("prototype").GetString());
        Assert.Equal(1.25, root.GetProperty("result").GetDouble());
        Assert.Equal("double", root.GetProperty("type").GetString());
        Assert.Equal(Fixtures.Path("basic.so"), root.GetProperty("library").GetString());
        Assert.True(root.GetProperty("address").GetUInt64() > 0);

        var text = CliHarness.Run("call", CliHarness.LibZ, "const char *zlibVersion(void)", "--json");
        using var textJson = JsonDocument.Parse(text.Stdout);
        Assert.Equal("1.2.13", textJson.RootElement.GetProperty("result").GetString());
        Assert.Equal("const char *", textJson.RootElement.GetProperty("type").GetString());
    }

    public static TheoryData<string[], string> UsageErrors => new()
    {
        { ["int add(int, int)", "2", "abc"], "argument 2 ('abc'): expected an int" },
        { ["int add(int a, int b)", "2"], "call: the prototype takes 2 arguments (int a, int b); 1 given, missing the 2nd: int b" },
        { ["int add(int, int)"], "call: the prototype takes 2 arguments (int, int); 0 given, missing the 1st: int" },
        { ["void *f(void *)", "buf:0"], "argument 1 ('buf:0'): a buffer is buf:N with N from 1 to 1048576 bytes" },
        { ["int add(int, int)", "2", "3", "4"], "argument 3 ('4'): int add(int, int) takes 2 arguments, 3 given" },
        { ["int add(int, int)", "3000000000", "1"], "argument 1 ('3000000000'): out of range for int (-2147483648 to 2147483647)" },
        { ["unsigned char f(unsigned char)", "256"], "argument 1 ('256'): out of range for unsigned char (0 to 255)" },
        { ["size_t f(size_t)", "-1"], "argument 1 ('-1'): out of range for size_t" },
        { ["int8_t f(int8_t)", "-129"], "argument 1 ('-129'): out of range for int8_t (-128 to 127)" },
        { ["double cos(double)", "1,5"], "argument 1 ('1,5'): expected a double" },
        { ["float f(float)", "1e39"], "argument 1 ('1e39'): out of range for float" },
        { ["void *f(void *)", "here"], "argument 1 ('here'): expected a void * (NULL or an address" },
        { ["_Bool f(_Bool)", "2"], "argument 1 ('2'): out of range for _Bool (0 to 1)" },
        { ["int printf(const char *, ...)", "%d", "99999999999999999999999"], "argument 2 ('99999999999999999999999'): too large for any C integer type" },
        { ["int add(int, int"], "prototype 'int add(int, int': expected ')' to close the parameter list" },
        { ["foo_t f(int)"], "prototype 'foo_t f(int)': unknown type 'foo_t'" },
        { ["int f(widget)"], "prototype 'int f(widget)': parameter 1: unknown type 'widget'" },
        { ["int (int)"], "prototype 'int (int)': expected the function's name" },
        { ["long double f(void)"], "prototype 'long double f(void)': 'long double' is not supported" },
        { ["unsigned double f(void)"], "prototype 'unsigned double f(void)': 'unsigned double' is not a C type" },
        { ["int f(void, int)"], "prototype 'int f(void, int)': parameter 1: 'void' is only allowed alone" },
        { ["int f(...)"], "prototype 'int f(...)': '...' needs at least one named parameter" },
        { ["struct s f(int)"], "prototype 'struct s f(int)': 'struct s' passed by value is not supported" },
    };

    [Theory]
    [MemberData(nameof(UsageErrors))]
    public void Usage_errors_name_the_argument_and_exit_2(string[] args, string expected)
    {
        var result = CliHarness.Run(["call", Fixtures.Path("basic.so"), .. args]);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.Contains(expected, result.Stderr);
        Assert.Contains("Run 'loader call --help' for usage.", result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
    }

    [Fact]
    public void A_library_that_cannot_be_loaded_or_lacks_the_export_exits_1()
    {
        var missing = CliHarness.Run("call", "/nonexistent/libnothing.so", "int f(void)");
        Assert.Equal(1, missing.ExitCode);
        Assert.Equal("loader: /nonexistent/libnothing.so: no such file\n", missing.Stderr);

        var tls = CliHarness.Run("call", Fixtures.Path("tls/libtls_ie_huge.so"), "int tls_bump(void)");
        Assert.Equal(1, tls.ExitCode);
        Assert.Contains("cannot allocate memory in static TLS block", tls.Stderr, StringComparison.Ordinal);

        var noExport = CliHarness.Run("call", Fixtures.Path("basic.so"), "int hidden_helper(int)", "1");
        Assert.Equal(1, noExport.ExitCode);
        Assert.Equal($"loader: {Fixtures.Path("basic.so")}: no export 'hidden_helper' in the library or its dependencies\n", noExport.Stderr);
    }

    [Fact]
    public void Help_shows_an_example()
    {
        var result = CliHarness.Run("call", "--help");

        CliHarness.AssertSuccess(result);
        Assert.Contains("Example: loader call /usr/lib/x86_64-linux-gnu/libm.so.6 'double cos(double)' 1", result.Stdout);
        Assert.Contains("PROTOTYPE", result.Stdout);
    }

    [Fact]
    public void Double_and_float_text_is_what_printf_prints_for_many_values()
    {
        const string printfOracle = """
            #include <stdio.h>
            #include <stdlib.h>
            #include <string.h>
            int main(int argc, char **argv) {
                for (int i = 1; i < argc; i++) {
                    unsigned long long bits = strtoull(argv[i], NULL, 16);
                    double d; memcpy(&d, &bits, sizeof d);
                    float f = (float)d;
                    printf("%.17g %.9g\n", d, (double)f);
                }
                return 0;
            }
            """;
        var random = new Random(5);
        var values = new List<double> { 0, -0.0, 1, 0.1, 1e20, 1e-5, 1e16, 1e17, 123456789012345678, 5e-324, double.MaxValue, double.NaN, double.PositiveInfinity, double.NegativeInfinity, 0.54030230586813977, 100, 1e-4 };
        for (int i = 0; i < 300; i++)
            values.Add(BitConverter.Int64BitsToDouble(random.NextInt64()));
        for (int i = 0; i < 100; i++)
            values.Add(Math.Round(random.NextDouble() * 1000, random.Next(0, 6)) * Math.Pow(10, random.Next(-30, 30)));

        string expected = COracle.Run(printfOracle, [.. values.Select(v => BitConverter.DoubleToUInt64Bits(v).ToString("x", CultureInfo.InvariantCulture))]);

        string actual = string.Concat(values.Select(v =>
            $"{Loader.Cli.Rendering.CValueText.FormatG(v, 17)} {Loader.Cli.Rendering.CValueText.FormatG((float)v, 9)}\n"));
        Assert.Equal(expected, actual);
    }
}
