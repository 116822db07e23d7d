using Loader.Native;
using Microsoft.Win32.SafeHandles;

namespace Loader.Mapping;

/// <summary>
/// Shared RELRO, as bionic's <c>ANDROID_DLEXT_WRITE_RELRO</c> and <c>USE_RELRO</c> (<c>linker_phdr.cpp</c>'s
/// <c>phdr_table_serialize_gnu_relro</c> and <c>phdr_table_map_gnu_relro</c>). After relocation RELRO holds the same
/// bytes in every process that loaded the library at the same address against the same dependencies, so one process
/// writes its relocated pages to a file and maps them back, and the others map the pages that are identical from that
/// file instead of keeping a private dirty copy each. Runs after <see cref="ElfImage.ApplyRelro"/>: RELRO is read-only
/// and no relocation writes it again.
/// </summary>
internal static class RelroSharing
{
    private const int SealsWanted = SharedMemory.F_SEAL_WRITE | SharedMemory.F_SEAL_SHRINK | SharedMemory.F_SEAL_GROW;

    /// <summary>The side <paramref name="options"/> asks for, on the root image; nothing when it asks for none.</summary>
    public static void Apply(ElfImage image, LoadOptions options)
    {
        if (options.WriteRelro is { } written)
            Write(image, written);
        else if (options.UseRelro is { } used)
            Use(image, used);
    }

