using Loader.Cli.Commands;

namespace Loader.Cli.Rendering;

/// <summary><c>loader trace</c>'s text: one line per step, <c>#  phase  call = result  why</c>, columns aligned.</summary>
internal static class TraceText
{
    public static void WriteHeader(TextWriter w, TraceReport r)
    {
        w.WriteLine($"{Path.GetFileName(r.File)}: every mmap, mprotect and munmap ElfImage.Map made, in order, then Dispose's munmap");
        w.WriteLine($"  (fd is the file, opened O_RDONLY|O_CLOEXEC|O_NONBLOCK; lengths in hex; base 0x{r.BaseAddress:x}, span 0x{r.ReservedSize:x}, aligned to 0x{r.Alignment:x})");
        w.WriteLine();
    }

    /// <summary>Column widths for the index, phase and call, so rows printed later line up with these.</summary>
    public static int[] Widths(IReadOnlyList<TraceStep> steps) =>
    [
        Math.Max(2, steps.Select(s => s.Index.ToString().Length).DefaultIfEmpty(0).Max()),
        Math.Max("protect RELRO".Length, steps.Select(s => s.Phase.Length).DefaultIfEmpty(0).Max()),
        steps.Select(s => s.Call.Length).DefaultIfEmpty(0).Max(),
    ];

    public static void WriteSteps(TextWriter w, IReadOnlyList<TraceStep> steps, int[] widths)
    {
        foreach (var s in steps)
            w.WriteLine($"  {s.Index.ToString().PadLeft(widths[0])}  {s.Phase.PadRight(widths[1])}  {s.Call.PadRight(widths[2])}  {s.Reason}");
    }
}
