using System.Net.Sockets;
using Loader.Elf;
using Loader.Mapping;
using Loader.Tests.Cli;
using Loader.Tests.Oracles;

namespace Loader.Tests.Mapping;

/// <summary>
/// Files that are not what a path promises: a FIFO (whose open() blocks until a writer comes), a directory, a socket,
/// a character device, a missing path, a file truncated under the reader. Every entry point gives the same answer,
/// a <see cref="LoaderException"/> naming the file, and none blocks or dies.
/// </summary>
[Collection("AddressSpace")]
public sealed class HostileFileTests
{
    public static TheoryData<string> EntryPoints => ["ElfFile.Open", "ElfImage.Map", "LoaderContext.Load"];

    private static void Open(string entryPoint, string path)
    {
        switch (entryPoint)
        {
            case "ElfFile.Open": ElfFile.Open(path).Dispose(); break;
            case "ElfImage.Map": ElfImage.Map(path).Dispose(); break;
            default: new LoaderContext().Load(path).Dispose(); break;
        }
    }

    [Theory]
    [MemberData(nameof(EntryPoints))]
    public async Task A_fifo_is_refused_without_blocking_in_open(string entryPoint)
    {
        string fifo = Path.Combine(Path.GetTempPath(), $"loader-fifo-{Guid.NewGuid():N}");
        Assert.Equal(0, ChildProcess.Run("mkfifo", fifo).ExitCode);
        try
        {
            var attempt = Task.Run(() => Record.Exception(() => Open(entryPoint, fifo)));
            if (await Task.WhenAny(attempt, Task.Delay(TimeSpan.FromSeconds(10))) != attempt)
            {
                // Opening the write end releases a reader blocked in open(), so the test host does not hang with it; a
                // load may open the path more than once (search, then map), hence a few times.
                for (int i = 0; i < 5 && !attempt.IsCompleted; i++)
                    ChildProcess.Run("timeout", "2", "sh", "-c", $": > '{fifo}'");
                Assert.Fail($"{entryPoint} blocked in open() on a FIFO");
            }
            var e = Assert.IsType<ImageLoadException>(await attempt);
            Assert.Equal(fifo, e.FileName);
            Assert.Contains("is a FIFO, not a regular file", e.Message);
        }
        finally
        {
            File.Delete(fifo);
        }
    }

    [Theory]
    [InlineData("ElfFile.Open", "/", "a directory")]
    [InlineData("ElfImage.Map", "/", "a directory")]
    [InlineData("LoaderContext.Load", "/", "a directory")]
    [InlineData("ElfFile.Open", "/dev/zero", "a character device")]
    [InlineData("ElfImage.Map", "/dev/zero", "a character device")]
    [InlineData("LoaderContext.Load", "/dev/zero", "a character device")]
    public void A_directory_or_a_device_is_refused_saying_what_it_is(string entryPoint, string path, string kind)
    {
        var e = Assert.IsType<ImageLoadException>(Record.Exception(() => Open(entryPoint, path)));

        Assert.Equal(path, e.FileName);
        Assert.Equal("fstat", e.Call);
        Assert.StartsWith($"{path}: is {kind}, not a regular file (st_mode 0", e.Message);
    }