    /// <summary><see cref="ElfImage.Map(string, MapOptions?)"/> with <see cref="MapOptions.WriteRelro"/>: write once RELRO is
    /// applied (a mapping that defers RELRO writes nothing); the image is unmapped if writing fails.</summary>
    public static ElfImage WriteAfterMap(ElfImage image, MapOptions options)
    {
        if (options.WriteRelro is not { } file || !image.IsRelroApplied)
            return image;
        try
        {
            Write(image, file);
            return image;
        }
        catch
        {
            image.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The writer: ftruncate the file to RELRO's length, pwrite the relocated pages at offset 0 (pwrite, not a writable
    /// shared mapping: F_SEAL_WRITE fails with EBUSY while one exists) and fdatasync, seal a sealable memfd against writes, shrinking
    /// and growing, then mmap the file over RELRO, MAP_SHARED|MAP_FIXED, read-only. A failure fails the load.
    /// </summary>
    public static void Write(ElfImage image, SafeFileHandle file)
    {
        string name = image.Path;
        if (!TryGetRelro(image, out var relro))
        {
            image.RelroSharing = new RelroSharingReport(RelroSharingMode.Write, default, 0, 0, Page, false, [], "the library has no PT_GNU_RELRO page");
            return;
        }
        byte[] ours = image.Memory.GetSpan(relro.Start, checked((int)relro.Length)).ToArray();

        if (!SharedMemory.Truncate(file, ours.Length, out int errno))
            ThrowHelper.ImageLoad(name, "ftruncate", errno, $"{name}: ftruncate of the WriteRelro file to 0x{ours.Length:x} bytes failed: {Errno.Describe(errno)}");
        var write = new MappingStep(MappingStepKind.WriteRelro, relro.Start, relro.Length, MemoryProtection.None, MappingFlags.None, 0,
            $"pwrite the relocated PT_GNU_RELRO ({relro.Length / Page} pages) to the WriteRelro file at offset 0, then fdatasync");
        try
        {
            RandomAccess.Write(file, ours, 0);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            ThrowHelper.ImageLoad(name, "pwrite", $"{name}: {write} failed: {ex.Message}", ex);
        }
        // On a disk file the pages are then clean (Shared_Clean in smaps: the kernel may drop and re-read them rather than
        // keep them); on tmpfs (memfd, shm) there is no writeback and this does nothing.
        if (!SharedMemory.SyncData(file, out errno))
            ThrowHelper.ImageLoad(name, "fdatasync", errno, $"{name}: fdatasync of the WriteRelro file failed: {Errno.Describe(errno)}");
        image.Record(write);

        bool isSealed = Seal(image, file, out string? note);

        var map = SharedMapStep(relro.Start, relro.Length, 0, "map the written RELRO back from the file");
        if (!SharedMemory.MapSharedReadOnly(relro.Start, relro.Length, file, 0, out errno))
            ThrowHelper.ImageLoad(name, "mmap", errno, $"{name}: {map} failed: {Errno.Describe(errno)}");
        image.Record(map);
        // Read back through the new mapping: an unsealed file that changed since the pwrite is caught here (and the
        // pages are faulted in, so /proc/PID/smaps counts them).
        if (!image.Memory.GetSpan(relro.Start, ours.Length).SequenceEqual(ours))
        {
            KeepPrivate(image, relro.Start, ours, "the WriteRelro file changed after it was written");
            ThrowHelper.ImageLoad(name, "mmap", 0, $"{name}: the WriteRelro file changed between the pwrite and the mmap (someone else writes it)");
        }
        int pages = (int)(relro.Length / Page);
        image.RelroSharing = new RelroSharingReport(RelroSharingMode.Write, relro, pages, 0, Page, isSealed, [relro], note);
    }

    /// <summary>
    /// The user: pread the file's pages, compare each with this process's relocated page, and map only the identical
    /// ones (MAP_SHARED|MAP_FIXED, read-only, one mmap per run of identical pages). A page that differs, lies past the
    /// file's end, or cannot be read stays private: never an error, the library works either way.
    /// </summary>
    public static void Use(ElfImage image, SafeFileHandle file)
    {
        if (!TryGetRelro(image, out var relro))
        {
            image.RelroSharing = new RelroSharingReport(RelroSharingMode.Use, default, 0, 0, Page, false, [], "the library has no PT_GNU_RELRO page");
            return;
        }
        int length = checked((int)relro.Length), pageCount = (int)(relro.Length / Page), page = (int)Page;
        byte[] theirs = new byte[length];
        int available = ReadAll(file, theirs, out string? readProblem);
        var ours = image.Memory.GetSpan(relro.Start, length);
        int seals = SharedMemory.GetSeals(file, out _);
        bool isSealed = seals >= 0 && (seals & SealsWanted) == SealsWanted;

        var matches = new bool[pageCount];
        int differing = 0;
        for (int i = 0; i < pageCount; i++)
        {
            bool inFile = (i + 1) * page <= available;
            matches[i] = inFile && ours.Slice(i * page, page).SequenceEqual(theirs.AsSpan(i * page, page));
            if (inFile && !matches[i])
                differing++;
        }

        var shared = new List<AddressRange>();
        int sharedPages = 0;
        for (int first = 0; first < pageCount;)
        {
            if (!matches[first])
            {
                first++;
                continue;
            }
            int end = first + 1;
            while (end < pageCount && matches[end])
                end++;
            if (MapRun(image, file, relro.Start, theirs, first, end))
            {
                shared.Add(new AddressRange((nint)((ulong)relro.Start + (ulong)first * Page), (ulong)(end - first) * Page));
                sharedPages += end - first;
            }
            first = end;
        }

        int beyond = Math.Max(0, pageCount - available / page);
        string? note = readProblem ?? (differing > 0 || beyond > 0
            ? $"{differing} page(s) differ from the file's (pointers into libraries that lie elsewhere in the writer, or a stale or foreign file)"
              + (beyond > 0 ? $", {beyond} lie past its end" : "") + ": kept private"
            : null);
        if (!isSealed)
            note = (note is null ? "" : note + "; ") + "the file is not a sealed memfd: its writer could still change it";
        image.RelroSharing = new RelroSharingReport(RelroSharingMode.Use, relro, sharedPages, pageCount - sharedPages, Page, isSealed, shared, note);

    }

    /// <summary>
    /// mmap pages [first, end) of RELRO from the file, then read them back through the mapping: if the file changed
    /// between the compare and the mmap (an unsealed file), or the mmap failed, our own bytes (equal to what was
    /// compared) go back as a private copy. True when the run is shared.
    /// </summary>
    private static bool MapRun(ElfImage image, SafeFileHandle file, nint relroStart, byte[] compared, int first, int end)
    {
        ulong offset = (ulong)first * Page, length = (ulong)(end - first) * Page;
        nint address = (nint)((ulong)relroStart + offset);
        var expected = compared.AsSpan((int)offset, (int)length);
        var step = SharedMapStep(address, length, offset, $"map {end - first} RELRO page(s) identical to the file's");
        if (!SharedMemory.MapSharedReadOnly(address, length, file, offset, out _))
        {
            KeepPrivate(image, address, expected, "the shared mmap failed");
            return false;
        }
        image.Record(step);
        if (image.Memory.GetSpan(address, (int)length).SequenceEqual(expected))
            return true;
        KeepPrivate(image, address, expected, "the file changed after the compare");
        return false;
    }

    /// <summary>Our bytes back as private read-only pages (anonymous: the file pages may be gone).</summary>
    private static void KeepPrivate(ElfImage image, nint address, ReadOnlySpan<byte> bytes, string why)
    {
        var step = new MappingStep(MappingStepKind.RestorePrivateRelro, address, (ulong)bytes.Length, MemoryProtection.Read,
            MappingFlags.Private | MappingFlags.Fixed | MappingFlags.Anonymous, null, $"keep the RELRO page(s) private: {why}");
        if (!SharedMemory.MapPrivateCopy(address, bytes, out int errno))
            ThrowHelper.ImageLoad(image.Path, "mmap", errno, $"{image.Path}: {step} failed: {Errno.Describe(errno)}");
        image.Record(step);
    }

    /// <summary>Seals a memfd made with MFD_ALLOW_SEALING; a file with no seals (shm, a regular file) or one sealed
    /// against new seals (a memfd without MFD_ALLOW_SEALING) is left as it is, and the note says so.</summary>
    private static bool Seal(ElfImage image, SafeFileHandle file, out string? note)
    {
        int seals = SharedMemory.GetSeals(file, out _);
        if (seals < 0)
        {
            note = "not sealed: the file takes no seals (not on tmpfs): its holders could still change it";
            return false;
        }
        if ((seals & SealsWanted) == SealsWanted)
        {
            note = null;
            return true;
        }
        if ((seals & SharedMemory.F_SEAL_SEAL) != 0)
        {
            note = "not sealed: the file refuses new seals (F_SEAL_SEAL: a shm object, or a memfd made without MFD_ALLOW_SEALING): its holders could still change it";
            return false;
        }
        var step = new MappingStep(MappingStepKind.SealRelro, 0, 0, MemoryProtection.None, MappingFlags.None, null,
            "seal the RELRO memfd: F_SEAL_WRITE|F_SEAL_SHRINK|F_SEAL_GROW, so what users compare cannot change");
        if (!SharedMemory.AddSeals(file, SealsWanted, out int errno))
            ThrowHelper.ImageLoad(image.Path, "fcntl", errno, $"{image.Path}: {step} failed: {Errno.Describe(errno)}");
        image.Record(step);
        note = null;
        return true;
    }

    private static int ReadAll(SafeFileHandle file, byte[] buffer, out string? problem)
    {
        int total = 0;
        problem = null;
        try
        {
            while (total < buffer.Length)
            {
                int n = RandomAccess.Read(file, buffer.AsSpan(total), total);
                if (n == 0)
                    break;
                total += n;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            problem = $"the UseRelro file cannot be read ({ex.Message}): every page kept private";
            return 0;
        }
        return total;
    }

    private static MappingStep SharedMapStep(nint address, ulong length, ulong offset, string reason) =>
        new(MappingStepKind.MapSharedRelro, address, length, MemoryProtection.Read, MappingFlags.Shared | MappingFlags.Fixed, offset, reason);

    private static bool TryGetRelro(ElfImage image, out AddressRange relro)
    {
        relro = image.Plan.Relro is { Length: > 0 } plan
            ? new AddressRange((nint)((ulong)image.BaseAddress + plan.Address), plan.Length)
            : default;
        return relro.Length > 0;
    }

    private static ulong Page => (ulong)Environment.SystemPageSize;
}
