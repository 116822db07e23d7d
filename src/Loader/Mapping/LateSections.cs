using System.Collections;
using Loader.Elf;
using Loader.Native;

namespace Loader.Mapping;

/// <summary>
/// A mapped file's section headers, read when first asked for (the regions' names, for display) rather than on every
/// load: the path is opened again and read only if it is still the file that was mapped (same device, inode and
/// size); otherwise, or if it cannot be read, there are no sections and the regions carry no names. The load itself
/// needs no section header, as glibc reads none.
/// </summary>
internal sealed class LateSections(string path, ElfHeader header) : IReadOnlyList<SectionHeader>
{
    private IReadOnlyList<SectionHeader>? _sections;
    private FileStatus? _mapped;

    /// <summary>The mapper's fstat of the file it mapped: what a later read must find again at the path.</summary>
    public void MappedAs(FileStatus status) => _mapped = status;

    private IReadOnlyList<SectionHeader> Sections => _sections ??= Read();

    public SectionHeader this[int index] => Sections[index];

    public int Count => Sections.Count;

    public IEnumerator<SectionHeader> GetEnumerator() => Sections.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private SectionHeader[] Read()
    {
        if (_mapped is not { } mapped)
            return [];
        using var fd = FileDescriptor.OpenReadOnly(path, out _);
        if (fd is null || !fd.TryGetStatus(out var now, out _)
            || now.Device != mapped.Device || now.Inode != mapped.Inode || now.Size != mapped.Size)
            return [];
        try
        {
            var encoding = new ElfEncoding(header.Class, header.Data);
            return HeaderTables.ReadSections(header, encoding, path, (ulong)now.Size, new DescriptorReader(fd, path)).Sections;
        }
        catch (LoaderException)
        {
            return []; // the names are for display: a file that no longer reads names nothing
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
