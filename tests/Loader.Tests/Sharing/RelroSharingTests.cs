using Loader.Mapping;
using Loader.Tests.Oracles;
using Microsoft.Win32.SafeHandles;

namespace Loader.Tests.Sharing;

/// <summary>
/// <see cref="LoadOptions.WriteRelro"/> and <see cref="LoadOptions.UseRelro"/> in one process: the writer loads into a
/// range, writes and seals its RELRO and maps it back; after it is unloaded, a user loads into the same range and maps
/// only the pages identical to the file's. The oracle is /proc/self/maps (which pages come from the memfd, shared).
/// Between processes (other libc addresses, smaps): <see cref="ShareCommandProcessTests"/>.
/// </summary>
[Collection("AddressSpace")]
public sealed unsafe class RelroSharingTests
{
    private const ulong Generous = 16UL << 20;
    private const long ExpectedSum = 22016;
    private static ulong Page => (ulong)Environment.SystemPageSize;
    private static string Fixture => Fixtures.Path("relro_share.so");

    [Fact]
    public void The_writer_seals_its_memfd_and_maps_RELRO_back_from_it_shared_and_read_only()
    {
        var range = AddressReservation.Reserve(Generous);
        using var file = RelroFile.CreateMemfd("loader-test-relro");
        try
        {
            using (var writer = new LoaderContext().Load(Fixture, new LoadOptions { ReservedRange = range, WriteRelro = file }))
            {
                var report = Assert.IsType<RelroSharingReport>(writer.RelroSharing);
                Assert.Equal(RelroSharingMode.Write, report.Mode);
                Assert.True(report.PagesShared >= 9, $"{report.PagesShared} RELRO pages written");
                Assert.Equal(0, report.PagesPrivate);
                Assert.True(report.Sealed);
                Assert.Equal((long)report.Relro.Length, RandomAccess.GetLength(file));
                AssertMappedFromMemfd(report.Relro, "loader-test-relro");
                Assert.Equal(ExpectedSum, ((delegate* unmanaged<long>)writer.GetExport("relro_share_sum"))());
                Assert.Contains(writer.MappingSteps, s => s.Kind == MappingStepKind.WriteRelro);
                Assert.Contains(writer.MappingSteps, s => s.Kind == MappingStepKind.SealRelro);
                Assert.Contains(writer.MappingSteps, s => s.Kind == MappingStepKind.MapSharedRelro && s.Flags.HasFlag(MappingFlags.Shared));
                // Each step reads as the call strace would show.
                string trace = string.Join('\n', writer.MappingSteps);
                Assert.Contains($"mincore(0x{range.Start:x}, ", trace, StringComparison.Ordinal);
                Assert.Contains($"pwrite(fd, 0x{report.Relro.Start:x}, 0x{report.Relro.Length:x}, 0x0)", trace, StringComparison.Ordinal);
                Assert.Contains("fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE|F_SEAL_SHRINK|F_SEAL_GROW)", trace, StringComparison.Ordinal);
                Assert.Contains($"mmap(0x{report.Relro.Start:x}, 0x{report.Relro.Length:x}, PROT_READ, MAP_SHARED|MAP_FIXED, fd, 0x0)", trace, StringComparison.Ordinal);
            }
            // Sealed: nobody, not even this descriptor's holder, can change what users compare against.
            Assert.Throws<UnauthorizedAccessException>(() => RandomAccess.Write(file, new byte[] { 1 }, 0)); // EPERM
        }
        finally
        {
            AddressReservation.Release(range);
        }
    }

