namespace Loader.Benchmarks;

/// <summary>The libraries the benchmarks use, and private copies of them.</summary>
internal static class Libraries
{
    public const string SystemDirectory = "/usr/lib/x86_64-linux-gnu";

    /// <summary>The path of a library in <see cref="SystemDirectory"/>, checked to exist.</summary>
    public static string SystemPath(string fileName)
    {
        string path = Path.Combine(SystemDirectory, fileName);
        if (!File.Exists(path))
            throw new FileNotFoundException($"benchmark input {path} is not on this machine", path);
        return path;
    }

    /// <summary>
    /// The largest shared object in <see cref="SystemDirectory"/> (by file size, symlinks skipped), as a file name.
    /// On the machine of docs/benchmarks.md this is libLLVM-15.so.1.
    /// </summary>
    public static string Largest()
    {
        var largest = new DirectoryInfo(SystemDirectory)
            .EnumerateFiles("*.so*")
            .Where(f => f.LinkTarget is null && IsElf(f.FullName))
            .MaxBy(f => f.Length)
            ?? throw new FileNotFoundException($"no shared object in {SystemDirectory}");
        return largest.Name;
    }

    /// <summary>The file starts with the ELF magic.</summary>
    public static bool IsElf(string path)
    {
        Span<byte> magic = stackalloc byte[4];
        using var stream = File.OpenRead(path);
        return stream.Read(magic) == 4 && magic.SequenceEqual("\u007fELF"u8);
    }

    /// <summary>
    /// Copies a system library into a new private directory, so it has a path and an inode nothing in the process has
    /// loaded: glibc's dlopen of it is a real load, never the reference-count bump it does for an object it already
    /// has (it matches a dlopen'ed path by name and by device and inode, not by DT_SONAME). Returns the copy's path.
    /// </summary>
    public static string PrivateCopy(string fileName, string tag) => PrivateCopyOf(SystemPath(fileName), tag);

    /// <summary>As <see cref="PrivateCopy"/>, for a library anywhere (a generated one): its copy keeps its file name.</summary>
    public static string PrivateCopyOf(string path, string tag)
    {
        string directory = Path.Combine(Path.GetTempPath(), $"loader-bench-{tag}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        string copy = Path.Combine(directory, Path.GetFileName(path));
        File.Copy(path, copy);
        if (Glibc.IsLoaded(copy))
            throw new InvalidOperationException($"{copy}: the system loader already has it loaded; the benchmark would measure a refcount bump");
        return copy;
    }

    /// <summary>What <paramref name="use"/> makes of a private copy of the library at <paramref name="path"/>
    /// (<see cref="PrivateCopyOf"/>), the copy deleted afterwards.</summary>
    public static T OnPrivateCopyOf<T>(string path, string tag, Func<string, T> use)
    {
        string copy = PrivateCopyOf(path, tag);
        try
        {
            return use(copy);
        }
        finally
        {
            DeletePrivateCopy(copy);
        }
    }

    /// <summary>Deletes the directory <see cref="PrivateCopy"/> made.</summary>
    public static void DeletePrivateCopy(string? copy)
    {
        if (copy is not null && Path.GetDirectoryName(copy) is { } directory && Directory.Exists(directory))
            Directory.Delete(directory, recursive: true);
    }
}
