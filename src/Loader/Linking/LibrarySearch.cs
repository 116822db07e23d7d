using System.Text;
using Loader.Elf;
using Loader.Mapping;
using Loader.Native;

namespace Loader.Linking;

/// <summary>
/// Finds the file for a <c>DT_NEEDED</c> name the way glibc's <c>_dl_map_object</c> (elf/dl-load.c) does, and records
/// every candidate it tries.
/// </summary>
/// <remarks>
/// <para>Order, for a name without '/': the <c>DT_RPATH</c> of the requester and of each library up its
/// <see cref="LibraryRequester.LoadedBy"/> chain (only when the requester has no <c>DT_RUNPATH</c>; a library with a
/// <c>DT_RUNPATH</c> contributes no <c>DT_RPATH</c>), <c>LD_LIBRARY_PATH</c>, the requester's own <c>DT_RUNPATH</c>
/// (not inherited), <c>LoadOptions.SearchPaths</c>, <c>/etc/ld.so.cache</c>, then the default directories
/// (<see cref="DefaultDirectories"/>). A name with '/' is a path, relative to the current directory.</para>
/// <para>In every directory of a search list the <c>glibc-hwcaps</c> and legacy hwcap subdirectories this CPU supports
/// come first, as in glibc 2.36 (see <see cref="HardwareCapabilitySubdirectories"/>); a subdirectory that does not
/// exist is not tried and not recorded. Whether it exists is asked once per directory for the process, as glibc
/// records it once (a subdirectory made later is not seen, by either).</para>
/// <para><c>$ORIGIN</c>, <c>$LIB</c> and <c>$PLATFORM</c> (bare or braced) are expanded as <c>_dl_dst_substitute</c>
/// does, in the name itself and in every path list. A path element with a token that has no value is dropped.</para>
/// <para>Each candidate is checked as <c>open_verify</c> does: an ELFCLASS32 file or an ELF64 file for another machine
/// is skipped (recorded as <c>wrong ELF class</c> / <c>wrong machine</c>) and the search goes on; any other defect
/// (not ELF, big-endian, bad <c>e_ident</c>, <c>e_type</c> not <c>ET_DYN</c>/<c>ET_EXEC</c>, bad <c>e_phentsize</c>)
/// stops the search with an <see cref="ElfFormatException"/>, as it makes glibc's <c>dlopen</c> fail. An
/// <c>ET_EXEC</c> passes here, as in <c>open_verify</c>; the mapper refuses it afterwards.</para>
/// <para>Not modeled: the main executable's <c>DT_RPATH</c> (the .NET host has none), <c>DF_1_NODEFLIB</c>,
/// secure (setuid) mode, <c>GLIBC_TUNABLES</c>' hwcap masks, and <c>LD_LIBRARY_PATH</c> changes after construction.</para>
/// </remarks>
internal sealed class LibrarySearch
{
    /// <summary>glibc's system search directories on Debian x86_64 (<c>ld.so --help</c>: "system search path").</summary>
    public static IReadOnlyList<string> DefaultDirectories { get; } =
        ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib"];

    /// <summary>What <c>$LIB</c> expands to: Debian builds glibc with <c>DL_DST_LIB</c> = "lib/x86_64-linux-gnu".</summary>
    public const string LibExpansion = "lib/x86_64-linux-gnu";

    /// <summary>glibc's <c>LIBC_ABI_MAX</c>: the ELFOSABI_GNU ABI versions it knows are below it.</summary>
    private const byte LibcAbiMax = 4;

    private readonly IReadOnlyList<string> _searchPaths;
    private readonly List<string> _ldLibraryPath;
    private readonly LdSoCache? _cache;
    // Which hwcap subdirectories of a search directory exist (bit i: HardwareCapabilitySubdirectories[i]), asked once per
    // directory for the process, as glibc records each one's status once in its search-path elements: every load that
    // searches would otherwise stat them again and make their path strings. Guarded by its own lock (searches run
    // under different namespaces' locks).
    private static readonly Dictionary<string, uint> s_subdirectoriesPresent = new(StringComparer.Ordinal);
    private static readonly Lock s_subdirectoriesLock = new();

