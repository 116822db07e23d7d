using System.Text;
using System.Text.RegularExpressions;

namespace Loader.Tests.Oracles;

/// <summary>
/// A tiny script language run two ways — by Loader in this process, and by glibc in a child (a C program compiled
/// once, in a temporary directory) — printing the same transcript:
/// <code>
/// open H PATH      load PATH as handle H (glibc: dlopen RTLD_NOW|RTLD_LOCAL)     → "open H ok|failed"
/// nsopen H PATH    the same in a new namespace (dlmopen LM_ID_NEWLM; Loader: a new LoaderContext)
/// keepopen H PATH  the same with RTLD_NODELETE (Loader: LoadOptions.NoDelete)
/// close H          dlclose H (Loader: ElfLibrary.Dispose)                       → "close H"
/// loaded PATH      is PATH still loaded (glibc: dlopen RTLD_NOLOAD; Loader: the first context's libraries) → "loaded NAME = yes|no"
/// call H SYM       call int SYM(void) exported by H                              → "call H SYM = n"
/// ptr S H SYM      call void *SYM(void), keep the result in slot S               → "ptr S = SYM null|non-null"
/// sym S H SYM      dlsym / GetExport into slot S                                 → "sym S = SYM found|not found"
/// same S T         are slots S and T equal                                      → "same S T = yes|no"
/// where S          the file whose image holds slot S (glibc: dladdr)             → "where S = libx.so"
/// </code>
/// Failed loads' messages are kept apart from the transcript (they are worded differently). Loader's contexts are
/// disposed at the end, which unloads what they kept loaded.
/// </summary>
internal static unsafe class BindingProbe
{
    public sealed record Run(string Transcript, IReadOnlyList<string> GlibcErrors, IReadOnlyList<LoaderException> LoaderErrors);

    private const string Source = """
        #define _GNU_SOURCE
        #include <dlfcn.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>

        int main(int argc, char **argv)
        {
            void *handles[8] = {0}, *slots[8] = {0};
            for (int i = 1; i < argc; i++) {
                const char *op = argv[i];
                int n = strcmp(op, "same") == 0 || strcmp(op, "call") == 0 || strcmp(op, "open") == 0 || strcmp(op, "nsopen") == 0
                    || strcmp(op, "keepopen") == 0 ? 2
                    : strcmp(op, "where") == 0 || strcmp(op, "close") == 0 || strcmp(op, "loaded") == 0 ? 1 : 3;
                if (i + n >= argc) { fprintf(stderr, "probe: %s needs %d arguments\n", op, n); return 2; }
                int a = atoi(argv[i + 1]), b = atoi(argv[i + 2 < argc ? i + 2 : i]);
                if (!strcmp(op, "open") || !strcmp(op, "nsopen") || !strcmp(op, "keepopen")) {
                    handles[a] = op[0] == 'o' ? dlopen(argv[i + 2], RTLD_NOW | RTLD_LOCAL)
                        : op[0] == 'k' ? dlopen(argv[i + 2], RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)
                        : dlmopen(LM_ID_NEWLM, argv[i + 2], RTLD_NOW | RTLD_LOCAL);
                    printf("%s %d %s\n", op, a, handles[a] ? "ok" : "failed");
                    if (!handles[a]) fprintf(stderr, "%s\n", dlerror());
                } else if (!strcmp(op, "call")) {
                    int (*f)(void) = handles[a] ? (int (*)(void))dlsym(handles[a], argv[i + 2]) : NULL;
                    if (f) printf("call %d %s = %d\n", a, argv[i + 2], f());
                    else printf("call %d %s: %s\n", a, argv[i + 2], handles[a] ? "no such export" : "no handle");
                } else if (!strcmp(op, "ptr") || !strcmp(op, "sym")) {
                    void *p = handles[b] ? dlsym(handles[b], argv[i + 3]) : NULL;
                    if (op[0] == 'p' && p) p = ((void *(*)(void))p)();
                    slots[a] = p;
                    printf("%s %d = %s %s\n", op, a, argv[i + 3], op[0] == 's' ? (p ? "found" : "not found") : p ? "non-null" : "null");
                } else if (!strcmp(op, "same")) {
                    printf("same %d %d = %s\n", a, b, slots[a] == slots[b] ? "yes" : "no");
                } else if (!strcmp(op, "close")) {
                    if (handles[a]) dlclose(handles[a]);
                    handles[a] = NULL;
                    printf("close %d\n", a);
                } else if (!strcmp(op, "loaded")) {
                    void *h = dlopen(argv[i + 1], RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
                    if (h) dlclose(h);
                    printf("loaded %s = %s\n", strrchr(argv[i + 1], '/') ? strrchr(argv[i + 1], '/') + 1 : argv[i + 1], h ? "yes" : "no");
                } else if (!strcmp(op, "where")) {
                    Dl_info info;
                    const char *file = slots[a] && dladdr(slots[a], &info) && info.dli_fname ? info.dli_fname : "nowhere";
                    printf("where %d = %s\n", a, strrchr(file, '/') ? strrchr(file, '/') + 1 : file);
                } else {
                    fprintf(stderr, "probe: unknown command '%s'\n", op);
                    return 2;
                }
                i += n;
            }
            return 0;
        }
        """;

