using System.Globalization;
using System.Text;
using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// Two libraries built with gcc once per test class, in a temporary directory, that differ only in how many dynamic
/// symbols they have: <c>libmanysyms_small.so</c> with <see cref="SmallCount"/> exported <c>int</c> variables and
/// <c>libmanysyms_large.so</c> with <see cref="LargeCount"/> (more than the 8,192 symbols a relocator's managed cache
/// used to keep). Each has a table of pointers to its variables, one R_X86_64_64 against each symbol (a default-visibility
/// variable can be interposed, so the pointer stays symbolic), and <c>manysyms_check()</c>, which counts the entries that
/// point to a variable holding its index plus the library's own seed: a pointer resolved to the other library's variable,
/// or left stale, is not counted.
/// </summary>
public sealed class ManySymbolLibraries : IDisposable
{
    public const int SmallCount = 500, LargeCount = 20_000;
    public const int SmallSeed = 1_000_000, LargeSeed = 2_000_000;

    public ManySymbolLibraries()
    {
        Root = Directory.CreateTempSubdirectory("loader-manysyms-").FullName;
        Small = Build("libmanysyms_small.so", SmallCount, SmallSeed);
        Large = Build("libmanysyms_large.so", LargeCount, LargeSeed);
    }

    public string Root { get; }

    public string Small { get; }

    public string Large { get; }

    private string Build(string name, int count, int seed)
    {
        var c = new StringBuilder();
        c.Append(CultureInfo.InvariantCulture, $"/* {count} exported variables, each named by one R_X86_64_64. */\n");
        for (int i = 0; i < count; i++)
            c.Append(CultureInfo.InvariantCulture, $"int manysyms_v{i} = {seed + i};\n");
        c.Append(CultureInfo.InvariantCulture, $"int *manysyms_table[{count}] = {{\n");
        for (int i = 0; i < count; i++)
            c.Append(CultureInfo.InvariantCulture, $"&manysyms_v{i},\n");
        c.Append("};\n");
        c.Append(CultureInfo.InvariantCulture,
            $"int manysyms_check(void) {{ int ok = 0; for (int i = 0; i < {count}; i++) ok += *manysyms_table[i] == {seed} + i; return ok; }}\n");
        string source = Path.Join(Root, name + ".c"), output = Path.Join(Root, name);
        File.WriteAllText(source, c.ToString());
        var (code, _, err) = ChildProcess.Run("gcc", ["-shared", "-fPIC", "-O0", "-g0", "-w", "-Wl,-soname," + name, "-o", output, source]);
        Assert.True(code == 0, $"gcc {name}: {err}");
        return output;
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