    /// <summary>Prepares a search.</summary>
    /// <param name="searchPaths">Directories searched after the requester's <c>DT_RUNPATH</c> and before the cache
    /// (<c>LoadOptions.SearchPaths</c>); relative ones are relative to the current directory.</param>
    /// <param name="ldLibraryPath">The <c>LD_LIBRARY_PATH</c> value to use (elements separated by ':' or ';', an empty
    /// element is the current directory); null reads the environment variable now.</param>
    /// <param name="cache">The ld.so.cache to consult; null uses <see cref="LdSoCache.System"/> (read on first use).</param>
    public LibrarySearch(IReadOnlyList<string>? searchPaths = null, string? ldLibraryPath = null, LdSoCache? cache = null)
    {
        _searchPaths = searchPaths?.ToArray() ?? [];
        _cache = cache;
        ldLibraryPath ??= Environment.GetEnvironmentVariable("LD_LIBRARY_PATH");
        // glibc expands DSTs in LD_LIBRARY_PATH against the main program (here the .NET host).
        _ldLibraryPath = string.IsNullOrEmpty(ldLibraryPath) ? [] : SplitPathList(ldLibraryPath, ":;", ExecutableOrigin);
    }

    /// <summary>The <c>LD_LIBRARY_PATH</c> directories, after <c>$ORIGIN</c>/<c>$LIB</c>/<c>$PLATFORM</c> expansion.</summary>
    public IReadOnlyList<string> LibraryPath => _ldLibraryPath;

    /// <summary>
    /// Finds <paramref name="needed"/> for <paramref name="requester"/> in glibc's order (see the remarks on the
    /// class), appending every candidate tried to <paramref name="attempts"/>. Returns the absolute path of the first
    /// acceptable file, or null when there is none. Throws an <see cref="ElfFormatException"/> when a candidate is a
    /// file glibc would stop at (not ELF, wrong byte order, …).
    /// </summary>
    /// <param name="needed">The <c>DT_NEEDED</c> string (or a path).</param>
    /// <param name="requester">The library that needs it; null when it is asked for directly (then only
    /// <c>LD_LIBRARY_PATH</c>, the search paths, the cache and the default directories are searched).</param>
    /// <param name="attempts">Receives every candidate, in order.</param>
    public string? Find(string needed, LibraryRequester? requester, List<SearchAttempt> attempts)
    {
        string? found = Find(needed, requester, attempts, out var opened);
        opened?.Dispose();
        return found;
    }

    /// <summary>
    /// <see cref="Find(string, LibraryRequester?, List{SearchAttempt})"/>, and the file found, still open with the page
    /// its check read (<paramref name="opened"/>, null when nothing is found): a load maps from them, opening the file
    /// once, as glibc does. The caller disposes it unless it hands it on.
    /// </summary>
    internal string? Find(string needed, LibraryRequester? requester, List<SearchAttempt> attempts, out OpenedCandidate? opened)
    {
        opened = null;
        ArgumentException.ThrowIfNullOrEmpty(needed);
        ArgumentNullException.ThrowIfNull(attempts);

        // dl-deps.c's expand_dst: DSTs in DT_NEEDED are substituted against the requester, even without a '/'.
        string name = needed;
        if (needed.Contains('$'))
        {
            string? expanded = SubstituteDynamicStringTokens(needed, requester is null ? ExecutableOrigin : OriginOf(requester.Path));
            if (string.IsNullOrEmpty(expanded))
            {
                attempts.Add(new SearchAttempt(needed, "dynamic string tokens", "empty after $ORIGIN/$LIB/$PLATFORM substitution"));
                return null;
            }
            name = expanded;
        }

        if (name.Contains('/'))
            return TryCandidate(MakeAbsolute(name), needed, "path in the name", attempts, ref opened) ? MakeAbsolute(name) : null;

        if (requester is not null && requester.RunPath is null)
        {
            for (var r = requester; r is not null; r = r.LoadedBy)
            {
                // A library with DT_RUNPATH has no DT_RPATH for the loader (elf_get_dynamic_info drops it).
                if (r.RunPath is null && !string.IsNullOrEmpty(r.RPath)
                    && SearchDirectories(SplitPathList(r.RPath, ":", OriginOf(r.Path)), name, $"DT_RPATH of {r.Path}", attempts, ref opened) is { } found)
                    return found;
            }
        }

        if (SearchDirectories(_ldLibraryPath, name, "LD_LIBRARY_PATH", attempts, ref opened) is { } fromEnvironment)
            return fromEnvironment;

        if (!string.IsNullOrEmpty(requester?.RunPath)
            && SearchDirectories(SplitPathList(requester.RunPath, ":", OriginOf(requester.Path)), name, $"DT_RUNPATH of {requester.Path}", attempts, ref opened) is { } fromRunPath)
            return fromRunPath;

        if (_searchPaths.Count > 0
            && SearchDirectories(Deduplicate(_searchPaths.Select(NormalizeDirectory)), name, "LoadOptions.SearchPaths", attempts, ref opened) is { } fromOptions)
            return fromOptions;

        var cache = _cache ?? LdSoCache.System;
        if (cache.Lookup(name) is { } cached && TryCandidate(cached, needed, cache.Name, attempts, ref opened))
            return cached;

        return SearchDirectories(DefaultDirectories, name, "default directory", attempts, ref opened);
    }

