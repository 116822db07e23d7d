using System.Globalization;
using System.Text;

namespace Loader.BenchShared;

/// <summary>
/// A set of small generated libraries: each a C file with a data table, a string table, a few functions (one calls
/// libc's <c>strlen</c>, one <c>snprintf</c>, so each has symbol-bound relocations as well as relative ones) and a
/// counter in .bss, compiled with gcc into a cache folder under the temporary directory (kept between runs). The
/// memory tool holds them all at once (bench/Loader.Memory); <c>--paired --held</c> holds some while it times loads
/// (bench/Loader.Benchmarks). Another prefix makes a set whose symbols no library of the first set names: the memory
/// tool warms up on one (<see cref="WarmUpPrefix"/>), so the paths a load of a new library takes run before the
/// sample, and no answer a lookup remembers for the measured set's names is made before it.
/// </summary>
internal static class GeneratedLibrarySet
{
    /// <summary>The prefix of the measured sets' file and symbol names.</summary>
    public const string SetPrefix = "gen";

    /// <summary>The prefix of the warm-up set's names.</summary>
    public const string WarmUpPrefix = "warm";

    public static List<string> Ensure(int count, string prefix = SetPrefix)
    {
        string folder = Path.Combine(Path.GetTempPath(),
            prefix == SetPrefix ? $"loader-memory-generated-v1-{count}" : $"loader-memory-generated-v1-{prefix}-{count}");
        Directory.CreateDirectory(folder);
        var libraries = Enumerable.Range(0, count).Select(i => Path.Combine(folder, $"lib{prefix}{i:D4}.so")).ToList();
        var missing = Enumerable.Range(0, count).Where(i => !File.Exists(libraries[i])).ToList();
        if (missing.Count > 0)
            Console.Error.WriteLine($"generating {missing.Count} libraries in {folder} ...");
        Parallel.ForEach(missing, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            string source = Path.Combine(folder, $"{prefix}{i:D4}.c");
            File.WriteAllText(source, Source(i, prefix));
            ChildProcess.Run("gcc", "-shared", "-fPIC", "-O2", "-o", libraries[i] + ".tmp", source);
            File.Move(libraries[i] + ".tmp", libraries[i], overwrite: true);
        });
        return libraries;
    }

    private static string Source(int index, string prefix)
    {
        string number = index.ToString("D4", CultureInfo.InvariantCulture), n = prefix + number;
        var text = new StringBuilder();
        text.AppendLine("#include <stdio.h>\n#include <string.h>");
        text.AppendLine($"static int {n}_calls;");
        text.Append($"int {n}_table[64] = {{");
        for (int i = 0; i < 64; i++)
            text.Append(CultureInfo.InvariantCulture, $"{(i * 7 + index) % 101},");
        text.AppendLine("};");
        text.AppendLine($"const char *{n}_names[] = {{\"alpha{number}\", \"beta{number}\", \"gamma{number}\", \"delta{number}\"}};");
        text.AppendLine($"int {n}_sum(int count) {{ int s = 0; for (int i = 0; i < count && i < 64; i++) s += {n}_table[i]; {n}_calls++; return s; }}");
        text.AppendLine($"size_t {n}_name_length(int i) {{ return strlen({n}_names[i & 3]); }}");
        text.AppendLine($"int {n}_format(char *buffer, size_t size) {{ return snprintf(buffer, size, \"%d calls\", {n}_calls); }}");
        text.AppendLine($"int {n}_calls_so_far(void) {{ return {n}_calls; }}");
        return text.ToString();
    }
}