    [Fact]
    public void A_user_at_the_writers_address_maps_every_identical_page_from_the_file()
    {
        var range = AddressReservation.Reserve(Generous);
        using var file = RelroFile.CreateMemfd("loader-test-relro-use");
        try
        {
            WriteAndUnload(range, file);
            using var user = new LoaderContext().Load(Fixture, new LoadOptions { ReservedRange = range, UseRelro = file });
            var report = Assert.IsType<RelroSharingReport>(user.RelroSharing);
            Assert.Equal(RelroSharingMode.Use, report.Mode);
            // Same process, same address, same libc: every page is identical, in one run, one mmap.
            Assert.Equal(0, report.PagesPrivate);
            Assert.Equal((int)(report.Relro.Length / Page), report.PagesShared);
            Assert.Single(report.SharedRanges);
            Assert.Single(user.MappingSteps, s => s.Kind == MappingStepKind.MapSharedRelro);
            AssertMappedFromMemfd(report.Relro, "loader-test-relro-use");
            Assert.Equal(ExpectedSum, ((delegate* unmanaged<long>)user.GetExport("relro_share_sum"))());
        }
        finally
        {
            AddressReservation.Release(range);
        }
    }

    [Fact]
    public void A_page_that_differs_in_the_file_stays_private_and_the_library_works()
    {
        var range = AddressReservation.Reserve(Generous);
        using var written = RelroFile.CreateMemfd("loader-test-relro-written");
        using var hostile = RelroFile.CreateMemfd("loader-test-relro-hostile");
        try
        {
            byte[] bytes = WriteAndUnload(range, written);
            // The libc page (page 2 holds pointers into this library; the strlen table lies further): flip one byte of
            // page 3 and poison the last page entirely, as a stale or hostile file would.
            int pages = bytes.Length / (int)Page;
            bytes[3 * (int)Page + 8] ^= 0xff;
            Array.Fill(bytes, (byte)0xcc, (pages - 1) * (int)Page, (int)Page);
            RandomAccess.Write(hostile, bytes, 0);

            using var user = new LoaderContext().Load(Fixture, new LoadOptions { ReservedRange = range, UseRelro = hostile });
            var report = Assert.IsType<RelroSharingReport>(user.RelroSharing);
            Assert.Equal(2, report.PagesPrivate);
            Assert.Equal(pages - 2, report.PagesShared);
            Assert.False(report.Sealed);
            Assert.Contains("2 page(s) differ", report.Note, StringComparison.Ordinal);
            nint third = (nint)((ulong)report.Relro.Start + 3 * Page), last = (nint)((ulong)report.Relro.End - Page);
            Assert.False(report.IsShared(third));
            Assert.False(report.IsShared(last));
            // The kernel agrees: those pages are not the memfd's, every other one is.
            var maps = ProcMaps.Read();
            foreach (nint page in new[] { third, last })
                Assert.DoesNotContain(maps, m => m.Overlaps((ulong)page, (ulong)page + Page) && m.Path.Contains("loader-test-relro-hostile", StringComparison.Ordinal));
            foreach (var shared in report.SharedRanges)
                AssertMappedFromMemfd(shared, "loader-test-relro-hostile");
            Assert.Equal(ExpectedSum, ((delegate* unmanaged<long>)user.GetExport("relro_share_sum"))());
        }
        finally
        {
            AddressReservation.Release(range);
        }
    }

    [Fact]
    public void A_file_shorter_than_RELRO_shares_what_it_holds_and_keeps_the_rest_private()
    {
        var range = AddressReservation.Reserve(Generous);
        using var written = RelroFile.CreateMemfd("loader-test-relro-full");
        using var shortFile = RelroFile.CreateMemfd("loader-test-relro-short");
        try
        {
            byte[] bytes = WriteAndUnload(range, written);
            RandomAccess.Write(shortFile, bytes.AsSpan(0, 3 * (int)Page + 100), 0); // three pages and a piece
            using var user = new LoaderContext().Load(Fixture, new LoadOptions { ReservedRange = range, UseRelro = shortFile });
            var report = Assert.IsType<RelroSharingReport>(user.RelroSharing);
            Assert.Equal(3, report.PagesShared);
            Assert.Equal(bytes.Length / (int)Page - 3, report.PagesPrivate);
            Assert.Contains("past its end", report.Note, StringComparison.Ordinal);
            Assert.Equal(ExpectedSum, ((delegate* unmanaged<long>)user.GetExport("relro_share_sum"))());
        }
        finally
        {
            AddressReservation.Release(range);
        }
    }

