namespace Loader.Benchmarks.Phases;

/// <summary>
/// Which phase of a load a sampled stack was in, from <c>perf script</c>'s text: a sample counts when one of its
/// frames is Loader's public entry (<c>LoaderContext::Load</c> or <c>ElfLibrary::Dispose</c>). Everything under
/// <c>Dispose</c> is the unload; under <c>Load</c>, walking from the leaf towards the entry, the first frame a rule
/// names decides the phase (the innermost phase wins: the header reads inside the mapper are "open and parse"), and a
/// stack no rule names is "other". Kernel and libc frames below a phase's frame (its system calls, its page faults)
/// belong to that phase.
/// </summary>
internal static class PhaseAttribution
{
    public const string Open = "open and parse";
    public const string Map = "plan and map";
    public const string Scope = "scope (dependencies, global scope)";
    public const string Relocate = "relocate";
    public const string Relro = "RELRO";
    public const string Register = "register (unwind tables, debugger)";
    public const string Initializers = "initializers";
    public const string Unload = "unload";
    public const string Other = "other";

    /// <summary>The phases in the order a load runs them.</summary>
    public static readonly string[] Order = [Open, Map, Scope, Relocate, Relro, Register, Initializers, Unload, Other];

    // (a substring of the frame's method, the phase): checked in order, so the more specific come first.
    private static readonly (string Method, string Phase)[] Rules =
    [
        ("Initializers::", Initializers),
        ("LoadSession::Initialize", Initializers),
        ("UnwindRegistry::", Register),
        ("DebuggerView::", Register),
        ("ElfImage::ApplyRelro", Relro),
        ("Mapper::ProtectRelro", Relro),
        ("Relocator::", Relocate),
        ("LoadSession::AssignScope", Scope),
        ("LoadSession::LoadDependencies", Scope),
        ("ModuleNamespace::GlobalScope", Scope),
        ("ElfImage::EnsureTables", Open),
        ("ElfImage::ReadDynamicTables", Open),
        ("Mapper::ReadHeaders", Open),
        ("FileOpening::", Open),
        ("FileDescriptor::Open", Open),
        ("LoadSession::FindExisting", Open),
        ("LoadPlan::", Map),
        ("Mapper::", Map),
    ];

    private const string LoadRoot = "Loader.LoaderContext::Load(";
    private const string MmapFrame = "ksys_mmap_pgoff";
    private const string UnloadRoot = "Loader.ElfLibrary::Dispose(";

    /// <summary>Counts the samples of <paramref name="perfScript"/> (the text of <c>perf script</c> with call
    /// chains) by phase; samples outside Loader's entry points are not counted.</summary>
    public static Dictionary<string, int> Count(IEnumerable<string> perfScript)
    {
        var counts = Order.ToDictionary(p => p, _ => 0);
        var stack = new List<string>();
        foreach (string line in perfScript.Append(""))
        {
            if (line.Length > 0 && char.IsWhiteSpace(line[0]))
            {
                stack.Add(line);
                continue;
            }
            if (stack.Count > 0 && Classify(stack) is { } phase)
                counts[phase]++;
            stack.Clear();
        }
        return counts;
    }

    /// <summary>The phase of one sample's frames (leaf first, as perf prints them), or null when no Loader entry
    /// point is on the stack.</summary>
    public static string? Classify(IReadOnlyList<string> frames)
    {
        int root = -1;
        bool unload = false;
        for (int i = frames.Count - 1; i >= 0 && root < 0; i--)
        {
            if (frames[i].Contains(LoadRoot, StringComparison.Ordinal))
                root = i;
            else if (frames[i].Contains(UnloadRoot, StringComparison.Ordinal))
                (root, unload) = (i, true);
        }
        if (root < 0)
            return null;
        if (unload)
            return Unload;
        for (int i = 0; i <= root; i++)
            foreach (var (method, phase) in Rules)
                if (frames[i].Contains(method, StringComparison.Ordinal))
                    return phase;
        // libc's mmap wrapper keeps no frame pointer, so perf's walk from inside it skips the managed frames that called
        // it (the mapper's): a load's mmap that no rule names is the mapper's overlays and reservation (a populated
        // writable overlay's page copies among them), not "other".
        for (int i = 0; i <= root; i++)
            if (frames[i].Contains(MmapFrame, StringComparison.Ordinal))
                return Map;
        return Other;
    }
}