    /// <summary>Like <see cref="Find(string, LibraryRequester?, List{SearchAttempt})"/>, but throws a <see cref="LibraryNotFoundException"/> listing every attempt
    /// when nothing is found.</summary>
    /// <param name="needed">The <c>DT_NEEDED</c> string (or a path).</param>
    /// <param name="requester">The library that needs it, or null.</param>
    public string Resolve(string needed, LibraryRequester? requester)
    {
        var attempts = new List<SearchAttempt>();
        return Find(needed, requester, attempts)
            ?? ThrowHelper.LibraryNotFound<string>(needed, requester?.Path, attempts);
    }

    /// <summary>
    /// <c>_dl_dst_substitute</c>: replaces <c>$ORIGIN</c>, <c>$LIB</c>, <c>$PLATFORM</c> and their braced forms. A
    /// token must not be followed by a letter, digit or '_' (<c>$ORIGINAL</c> is not <c>$ORIGIN</c>); an unknown
    /// <c>$NAME</c> stays as written. Returns "" when a known token has no value (<paramref name="origin"/> null).
    /// </summary>
    internal static string SubstituteDynamicStringTokens(string text, string? origin)
    {
        if (!text.Contains('$'))
            return text;
        var result = new StringBuilder(text.Length + 32);
        for (int i = 0; i < text.Length;)
        {
            if (text[i] != '$')
            {
                result.Append(text[i++]);
                continue;
            }
            i++;
            string? replacement = null;
            int length;
            if ((length = TokenLength(text, i, "ORIGIN")) != 0)
                replacement = origin;
            else if ((length = TokenLength(text, i, "PLATFORM")) != 0)
                replacement = Platform;
            else if ((length = TokenLength(text, i, "LIB")) != 0)
                replacement = LibExpansion;

            if (replacement is not null)
            {
                result.Append(replacement);
                i += length;
            }
            else if (length != 0)
            {
                return ""; // a token we know but cannot fill: the whole element is unusable
            }
            else
            {
                result.Append('$');
            }
        }
        return result.ToString();
    }

    /// <summary><c>is_dst</c>: the length of <paramref name="token"/> (with braces) at <paramref name="at"/>, or 0.</summary>
    private static int TokenLength(string text, int at, string token)
    {
        bool curly = at < text.Length && text[at] == '{';
        int start = curly ? at + 1 : at;
        if (string.CompareOrdinal(text, start, token, 0, token.Length) != 0 || start + token.Length > text.Length)
            return 0;
        int end = start + token.Length;
        if (curly)
            return end < text.Length && text[end] == '}' ? token.Length + 2 : 0;
        return end < text.Length && (char.IsAsciiLetterOrDigit(text[end]) || text[end] == '_') ? 0 : token.Length;
    }

    /// <summary>
    /// <c>fillin_rpath</c>: splits a path list, expands DSTs in each element, drops elements that expand to nothing,
    /// strips trailing slashes, keeps an empty element as the current directory, and removes repeats.
    /// </summary>
    internal static List<string> SplitPathList(string list, string separators, string? origin)
    {
        var directories = new List<string>();
        foreach (string element in list.Split(separators.ToCharArray()))
        {
            string directory;
            if (element.Length == 0)
            {
                directory = ""; // strsep's empty string: the current directory
            }
            else
            {
                string expanded = SubstituteDynamicStringTokens(element, origin);
                if (expanded.Length == 0)
                    continue;
                directory = NormalizeDirectory(expanded);
            }
            if (!directories.Contains(directory))
                directories.Add(directory);
        }
        return directories;
    }

    private static string NormalizeDirectory(string directory)
    {
        string trimmed = directory.Length > 1 ? directory.TrimEnd('/') : directory;
        return trimmed.Length == 0 ? "/" : trimmed;
    }

