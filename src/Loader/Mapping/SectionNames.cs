namespace Loader.Mapping;

/// <summary>
/// One shared string for each section name a linker commonly emits, so the regions of every loaded image
/// (<see cref="PlannedRegion.Sections"/>) point at the same few dozen strings instead of each keeping its own copies.
/// A name not on the list is kept as read: nothing is interned process-wide, so a file with invented names cannot
/// grow a table that is never freed.
/// </summary>
internal static class SectionNames
{
    private static readonly string[] Common =
    [
        ".note.gnu.property", ".note.gnu.build-id", ".note.ABI-tag", ".note.stapsdt", ".note.package", ".gnu.hash", ".hash",
        ".dynsym", ".dynstr", ".gnu.version", ".gnu.version_d", ".gnu.version_r", ".rela.dyn", ".rela.plt", ".rel.dyn",
        ".rel.plt", ".relr.dyn", ".init", ".plt", ".plt.got", ".plt.sec", ".text", ".fini", ".rodata", ".rodata1",
        ".stapsdt.base", ".eh_frame_hdr", ".eh_frame", ".gcc_except_table", ".tdata", ".tbss", ".init_array",
        ".fini_array", ".preinit_array", ".data.rel.ro", ".dynamic", ".got", ".got.plt", ".data", ".bss", ".comment",
        ".ctors", ".dtors", ".jcr", ".interp", ".gnu_debuglink", ".gnu_debugaltlink", ".lbss", ".ldata", ".lrodata",
    ];

    private static readonly Dictionary<string, string> ByName = Common.ToDictionary(n => n, StringComparer.Ordinal);

    /// <summary>The shared copy of <paramref name="name"/> when it is a common section name, else the name itself.</summary>
    public static string Shared(string name) => ByName.TryGetValue(name, out var shared) ? shared : name;
}
