using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// Tiny libraries built with gcc once per test class, in one temporary directory (each with DT_RUNPATH $ORIGIN), whose
/// DT_NEEDED edges make a graph an unload has to collect in parts:
/// <code>
/// top1 -> mid1, mid2      mid1 -> leaf      mid2 -> leaf
/// top2 -> mid2, cyc1      cyc1 -> cyc2      cyc2 -> cyc1, leaf      (a cycle)
/// </code>
/// Each library's destructor appends its name and a ';' to the file its exported <c>fini_log_path</c> names (when set).
/// </summary>
public sealed class UnloadGraph : IDisposable
{
    /// <summary>Each library's DT_NEEDED names, without the <c>lib</c> and <c>.so</c>.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> Needs = new Dictionary<string, string[]>
    {
        ["leaf"] = [],
        ["mid1"] = ["leaf"],
        ["mid2"] = ["leaf"],
        ["top1"] = ["mid1", "mid2"],
        ["cyc1"] = ["cyc2"],
        ["cyc2"] = ["cyc1", "leaf"],
        ["top2"] = ["mid2", "cyc1"],
    };

    public UnloadGraph()
    {
        Root = Directory.CreateTempSubdirectory("loader-unload-graph-").FullName;
        Directory.CreateDirectory(Path.Join(Root, "stub"));
        // cyc2's first build links against nothing (a stub for cyc1 to need); the real one needs cyc1 back.
        Build("stub/libcyc2.so", "cyc2", [], allowUndefined: true);
        foreach (string name in new[] { "leaf", "mid1", "mid2", "top1" })
            Build($"lib{name}.so", name, Needs[name]);
        Build("libcyc1.so", "cyc1", [], extraLinked: [Path.Join(Root, "stub/libcyc2.so")]);
        Build("libcyc2.so", "cyc2", Needs["cyc2"]);
        Build("libtop2.so", "top2", Needs["top2"]);
    }

    public string Root { get; }

    public string PathOf(string name) => Path.Join(Root, $"lib{name}.so");

    private void Build(string output, string name, string[] needs, bool allowUndefined = false, string[]? extraLinked = null)
    {
        string source = Path.Join(Root, name + ".c");
        File.WriteAllText(source, $$"""
            #include <fcntl.h>
            #include <string.h>
            #include <unistd.h>
            char fini_log_path[512];
            int {{name}}_value(void) { return {{name.Length}}; }
            __attribute__((destructor)) static void {{name}}_fini(void)
            {
                if (!fini_log_path[0]) return;
                int fd = open(fini_log_path, O_WRONLY | O_APPEND | O_CREAT, 0600);
                if (fd < 0) return;
                write(fd, "{{name}};", {{name.Length + 1}});
                close(fd);
            }
            """);
        string[] arguments =
        [
            "-shared", "-fPIC", "-O1", "-Wl,--no-as-needed", "-Wl,-soname,lib" + name + ".so",
            "-Wl,--enable-new-dtags,-rpath,$ORIGIN", "-o", Path.Join(Root, output), source,
            .. needs.Select(n => Path.Join(Root, $"lib{n}.so")), .. extraLinked ?? [],
            .. allowUndefined ? new[] { "-Wl,--unresolved-symbols=ignore-all" } : [],
        ];
        var (code, _, err) = ChildProcess.Run("gcc", arguments);
        Assert.True(code == 0, $"gcc {output}: {err}");
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
