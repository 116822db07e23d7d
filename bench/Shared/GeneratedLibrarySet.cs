using System.Globalization;
using System.Text;

namespace Loader.BenchShared;

/// <summary>
/// A set of small generated libraries: each a C file with a data table, a string table, a few functions (one calls
/// libc's <c>strlen</c>, one <c>snprintf</c>, so each has symbol-bound relocations as well as relative ones) and a
/// counter in .bss, compiled with gcc into a cache folder under the temporary directory (kept between runs). The
/// memory tool holds them all at once (bench/Loader.Memory); <c>--paired --held</c> holds some while it times loads
/// (bench/Loader.Benchmarks).
/// </summary>
internal static class GeneratedLibrarySet
{
    public static List<string> Ensure(int count)
    {
        string folder = Path.Combine(Path.GetTempPath(), $"loader-memory-generated-v1-{count}");
        Directory.CreateDirectory(folder);
        var libraries = Enumerable.Range(0, count).Select(i => Path.Combine(folder, $"libgen{i:D4}.so")).ToList();
        var missing = Enumerable.Range(0, count).Where(i => !File.Exists(libraries[i])).ToList();
        if (missing.Count > 0)
            Console.Error.WriteLine($"generating {missing.Count} libraries in {folder} ...");
        Parallel.ForEach(missing, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            string source = Path.Combine(folder, $"gen{i:D4}.c");
            File.WriteAllText(source, Source(i));
            ChildProcess.Run("gcc", "-shared", "-fPIC", "-O2", "-o", libraries[i] + ".tmp", source);
            File.Move(libraries[i] + ".tmp", libraries[i], overwrite: true);
        });
        return libraries;
    }

    private static string Source(int index)
    {
        string n = index.ToString("D4", CultureInfo.InvariantCulture);
        var text = new StringBuilder();
        text.AppendLine("#include <stdio.h>\n#include <string.h>");
        text.AppendLine($"static int gen{n}_calls;");
        text.Append($"int gen{n}_table[64] = {{");
        for (int i = 0; i < 64; i++)
            text.Append(CultureInfo.InvariantCulture, $"{(i * 7 + index) % 101},");
        text.AppendLine("};");
        text.AppendLine($"const char *gen{n}_names[] = {{\"alpha{n}\", \"beta{n}\", \"gamma{n}\", \"delta{n}\"}};");
        text.AppendLine($"int gen{n}_sum(int count) {{ int s = 0; for (int i = 0; i < count && i < 64; i++) s += gen{n}_table[i]; gen{n}_calls++; return s; }}");
        text.AppendLine($"size_t gen{n}_name_length(int i) {{ return strlen(gen{n}_names[i & 3]); }}");
        text.AppendLine($"int gen{n}_format(char *buffer, size_t size) {{ return snprintf(buffer, size, \"%d calls\", gen{n}_calls); }}");
        text.AppendLine($"int gen{n}_calls_so_far(void) {{ return gen{n}_calls; }}");
        return text.ToString();
    }
}