    [Theory]
    [MemberData(nameof(EntryPoints))]
    public void A_socket_is_refused_saying_what_it_is(string entryPoint)
    {
        string path = Path.Combine(Path.GetTempPath(), $"loader-sock-{Guid.NewGuid():N}");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        try
        {
            // open() of a socket fails with ENXIO: refused at the open, with its errno, by every entry point.
            var e = Assert.IsType<ImageLoadException>(Record.Exception(() => Open(entryPoint, path)));
            Assert.Equal(path, e.FileName);
            Assert.Equal(("open", 6), (e.Call, e.Errno));
            Assert.Contains("ENXIO", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [MemberData(nameof(EntryPoints))]
    public void A_missing_path_is_the_same_ImageLoadException_from_every_entry_point(string entryPoint)
    {
        string path = Path.Combine(Path.GetTempPath(), $"loader-missing-{Guid.NewGuid():N}.so");

        var e = Assert.IsType<ImageLoadException>(Record.Exception(() => Open(entryPoint, path)));

        Assert.Equal(path, e.FileName);
        Assert.Equal(("open", 2), (e.Call, e.Errno));
        Assert.Equal($"{path}: open(\"{path}\", O_RDONLY|O_CLOEXEC|O_NONBLOCK) failed: ENOENT (No such file or directory)", e.Message);
    }

    [Fact]
    public void Truncating_a_file_after_ElfFile_Open_leaves_what_was_read_readable()
    {
        // In a child process: before the fix the reader read through a mapping of the file, and the first page past
        // the new end raised SIGBUS, which kills whichever process reads.
        string copy = Path.Combine(Path.GetTempPath(), $"loader-shrink-{Guid.NewGuid():N}.so");
        File.Copy(CliHarness.LibZ, copy);
        try
        {
            var run = ChildProcess.Run("dotnet", typeof(HostileFileTests).Assembly.Location, ChildEntryPoint.TruncateAfterOpen, copy);

            Assert.True(run.ExitCode == 0, $"the child exited {run.ExitCode}: {run.Stdout}{run.Stderr}");
            Assert.StartsWith("read ", run.Stdout);
            Assert.Equal(0, new FileInfo(copy).Length);
        }
        finally
        {
            File.Delete(copy);
        }
    }

    [Theory]
    [InlineData(MappingStepKind.Reserve)]
    [InlineData(MappingStepKind.Overlay)]
    public void A_file_cut_short_while_ElfImage_Map_runs_is_refused_not_a_SIGBUS(MappingStepKind cutBefore)
    {
        // In a child process: the headers are read with pread (no mapping of the file to die on), and the load's fstat,
        // made once the file pages are mapped and before any is touched, finds PT_LOAD[0]'s bytes past the file's new
        // end. (Before the fix the headers were read through a mapping of the whole file: a cut before the reservation
        // was a SIGBUS.)
        string copy = Path.Combine(Path.GetTempPath(), $"loader-shrink-map-{Guid.NewGuid():N}.so");
        File.Copy(CliHarness.LibZ, copy);
        try
        {
            var run = ChildProcess.Run("dotnet", typeof(HostileFileTests).Assembly.Location, ChildEntryPoint.TruncateDuringMap, copy, cutBefore.ToString());

            Assert.True(run.ExitCode == 0, $"the child exited {run.ExitCode}: {run.Stdout}{run.Stderr}");
            var first = FirstLoadWithBytesPastOnePage(CliHarness.LibZ);
            Assert.StartsWith($"refused: ElfFormatException: {copy}: PT_LOAD[{first.Index}] p_filesz", run.Stdout.Trim());
            Assert.Contains($"0x{first.FileSize:x} bytes from p_offset 0x{first.Offset:x} run past the end of the {Environment.SystemPageSize}-byte file", run.Stdout);
            Assert.Equal(Environment.SystemPageSize, new FileInfo(copy).Length);
        }
        finally
        {
            File.Delete(copy);
        }
    }

    [Fact]
    public void A_file_cut_short_before_its_populated_overlay_is_refused_not_a_SIGBUS()
    {
        // libsqlite3's writable segment (10 pages) is mapped with MAP_POPULATE, as a load maps it (WritablePrefault): the
        // kernel's copies of pages past the file's new end fail inside the mmap, which populates what it can and still
        // succeeds, and the fstat after the overlays refuses the file before anything touches those pages.
        string library = SystemLibraries.Require("libsqlite3.so.0");
        string copy = Path.Combine(Path.GetTempPath(), $"loader-shrink-populate-{Guid.NewGuid():N}.so");
        File.Copy(library, copy);
        try
        {
            var run = ChildProcess.Run("dotnet", typeof(HostileFileTests).Assembly.Location, ChildEntryPoint.TruncateDuringMap, copy,
                nameof(MappingStepKind.Overlay), "prefault");

            Assert.True(run.ExitCode == 0, $"the child exited {run.ExitCode}: {run.Stdout}{run.Stderr}");
            var first = FirstLoadWithBytesPastOnePage(library);
            Assert.StartsWith($"refused: ElfFormatException: {copy}: PT_LOAD[{first.Index}] p_filesz", run.Stdout.Trim());
            Assert.Equal(Environment.SystemPageSize, new FileInfo(copy).Length);
        }
        finally
        {
            File.Delete(copy);
        }
    }

    /// <summary>The first PT_LOAD (by index) whose file bytes run past the file's first page.</summary>
    private static (int Index, ulong Offset, ulong FileSize) FirstLoadWithBytesPastOnePage(string path)
    {
        using var elf = ElfFile.Open(path);
        var headers = elf.ProgramHeaders;
        int i = 0;
        while (!(headers[i].Type == SegmentType.Load && headers[i].Offset + headers[i].FileSize > (ulong)Environment.SystemPageSize))
            i++;
        return (i, headers[i].Offset, headers[i].FileSize);
    }

    [Fact]
    public void An_image_mapped_from_bytes_comes_from_a_memfd_sealed_against_any_change()
    {
        string name = $"loader-sealed-{Guid.NewGuid():N}";
        byte[] bytes = File.ReadAllBytes(CliHarness.LibZ);
        Exception? growing = null, writing = null;
        long lengthAfter = -1;
        bool found = false;
        var options = new MapOptions
        {
            BeforeStep = step =>
            {
                if (!found && step.Kind == MappingStepKind.Reserve)
                {
                    // Loader still holds the memfd here: reopen it read-write through /proc, as anyone could, and try.
                    // Growing and rewriting the same bytes are harmless if the seals were missing; shrinking would not be
                    // (the mapping would die with SIGBUS), and F_SEAL_SHRINK comes in the same fcntl call.
                    string fd = Directory.GetFiles("/proc/self/fd").First(f => new FileInfo(f).LinkTarget == $"/memfd:{name} (deleted)");
                    found = true;
                    using var file = new FileStream(fd, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 0);
                    growing = Record.Exception(() => file.SetLength(bytes.Length + 4096));
                    writing = Record.Exception(() => file.Write(bytes, 0, 16));
                    lengthAfter = file.Length;
                }
            },
        };

        using (var image = ElfImage.Map(bytes, name, options))
            Assert.NotNull(image.SoName);

        Assert.True(found, "the memfd was not open during the mapping");
        Assert.IsType<UnauthorizedAccessException>(growing); // ftruncate: EPERM (F_SEAL_GROW)
        Assert.IsType<UnauthorizedAccessException>(writing); // write: EPERM (F_SEAL_WRITE)
        Assert.Equal(bytes.Length, lengthAfter);
    }
}