    private static List<string> Deduplicate(IEnumerable<string> directories)
    {
        var list = new List<string>();
        foreach (string d in directories)
        {
            if (!list.Contains(d))
                list.Add(d);
        }
        return list;
    }

    /// <summary><c>open_path</c>: each directory, its hwcap subdirectories first.</summary>
    private string? SearchDirectories(IReadOnlyList<string> directories, string name, string source, List<SearchAttempt> attempts,
        ref OpenedCandidate? opened)
    {
        foreach (string directory in directories)
        {
            string absolute = MakeAbsolute(directory);
            var subdirectories = HardwareCapabilitySubdirectories;
            uint present = SubdirectoriesPresent(absolute, subdirectories);
            for (int i = 0; i < subdirectories.Count; i++)
            {
                string subdirectory = subdirectories[i];
                if (subdirectory.Length != 0 && (i >= 32 || (present & (1u << i)) == 0))
                    continue;
                string candidateDirectory = subdirectory.Length == 0 ? absolute : Path.Join(absolute, subdirectory);
                string candidate = Path.Join(candidateDirectory, name);
                if (TryCandidate(candidate, name, source, attempts, ref opened))
                    return candidate;
            }
        }
        return null;
    }

    /// <summary>Which of <paramref name="subdirectories"/> exist under <paramref name="directory"/> (bit i for the i-th; an
    /// empty one, the directory itself, is not asked about), found once for the process.</summary>
    private static uint SubdirectoriesPresent(string directory, IReadOnlyList<string> subdirectories)
    {
        lock (s_subdirectoriesLock)
        {
            if (s_subdirectoriesPresent.TryGetValue(directory, out uint known))
                return known;
        }
        uint present = 0;
        for (int i = 0; i < subdirectories.Count && i < 32; i++)
            if (subdirectories[i].Length != 0 && Directory.Exists(Path.Join(directory, subdirectories[i])))
                present |= 1u << i;
        lock (s_subdirectoriesLock)
            s_subdirectoriesPresent[directory] = present;
        return present;
    }

    /// <summary>
    /// <c>open_verify</c>: records the candidate and says whether it is usable; a usable one stays open, with the page
    /// read from it, in <paramref name="opened"/>. As glibc, it opens and reads before anything else: whether the file
    /// is a regular one is asked (fstat) only when the read or the header fails, to say so instead — a library found
    /// costs the open and the read the load would make anyway (a directory, a FIFO or a device never reads as an ELF
    /// header, and the load's own fstat refuses what is not a regular file).
    /// </summary>
    private static bool TryCandidate(string path, string needed, string source, List<SearchAttempt> attempts, ref OpenedCandidate? opened)
    {
        // The same non-blocking open as every other entry point: a FIFO in a search directory must not hang the search.
        var fd = FileDescriptor.OpenReadOnly(path, out int errno);
        if (fd is null)
        {
            attempts.Add(new SearchAttempt(path, source, errno switch
            {
                Errno.ENOENT or Errno.ENOTDIR => SearchAttempt.NotFound,
                Errno.EACCES or Errno.EPERM => "permission denied",
                _ => $"cannot open: {Errno.Describe(errno)}",
            }));
            return false;
        }
        byte[] buffer = FirstPage.Rent();
        bool handedOn = false;
        try
        {
            int read = fd.ReadAt(buffer.AsSpan(0, FirstPage.ReadLength), 0, out errno);
            var (outcome, field, offset) = read < 0 ? default : Verify(buffer.AsSpan(0, read));
            if (read < 0 || outcome != SearchAttempt.Found)
            {
                if (!fd.TryGetStatus(out var status, out _) || !status.IsRegularFile)
                {
                    attempts.Add(new SearchAttempt(path, source, "not a regular file"));
                    return false;
                }
                if (read < 0)
                {
                    attempts.Add(new SearchAttempt(path, source, $"cannot read: {Errno.Describe(errno)}"));
                    return false;
                }
            }
            attempts.Add(new SearchAttempt(path, source, outcome));
            if (outcome is SearchAttempt.Found)
            {
                opened = new OpenedCandidate(fd, new FirstPage(buffer, read));
                handedOn = true;
                return true;
            }
            if (outcome is SearchAttempt.WrongClass or SearchAttempt.WrongMachine)
                return false;
            return ThrowHelper.Format<bool>(path, field, offset,
                $"{outcome}; found while searching for {needed} ({source}), and glibc's open_verify stops the search at such a file");
        }
        finally
        {
            if (!handedOn)
            {
                fd.Dispose();
                new FirstPage(buffer, 0).Return();
            }
        }
    }

