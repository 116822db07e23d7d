using Loader.Mapping;
using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// The first access to each page of a writable segment is a write. A read would make the kernel map that page and its
/// neighbours read-only from the file (fault-around, up to 64 KB), and the relocations' first write to each of them
/// would then replace a present page: a TLB flush on every CPU the process runs on, one per page. The loader reads its
/// dynamic section before it relocates anything (as glibc does), so it makes that page its own first (an atomic add of
/// 0); DT_RELR, which reads each target before writing it, writes first to each new page the same way; every other
/// relocation only writes. The oracle is <c>/proc/self/pagemap</c> (bit 63 present, bit 61 the file's page): once an
/// image is mapped for relocation (RELRO deferred) and its dynamic tables read, no page of its writable segments is
/// present as the file's page — glibc's <c>dlopen</c> leaves the pages around its dynamic section mapped so.
/// </summary>
public sealed class WritablePagesTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("loader-writable-pages-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    public static TheoryData<string> Libraries() =>
    [
        SystemLibraries.Require("libz.so.1"), SystemLibraries.Require("libsqlite3.so.0"), SystemLibraries.Require("libxml2.so.2"),
        SystemLibraries.Require("libexpat.so.1"), Fixtures.Path("relr.so"), Fixtures.Path("relro_share.so"),
    ];

    [Theory]
    [MemberData(nameof(Libraries))]
    public void Reading_the_dynamic_tables_leaves_no_page_of_a_writable_segment_mapped_from_the_file(string library)
    {
        // A copy of its own: its pages in the page cache (a file just written has them), which fault-around maps.
        string copy = Path.Combine(_directory, Path.GetFileName(library));
        File.Copy(library, copy);
        using var image = ElfImage.Map(copy, new MapOptions { ApplyRelro = false });
        Assert.NotNull(image.Dynamic); // the mapper has read the dynamic section and the tables
        int own = 0;
        foreach (var overlay in image.Plan.Overlays)
        {
            if ((overlay.Protection & MemoryProtection.Write) == 0 || overlay.Length == 0)
                continue;
            var (present, filePages) = PageMap.Count((nint)((ulong)image.BaseAddress + overlay.Address), overlay.Length);
            Assert.True(filePages == 0,
                $"{library}: {filePages} of the {present} present pages of PT_LOAD[{overlay.ProgramHeaderIndex}] are the file's, mapped read-only by a read before any write");
            own += present;
        }
        Assert.True(own > 0, $"{library}: no page of a writable segment is present: the dynamic section was not read there");
    }

    [Theory]
    [MemberData(nameof(Libraries))]
    public void Once_relocated_an_image_refuses_writes_through_its_memory_and_keeps_no_writable_ranges(string library)
    {
        string copy = Path.Combine(_directory, Path.GetFileName(library));
        File.Copy(library, copy);
        using var context = new LoaderContext();
        using var loaded = context.Load(copy);
        var image = loaded.LoadedModule.Image!;
        // The last word of the last writable PT_LOAD: .data or .bss, after RELRO.
        var data = image.Plan.Overlays.Last(o => (o.Protection & MemoryProtection.Write) != 0);
        nint lastWord = (nint)((ulong)image.BaseAddress + data.MemoryEnd - 8);
        // The page is still the process's own and writable (the kernel's protection has not changed), but the relocator's
        // door says no: its writable ranges were withdrawn when the image's relocation ended.
        Assert.Contains(ProcMaps.Read(), m => m.Overlaps((ulong)lastWord, (ulong)lastWord + 8) && m.Permissions.StartsWith("rw"));
        Assert.False(image.Memory.IsWritable(lastWord, 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => image.Memory.WriteUInt64(lastWord, 0));
    }
}
