namespace Loader.Elf;

/// <summary>
/// Which <c>PT_DYNAMIC</c> holds an object's dynamic section when it has several: the one rule shared by the reader
/// (<see cref="ElfFile"/>), the plan, the mapped image and the reader of the host's modules.
/// </summary>
internal static class DynamicSegment
{
    /// <summary>
    /// The index of the last <c>PT_DYNAMIC</c> whose <c>p_filesz</c> is not 0, or -1 when there is none.
    /// </summary>
    /// <remarks>
    /// glibc's <c>_dl_map_object_from_fd</c> (elf/dl-load.c) walks the program headers in order and every
    /// <c>PT_DYNAMIC</c> with <c>p_filesz != 0</c> overwrites <c>l_ld</c>, so the last one wins. The test is on
    /// <c>p_filesz</c>, not <c>p_memsz</c> (<c>p_memsz</c> only sets <c>l_ldnum</c>; the entries are read up to
    /// DT_NULL): a debuginfo file from <c>objcopy --only-keep-debug</c> keeps <c>p_memsz</c> but has
    /// <c>p_filesz == 0</c>. glibc then (its <c>empty_dynamic</c> flag; checked on this system's 2.36) refuses the whole
    /// object at dlopen, "object file has no dynamic section", even when another <c>PT_DYNAMIC</c> is non-empty; here
    /// an empty one is only passed over, so such files can still be read.
    /// </remarks>
    public static int IndexIn(IReadOnlyList<ProgramHeader> headers)
    {
        for (int i = headers.Count - 1; i >= 0; i--)
        {
            if (headers[i] is { Type: SegmentType.Dynamic, FileSize: not 0 }) // one read: an image's table decodes each
                return i;
        }
        return -1;
    }
}