    /// <summary>The checks of <c>open_verify</c>, in its order: (outcome, field, offset).</summary>
    private static (string Outcome, string Field, ulong Offset) Verify(ReadOnlySpan<byte> h)
    {
        // glibc reads sizeof(Elf64_Ehdr) first: anything shorter is "file too short", even a text file.
        if (h.Length < ElfHeader.Size64)
            return ("file too short", "ELF header", (ulong)h.Length);
        if (!h.StartsWith(ElfHeader.Magic))
            return ("invalid ELF header", "e_ident[EI_MAG]", 0);
        if ((ElfClass)h[ElfHeader.EI_CLASS] != ElfClass.Elf64)
            return (SearchAttempt.WrongClass, "e_ident[EI_CLASS]", ElfHeader.EI_CLASS);
        if ((ElfData)h[ElfHeader.EI_DATA] != ElfData.LittleEndian)
            return ("ELF file data encoding not little-endian", "e_ident[EI_DATA]", ElfHeader.EI_DATA);
        if (h[ElfHeader.EI_VERSION] != ElfHeader.EV_CURRENT)
            return ("ELF file version ident does not match current one", "e_ident[EI_VERSION]", ElfHeader.EI_VERSION);

        var header = ElfHeader.Decode(h, new ElfEncoding(ElfClass.Elf64, ElfData.LittleEndian));
        if (header.OsAbi is not (ElfHeader.ELFOSABI_SYSV or ElfHeader.ELFOSABI_GNU))
            return ("ELF file OS ABI invalid", "e_ident[EI_OSABI]", ElfHeader.EI_OSABI);
        // VALID_ELF_ABIVERSION: 0, or below LIBC_ABI_MAX for ELFOSABI_GNU.
        if (!(header.AbiVersion == 0 || (header.OsAbi == ElfHeader.ELFOSABI_GNU && header.AbiVersion < LibcAbiMax)))
            return ("ELF file ABI version invalid", "e_ident[EI_ABIVERSION]", ElfHeader.EI_ABIVERSION);
        if (h[ElfHeader.EI_PAD..ElfHeader.IdentSize].ContainsAnyExcept((byte)0))
            return ("nonzero padding in e_ident", "e_ident[EI_PAD]", ElfHeader.EI_PAD);
        if (header.Version != ElfHeader.EV_CURRENT)
            return ("ELF file version does not match current one", "e_version", HeaderFieldOffset(ElfHeader.Field.Version));
        if (header.Machine != ElfMachine.X86_64)
            return (SearchAttempt.WrongMachine, "e_machine", HeaderFieldOffset(ElfHeader.Field.Machine));
        if (header.Type is not (ElfType.SharedObject or ElfType.Executable))
            return ("only ET_DYN and ET_EXEC can be loaded", "e_type", HeaderFieldOffset(ElfHeader.Field.Type));
        if (header.ProgramHeaderEntrySize != ProgramHeader.Size64)
            return ("ELF file's phentsize not the expected size", "e_phentsize", HeaderFieldOffset(ElfHeader.Field.ProgramHeaderEntrySize));
        return (SearchAttempt.Found, "", 0);
    }

    private static ulong HeaderFieldOffset(ElfHeader.Field field) => (ulong)ElfHeader.OffsetOf(field, ElfClass.Elf64);

    private static string MakeAbsolute(string path) =>
        Path.IsPathRooted(path) ? path : Path.Join(Directory.GetCurrentDirectory(), path);

    /// <summary><c>l_origin</c>: the directory of <paramref name="path"/>, made absolute, symbolic links kept.</summary>
    internal static string OriginOf(string path)
    {
        string absolute = MakeAbsolute(path);
        int slash = absolute.LastIndexOf('/');
        return slash <= 0 ? "/" : absolute[..slash];
    }

    private static string? ExecutableOrigin =>
        Environment.ProcessPath is { } exe ? OriginOf(exe) : null;

    /// <summary><c>$PLATFORM</c> as glibc expands it (see <see cref="HardwareCapabilities"/>).</summary>
    internal static string Platform => HardwareCapabilities.Platform;

    /// <summary>The subdirectories glibc tries in each search directory, best first, "" last.</summary>
    internal static IReadOnlyList<string> HardwareCapabilitySubdirectories => HardwareCapabilities.Subdirectories;
}