    private static readonly Lazy<string> Program = new(Compile);

    private static string Compile()
    {
        string dir = Directory.CreateTempSubdirectory("loader-binding-probe-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(dir, true); } catch (IOException) { } };
        File.WriteAllText(Path.Join(dir, "probe.c"), Source);
        string exe = Path.Join(dir, "probe");
        var (code, _, err) = ChildProcess.Run("gcc", ["-O1", "-Wall", "-o", exe, Path.Join(dir, "probe.c"), "-ldl"]);
        Assert.True(code == 0, "gcc probe.c: " + err);
        return exe;
    }

    /// <summary>Runs <paramref name="script"/> under glibc in a child process.</summary>
    public static Run Glibc(string[] script)
    {
        var (code, stdout, stderr) = ChildProcess.Run(Program.Value, script);
        Assert.True(code == 0, $"probe exited with {code}: {stderr}");
        string[] errors = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return new Run(stdout, errors, []);
    }

    /// <summary>Runs <paramref name="script"/> with Loader in this process: one new <see cref="LoaderContext"/> (and one
    /// more per <c>nsopen</c>); every handle, then every context, is disposed at the end.</summary>
    public static Run Loader(string[] script)
    {
        var context = new LoaderContext();
        var contexts = new List<LoaderContext> { context };
        var handles = new ElfLibrary?[8];
        var slots = new nint[8];
        var errors = new List<LoaderException>();
        var text = new StringBuilder();
        try
        {
            for (int i = 0; i < script.Length; i++)
            {
                string op = script[i];
                int n = op is "same" or "call" or "open" or "nsopen" or "keepopen" ? 2 : op is "where" or "close" or "loaded" ? 1 : 3;
                int a = op == "loaded" ? 0 : int.Parse(script[i + 1]);
                string arg2 = n >= 2 ? script[i + 2] : "", arg3 = n >= 3 ? script[i + 3] : "";
                switch (op)
                {
                    case "open" or "nsopen" or "keepopen":
                        try
                        {
                            var into = op == "nsopen" ? new LoaderContext() : context;
                            if (into != context)
                                contexts.Add(into);
                            handles[a] = into.Load(arg2, op == "keepopen" ? new LoadOptions { NoDelete = true } : null);
                            text.Append($"{op} {a} ok\n");
                        }
                        catch (LoaderException e)
                        {
                            errors.Add(e);
                            text.Append($"{op} {a} failed\n");
                        }
                        break;
                    case "call":
                        nint f = 0;
                        if (handles[a] is { } h && h.TryGetExport(arg2, out f))
                            text.Append($"call {a} {arg2} = {((delegate* unmanaged<int>)f)()}\n");
                        else
                            text.Append($"call {a} {arg2}: {(handles[a] is null ? "no handle" : "no such export")}\n");
                        break;
                    case "ptr" or "sym":
                        nint p = 0;
                        if (handles[int.Parse(arg2)] is { } owner && owner.TryGetExport(arg3, out p) && op == "ptr")
                            p = ((delegate* unmanaged<nint>)p)();
                        slots[a] = p;
                        text.Append($"{op} {a} = {arg3} {(op == "sym" ? (p != 0 ? "found" : "not found") : p != 0 ? "non-null" : "null")}\n");
                        break;
                    case "same":
                        text.Append($"same {a} {arg2} = {(slots[a] == slots[int.Parse(arg2)] ? "yes" : "no")}\n");
                        break;
                    case "where":
                        text.Append($"where {a} = {Where(slots[a], handles)}\n");
                        break;
                    case "close":
                        handles[a]?.Dispose();
                        handles[a] = null;
                        text.Append($"close {a}\n");
                        break;
                    case "loaded":
                        string full = Path.GetFullPath(script[i + 1]);
                        bool present = context.LoadedLibraries.Any(l => Path.GetFullPath(l.Module.Path) == full);
                        text.Append($"loaded {Path.GetFileName(full)} = {(present ? "yes" : "no")}\n");
                        break;
                    default:
                        throw new ArgumentException($"unknown probe command '{op}'");
                }
                i += n;
            }
        }
        finally
        {
            foreach (var h in handles)
                h?.Dispose();
            foreach (var c in contexts)
                c.Dispose();
        }
        return new Run(text.ToString(), [], errors);
    }

    /// <summary>The Loader-mapped module holding <paramref name="address"/>: the one with the highest base at or below
    /// it (each image has its own reservation), among the scopes of the open handles.</summary>
    private static string Where(nint address, ElfLibrary?[] handles)
    {
        var module = handles.Where(h => h is not null).SelectMany(h => h!.Scope)
            .Where(m => !m.IsHost && m.BaseAddress <= address && address != 0)
            .MaxBy(m => m.BaseAddress);
        return module is null ? "nowhere" : Path.GetFileName(module.Path);
    }

    public static (Run Loader, Run Glibc) Compare(string[] script) => (Loader(script), Glibc(script));

    /// <summary>Both transcripts equal; returns glibc's run.</summary>
    public static Run AssertSameAsGlibc(string[] script)
    {
        var (loader, glibc) = Compare(script);
        Assert.True(glibc.Transcript == loader.Transcript,
            $"glibc:\n{glibc.Transcript}{string.Join("\n", glibc.GlibcErrors)}\nLoader:\n{loader.Transcript}{string.Join("\n", loader.LoaderErrors.Select(e => e.Message))}");
        return glibc;
    }

    /// <summary>glibc's one "PATH: undefined symbol: NAME[, version V]" and Loader's one <see cref="SymbolNotFoundException"/>
    /// name the same symbol, version and library.</summary>
    public static void AssertSameUndefinedSymbol(Run glibc, Run loader)
    {
        var m = Regex.Match(Assert.Single(glibc.GlibcErrors), "^(?<lib>.+): undefined symbol: (?<sym>[^,]+)(, version (?<ver>.+))?$");
        Assert.True(m.Success, "glibc said: " + glibc.GlibcErrors[0]);
        var e = Assert.IsType<SymbolNotFoundException>(Assert.Single(loader.LoaderErrors));
        Assert.Equal(m.Groups["sym"].Value, e.Symbol);
        Assert.Equal(m.Groups["ver"].Success ? m.Groups["ver"].Value : null, e.Version);
        Assert.Equal(m.Groups["lib"].Value, e.RequestedBy);
        Assert.Contains(e.Symbol, e.Message, StringComparison.Ordinal);
        Assert.Contains(Path.GetFileName(e.RequestedBy), e.Message, StringComparison.Ordinal);
        if (e.Version is not null)
            Assert.Contains(e.Version, e.Message, StringComparison.Ordinal);
    }
}
