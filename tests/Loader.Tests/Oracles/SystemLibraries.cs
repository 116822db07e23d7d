using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Loader.Tests.Oracles;

/// <summary>
/// The ELF shared objects of this machine, for tests that compare our reader with readelf over many real files.
/// </summary>
public static class SystemLibraries
{
    public const string Directory = "/usr/lib/x86_64-linux-gnu";

    /// <summary>The system's zlib: a small real library, on every machine of this kind.</summary>
    public const string ZlibPath = Directory + "/libz.so.1";

    /// <summary>The bytes of <see cref="ZlibPath"/>, named as the tests name the file.</summary>
    public static (string Name, byte[] Bytes) Zlib() => ("libz.so.1", File.ReadAllBytes(ZlibPath));

    /// <summary>The Debian 12 package of each system library a test needs by name. .ci/run installs the same list:
    /// keep the two in step.</summary>
    public static readonly IReadOnlyDictionary<string, string> Packages = new Dictionary<string, string>
    {
        ["libbz2.so.1.0"] = "libbz2-1.0",
        ["libcrypto.so.3"] = "libssl3",
        ["libcurl.so.4"] = "libcurl4",
        ["libexpat.so.1"] = "libexpat1",
        ["liblz4.so.1"] = "liblz4-1",
        ["liblzma.so.5"] = "liblzma5",
        ["libsqlite3.so.0"] = "libsqlite3-0",
        ["libssl.so.3"] = "libssl3",
        ["libstdc++.so.6"] = "libstdc++6",
        ["libunwind.so.8"] = "libunwind8",
        ["libxml2.so.2"] = "libxml2",
        ["libz.so.1"] = "zlib1g",
    };

    /// <summary>The path of <paramref name="soname"/> in <see cref="Directory"/>; fails the test, naming the package
    /// that provides it, when it is not there.</summary>
    public static string Require(string soname)
    {
        string path = System.IO.Path.Combine(Directory, soname);
        Assert.True(File.Exists(path), NotInstalled(soname, path));
        return path;
    }

    /// <summary>Why a needed system library is missing and how it gets installed.</summary>
    public static string NotInstalled(string soname, string where) =>
        $"{soname} is not installed ({where}); .ci/run installs it: apt-get install {Packages.GetValueOrDefault(soname, "<add it to SystemLibraries.Packages and .ci/run>")}";

    private const ushort ET_DYN = 3;

    private static readonly Lazy<IReadOnlyList<string>> TopLevel = new(() => Find(recursive: false));
    private static readonly Lazy<IReadOnlyList<string>> Recursive = new(() => Find(recursive: true));

    /// <summary>
    /// Every ELF shared object named by an entry directly in <see cref="Directory"/> (not its subdirectories,
    /// unless <paramref name="recursive"/>: those add gconv modules, perl/python extensions, plugins...).
    /// Each entry is resolved with realpath (so a symlink's target counts even when it lives elsewhere,
    /// e.g. under /usr/lib/llvm-14), each real file appears once, sorted by ordinal path. Kept: regular files
    /// that start with the ELF magic and have e_type ET_DYN (3) — only the first 18 bytes are read, so
    /// linker scripts such as libc.so and static archives are skipped, and PIE executables (ET_DYN too) are kept. Computed once per process.
    /// </summary>
    public static IReadOnlyList<string> SharedObjects(bool recursive = false) => recursive ? Recursive.Value : TopLevel.Value;

    /// <summary><see cref="SharedObjects"/> for <c>[MemberData]</c>.</summary>
    public static TheoryData<string> SharedObjectsData()
    {
        var data = new TheoryData<string>();
        foreach (string path in SharedObjects())
        {
            data.Add(path);
        }
        return data;
    }

    /// <summary>True for a regular file whose first 18 bytes are an ELF identification with e_type ET_DYN.</summary>
    public static bool IsElfSharedObject(string path)
    {
        Span<byte> head = stackalloc byte[18];
        try
        {
            if (!IsRegularFile(path))
            {
                return false;
            }
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
            if (stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) < head.Length)
            {
                return false;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
        if (head[0] != 0x7F || head[1] != (byte)'E' || head[2] != (byte)'L' || head[3] != (byte)'F')
        {
            return false;
        }
        ushort type = head[5] == 2
            ? BinaryPrimitives.ReadUInt16BigEndian(head[16..])
            : BinaryPrimitives.ReadUInt16LittleEndian(head[16..]);
        return type == ET_DYN;
    }

    /// <summary>realpath(3): the canonical absolute path with every symlink resolved, or null if it does not resolve.</summary>
    public static string? RealPath(string path)
    {
        IntPtr resolved = realpath(path, IntPtr.Zero);
        if (resolved == IntPtr.Zero)
        {
            return null;
        }
        try
        {
            return Marshal.PtrToStringUTF8(resolved);
        }
        finally
        {
            free(resolved);
        }
    }

    private static IReadOnlyList<string> Find(bool recursive)
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            return [];
        }
        var options = new EnumerationOptions
        {
            RecurseSubdirectories = recursive,
            IgnoreInaccessible = true,
            AttributesToSkip = 0,
            ReturnSpecialDirectories = false,
        };
        var found = new HashSet<string>(StringComparer.Ordinal);
        foreach (string entry in System.IO.Directory.EnumerateFileSystemEntries(Directory, "*", options))
        {
            string? real = RealPath(entry);
            if (real is not null && !found.Contains(real) && IsElfSharedObject(real))
            {
                found.Add(real);
            }
        }
        var sorted = found.ToList();
        sorted.Sort(StringComparer.Ordinal);
        return sorted;
    }

    private static bool IsRegularFile(string realPath)
    {
        // realPath has no symlinks left. Fifos, sockets and devices report length 0 (and opening a fifo would
        // block), so "not a directory and at least 18 bytes long" keeps exactly the regular files worth opening.
        var info = new FileInfo(realPath);
        return info.Exists && (info.Attributes & FileAttributes.Directory) == 0 && info.Length >= 18;
    }

    [DllImport("libc", EntryPoint = "realpath", SetLastError = true)]
    private static extern IntPtr realpath([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr resolved);

    [DllImport("libc", EntryPoint = "free")]
    private static extern void free(IntPtr pointer);
}