    [Fact]
    public void A_POSIX_shared_memory_object_works_unsealed()
    {
        string name = $"/loader-test-{Environment.ProcessId}-{Guid.NewGuid():N}";
        var range = AddressReservation.Reserve(Generous);
        try
        {
            using var file = RelroFile.CreateShm(name);
            Assert.True(File.Exists("/dev/shm" + name));
            int pages;
            using (var writer = new LoaderContext().Load(Fixture, new LoadOptions { ReservedRange = range, WriteRelro = file }))
            {
                var written = writer.RelroSharing!;
                Assert.False(written.Sealed);
                Assert.StartsWith("not sealed", written.Note, StringComparison.Ordinal);
                AssertMappedFrom(written.Relro, "/dev/shm" + name);
                pages = written.PagesShared;
            }
            using var user = new LoaderContext().Load(Fixture, new LoadOptions { ReservedRange = range, UseRelro = file });
            Assert.Equal(pages, user.RelroSharing!.PagesShared);
            AssertMappedFrom(user.RelroSharing.Relro, "/dev/shm" + name);
            Assert.Equal(ExpectedSum, ((delegate* unmanaged<long>)user.GetExport("relro_share_sum"))());
        }
        finally
        {
            RelroFile.UnlinkShm(name);
            AddressReservation.Release(range);
        }
        Assert.False(File.Exists("/dev/shm" + name));
    }

    [Fact]
    public void Writing_to_a_read_only_descriptor_fails_the_load_and_gives_the_range_back()
    {
        var range = AddressReservation.Reserve(Generous);
        string path = Path.GetTempFileName();
        try
        {
            using var readOnly = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
            var ex = Assert.Throws<ImageLoadException>(() =>
                new LoaderContext().Load(Fixture, new LoadOptions { ReservedRange = range, WriteRelro = readOnly }));
            Assert.Contains("WriteRelro", ex.Message, StringComparison.Ordinal);
            foreach (var m in ProcMaps.Covering(ProcMaps.Read(), (ulong)range.Start, (ulong)range.End))
                Assert.True(m.Permissions == "---p" && m.Inode == 0, $"{m} is left in the caller's range");
        }
        finally
        {
            File.Delete(path);
            AddressReservation.Release(range);
        }
    }

    [Fact]
    public void Writing_and_using_in_one_load_is_a_caller_mistake()
    {
        using var file = RelroFile.CreateMemfd("loader-test-relro-both");
        Assert.Throws<ArgumentException>(() => new LoaderContext().Load(Fixture, new LoadOptions { WriteRelro = file, UseRelro = file }));
    }

    [Fact]
    public void Without_sharing_there_is_no_report()
    {
        using var library = new LoaderContext().Load(Fixture);
        Assert.Null(library.RelroSharing);
    }

    /// <summary>Loads the fixture into <paramref name="range"/> writing its RELRO to <paramref name="file"/>, unloads it,
    /// and returns the bytes written.</summary>
    private static byte[] WriteAndUnload(AddressRange range, SafeFileHandle file)
    {
        using var writer = new LoaderContext().Load(Fixture, new LoadOptions { ReservedRange = range, WriteRelro = file });
        var bytes = new byte[writer.RelroSharing!.Relro.Length];
        Assert.Equal(bytes.Length, RandomAccess.Read(file, bytes, 0));
        return bytes;
    }

    private static void AssertMappedFromMemfd(AddressRange range, string memfdName) =>
        AssertMappedFrom(range, $"/memfd:{memfdName}");

    /// <summary>/proc/self/maps maps every byte of the range from the file, shared and read-only.</summary>
    private static void AssertMappedFrom(AddressRange range, string pathPrefix)
    {
        foreach (var m in ProcMaps.Covering(ProcMaps.Read(), (ulong)range.Start, (ulong)range.End))
        {
            Assert.True(m.Permissions == "r--s", $"{m}: expected r--s");
            Assert.True(m.Path.StartsWith(pathPrefix, StringComparison.Ordinal), $"{m}: expected {pathPrefix}");
        }
    }
}
