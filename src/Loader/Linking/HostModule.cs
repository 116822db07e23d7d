using Loader.Elf;
using Loader.Mapping;
using Loader.Native;

namespace Loader.Linking;

/// <summary>
/// A library the host process loaded (with the system loader), read in place: its tables are read through a view
/// over its own <c>PT_LOAD</c> memory, the third of the reader's views (docs/architecture.md, "One reader, three
/// views"). Nothing is copied, so the module must stay loaded while it is used: <see cref="HostModules.Get"/> and
/// <see cref="HostModules.FindByFile"/> hold a reference on it for the process lifetime.
/// </summary>
public sealed class HostModule
{
    /// <summary>What /proc names the running program: the main program's <c>dlpi_name</c> is empty.</summary>
    internal const string MainProgramPath = "/proc/self/exe";

    private static readonly ElfEncoding NativeEncoding = new(ElfClass.Elf64, ElfData.LittleEndian);

    private HostModule(string path, nint loadBias, IReadOnlyList<ProgramHeader> programHeaders, DynamicSection dynamic,
        DynamicTables tables, FileIdentity file, bool isVdso, bool isMainProgram)
    {
        Path = path;
        Base = loadBias;
        ProgramHeaders = programHeaders;
        Dynamic = dynamic;
        Tables = tables;
        Device = file.Device;
        Inode = file.Inode;
        IsVdso = isVdso;
        IsMainProgram = isMainProgram;
    }

    /// <summary>The file the system loader opened (<c>dlpi_name</c>); <c>/proc/self/exe</c> for the main program.</summary>
    public string Path { get; }

    /// <summary>DT_SONAME, or null.</summary>
    public string? SoName => Tables.SoName;

    /// <summary><c>dlpi_addr</c>: the load bias, so a symbol's address is <c>Base + st_value</c>.</summary>
    public nint Base { get; }

    /// <summary>
    /// The dynamic tables, read through a view over the module's <c>PT_LOAD</c> memory (<c>Base + p_vaddr</c>), with
    /// the d_ptr entries glibc made absolute turned back into virtual addresses: every address in them is a
    /// <c>p_vaddr</c>-based virtual address, as in the file.
    /// </summary>
    public DynamicTables Tables { get; }

    /// <summary><c>st_dev</c> of <see cref="Path"/>; 0 for the vDSO, which has no file.</summary>
    public ulong Device { get; }

    /// <summary><c>st_ino</c> of <see cref="Path"/>; 0 for the vDSO, which has no file.</summary>
    public ulong Inode { get; }

    /// <summary>The program headers (<c>dlpi_phdr</c>), as mapped.</summary>
    public IReadOnlyList<ProgramHeader> ProgramHeaders { get; }

    /// <summary>Whether the default policy puts this module in the global scope (<see cref="HostLibraryPolicy.InGlobalScope"/>
    /// with <see cref="HostLibraryPolicy.Default"/>): decided once, as what it depends on — the soname, the path, the
    /// system runtime's names — never changes, while the scope is made again after every change of the host's objects.</summary>
    internal bool InDefaultGlobalScope
    {
        get
        {
            int known = Volatile.Read(ref _inDefaultGlobalScope);
            if (known == 0)
                Volatile.Write(ref _inDefaultGlobalScope, known = HostLibraryPolicy.Default.InGlobalScope(this) ? 1 : 2);
            return known == 1;
        }
    }

    private int _inDefaultGlobalScope; // 0 not decided yet, 1 in, 2 out: one int, written whole by any thread that decides

    /// <summary>What a binding to symbol <paramref name="index"/> gets instead of its address (<see cref="RedirectedDefinitions"/>;
    /// the definitions are found on the first question, then kept).</summary>
    internal HostRedirect RedirectAt(int index)
    {
        var known = Volatile.Read(ref _redirectedDefinitions);
        if (known is null)
            Volatile.Write(ref _redirectedDefinitions, known = RedirectedDefinitions.In(Tables));
        foreach (var (definition, redirect) in known)
        {
            if (definition == index)
                return redirect;
        }
        return HostRedirect.None;
    }

    private (int Index, HostRedirect Redirect)[]? _redirectedDefinitions; // written whole by any thread that finds them: the same answer each time

    /// <summary>How the module is identified: its soname, else its path's file name.</summary>
    internal string Name => SoName ?? System.IO.Path.GetFileName(Path);

    /// <summary>The dynamic section as the tables were read from it: glibc's absolute d_ptr values made virtual again.</summary>
    internal DynamicSection Dynamic { get; }

