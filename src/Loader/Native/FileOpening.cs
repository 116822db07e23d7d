namespace Loader.Native;

/// <summary>
/// How every entry point (<c>ElfFile.Open</c>, the mapper, hence <c>LoaderContext.Load</c>) opens a path: one open
/// with the same flags, one fstat check, one wording for each refusal, so a missing path or a FIFO gets the same
/// <see cref="ImageLoadException"/> whichever API was called.
/// </summary>
internal static class FileOpening
{
    /// <summary>The flags of <see cref="Open"/>, as messages and <c>loader trace</c> print them.</summary>
    public const string FlagsText = "O_RDONLY|O_CLOEXEC|O_NONBLOCK";

    /// <summary>
    /// open(path, O_RDONLY|O_CLOEXEC|O_NONBLOCK). O_NONBLOCK because open() of a FIFO otherwise waits for a writer,
    /// forever (glibc's dlopen does); on a regular file it changes nothing, and <see cref="ReadStatus"/> refuses
    /// anything else before a byte is read.
    /// </summary>
    public static FileDescriptor Open(string path) =>
        FileDescriptor.OpenReadOnly(path, out int errno)
            ?? ThrowHelper.ImageLoad<FileDescriptor>(path, "open", errno,
                $"{path}: open(\"{path}\", {FlagsText}) failed: {Errno.Describe(errno)}");

    /// <summary>fstat the descriptor and refuse what is not a regular file, or one too large to read.</summary>
    public static FileStatus ReadStatus(FileDescriptor fd, string name)
    {
        if (!fd.TryGetStatus(out var status, out int errno))
            ThrowHelper.ImageLoad(name, "fstat", errno, $"{name}: fstat failed: {Errno.Describe(errno)}");
        return CheckStatus(status, name);
    }

    /// <summary><see cref="ReadStatus"/>'s refusals for a status already read.</summary>
    private static FileStatus CheckStatus(FileStatus status, string name)
    {
        if (!status.IsRegularFile)
            ThrowHelper.ImageLoad(name, "fstat", 0,
                $"{name}: is {status.KindName}, not a regular file (st_mode 0{Convert.ToString(status.Mode, 8)})");
        if (status.Size > int.MaxValue)
            ThrowHelper.ImageLoad(name, "fstat", 0, $"{name}: the file is {status.Size} bytes; the reader reads files up to 2 GiB");
        return status;
    }

    /// <summary>
    /// The whole file, read with pread into an array. Not mapped: a mapping of a file that someone truncates raises
    /// SIGBUS on the first page past the new end, which kills the process; a copy cannot shrink. A file that shrinks
    /// between fstat and pread is read as far as it goes (the reader then refuses what lies past that end).
    /// </summary>
    public static ReadOnlyMemory<byte> ReadAll(string path)
    {
        using var fd = Open(path);
        var status = ReadStatus(fd, path);
        // Uninitialized: pread overwrites every byte that is kept.
        byte[] bytes = GC.AllocateUninitializedArray<byte>((int)status.Size);
        int read = fd.ReadAt(bytes, 0, out int errno);
        if (read < 0)
            ThrowHelper.ImageLoad(path, "pread", errno, $"{path}: pread of {bytes.Length} bytes failed: {Errno.Describe(errno)}");
        return bytes.AsMemory(0, read);
    }
}
