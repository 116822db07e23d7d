using Loader.Elf;
using Loader.Native;

namespace Loader.Mapping;

/// <summary>
/// A mapped file's section headers, read when first asked for (the regions' names, for display) rather than on every
/// load: the path is opened again and read only if it is still the file that was mapped (same device, inode and
/// size); otherwise, or if it cannot be read, there are no sections and the regions carry no names. The load itself
/// needs no section header, as glibc reads none.
/// </summary>
internal static class LateSections
{
    /// <summary>What a <see cref="PlanSource"/> holds for sections that are read later from the path: the plan asks
    /// <see cref="Read"/> when someone first needs them.</summary>
    public static readonly SectionHeader[] Later = new SectionHeader[0];

    /// <summary>The section headers of the file at <paramref name="path"/>, if it is still the file the mapper's fstat
    /// saw; none otherwise.</summary>
    public static SectionHeader[] Read(string path, ulong device, ulong inode, long size)
    {
        if (size < 0)
            return HeaderTables.NoSections; // never mapped (the plan was made and not executed)
        using var fd = FileDescriptor.OpenReadOnly(path, out _);
        if (fd is null || !fd.TryGetStatus(out var now, out _) || now.Device != device || now.Inode != inode || now.Size != size)
            return HeaderTables.NoSections;
        try
        {
            var reader = new DescriptorReader(fd, path);
            var header = ElfHeader.Read(reader.Read(0, (int)Math.Min((ulong)ElfHeader.Size64, (ulong)now.Size)).Span, path);
            var encoding = new ElfEncoding(header.Class, header.Data);
            return HeaderTables.ReadSections(header, encoding, path, (ulong)now.Size, reader).Sections;
        }
        catch (LoaderException)
        {
            return HeaderTables.NoSections; // the names are for display: a file that no longer reads names nothing
        }
    }

    /// <summary>Reads with pread, refusing a short read (the file changed since it was mapped).</summary>
    private sealed class DescriptorReader(FileDescriptor fd, string path) : IFileRangeReader
    {
        public ReadOnlyMemory<byte> Read(ulong offset, int length)
        {
            byte[] bytes = new byte[length];
            if (fd.ReadAt(bytes, (long)offset, out _) != length)
                ThrowHelper.ImageLoad(path, "pread", 0, $"{path}: the file changed since it was mapped");
            return bytes;
        }
    }
}
