namespace Loader.Elf;

/// <summary>Which <c>PT_TLS</c> is an object's TLS template: the one rule for the loader, <c>info</c> and <c>layout</c>.</summary>
public static class TlsSegment
{
    /// <summary>The last <c>PT_TLS</c> whose <c>p_memsz</c> is not 0, or null: glibc's <c>_dl_map_object_from_fd</c>
    /// skips an empty one and lets a later one overwrite the module's TLS fields.</summary>
    public static ProgramHeader? Find(IReadOnlyList<ProgramHeader> headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        for (int i = headers.Count - 1; i >= 0; i--)
        {
            if (headers[i].Type == SegmentType.Tls && headers[i].MemorySize != 0)
                return headers[i];
        }
        return null;
    }
}