    /// <summary>The virtual address (p_vaddr-based) of its dynamic section; <c>Base + DynamicAddress</c> is glibc's <c>l_ld</c>.</summary>
    internal ulong DynamicAddress => Dynamic.Address;

    /// <summary>True for the kernel's vDSO (no file behind it).</summary>
    internal bool IsVdso { get; }

    /// <summary>True for the program the process runs.</summary>
    internal bool IsMainProgram { get; }

    /// <summary>The process's one <see cref="Module"/> for this library, once <see cref="SharedHostModules"/> has
    /// published it with its whole DT_NEEDED tree (read with <c>Volatile.Read</c>); null before. Held here rather than in
    /// a table keyed by this object, so it lives exactly as long as this object does.</summary>
    internal Module? SharedModule;

    /// <summary>The module <see cref="SharedHostModules"/> is building for this library, under its lock; null
    /// otherwise.</summary>
    internal Module? ModuleBeingBuilt;

    /// <inheritdoc/>
    public override string ToString() => $"{Name} at 0x{Base:x} ({Path})";

    /// <summary>
    /// Reads one object <c>dl_iterate_phdr</c> reported. Its memory is mapped and readable as long as it stays loaded;
    /// only readable <c>PT_LOAD</c>s become regions, so a table outside them is an <see cref="ElfFormatException"/>,
    /// never a fault.
    /// </summary>
    internal static HostModule Read(LoadedObject loaded, bool isMainProgram)
    {
        // The vDSO's dlpi_name is its soname (linux-vdso.so.1); every file the system loader opened is named by a
        // path with a '/', so the only other name without one is the main program's "".
        bool isVdso = !isMainProgram && loaded.Name.Length > 0 && !loaded.Name.Contains('/');
        string path = isMainProgram && loaded.Name.Length == 0 ? MainProgramPath : loaded.Name;

        var programHeaders = ReadProgramHeaders(loaded, path);
        var regions = new (ulong, ReadOnlyMemory<byte>)[programHeaders.Count];
        int regionCount = 0;
        for (int i = 0; i < programHeaders.Count; i++)
        {
            var ph = programHeaders[i];
            if (ph.Type == SegmentType.Load && (ph.Flags & SegmentFlags.Read) != 0 && ph.MemorySize > 0)
                regions[regionCount++] = (ph.VirtualAddress, BorrowedMemory.Describe(Address(loaded, ph.VirtualAddress), ph.MemorySize));
        }
        int dynamicIndex = DynamicSegment.IndexIn(programHeaders);
        if (dynamicIndex < 0)
            ThrowHelper.Format(path, "PT_DYNAMIC", 0, "the loaded object has no PT_DYNAMIC, so it has no symbols to read");
        var dynamic = programHeaders[dynamicIndex];

        var view = VirtualView.FromRegions(path, regions.AsSpan(0, regionCount));
        var dynamicBytes = view.Read(dynamic.VirtualAddress, dynamic.MemorySize, "PT_DYNAMIC");
        var dyn = DynamicSection.Read(dynamicBytes, NativeEncoding, dynamic.VirtualAddress, dynamic.VirtualAddress, path)
            .WithAbsolutePointersMadeRelative((ulong)loaded.Base);
        var tables = DynamicTables.Read(view, dyn, NativeEncoding);

        var file = isVdso ? default : Identify(path);
        return new HostModule(path, loaded.Base, programHeaders, dyn, tables, file, isVdso, isMainProgram);
    }

    // A copy of the table's bytes, read through a ProgramHeaderTable: an array behind IReadOnlyList<ProgramHeader> is
    // read through the runtime's SZArrayHelper methods, which the JIT compiles on the first load.
    private static ProgramHeaderTable ReadProgramHeaders(LoadedObject loaded, string path)
    {
        if (loaded.ProgramHeaders == 0)
            ThrowHelper.Format(path, "dlpi_phdr", 0, "dl_iterate_phdr reported no program headers");
        byte[] bytes = BorrowedMemory.Describe(loaded.ProgramHeaders, (ulong)loaded.ProgramHeaderCount * ProgramHeader.Size64).ToArray();
        return new ProgramHeaderTable(bytes, loaded.ProgramHeaderCount, NativeEncoding);
    }

    private static nint Address(LoadedObject loaded, ulong virtualAddress) => unchecked((nint)((ulong)loaded.Base + virtualAddress));

    /// <summary>st_dev and st_ino of the file, or zeros when it cannot be opened (deleted, or no longer at that path).</summary>
    private static FileIdentity Identify(string path)
    {
        using var fd = FileDescriptor.OpenReadOnly(path, out _);
        return fd is not null && fd.TryGetStatus(out var status, out _) ? new FileIdentity(status.Device, status.Inode) : default;
    }
}
