using Loader.Elf;
using Loader.Mapping;

namespace Loader.Linking;

/// <summary>
/// One module of a <see cref="LoaderContext"/>: an image Loader mapped (with its dependencies, relocation scope,
/// reference count and life-cycle state) or a host library (tables read in place, never unloaded). Mutated only
/// under the context's lock.
/// </summary>
internal sealed class Module
{
    private Module(ModuleInfo info, DynamicTables? tables, ElfImage? image, HostModule? host, FileIdentity file)
    {
        Info = info;
        Tables = tables;
        Image = image;
        Host = host;
        File = file;
    }

    /// <summary>A module mapped by Loader.</summary>
    public static Module ForImage(ElfImage image, LibraryRequester? loadedBy)
    {
        var tables = image.Tables;
        var module = new Module(new ModuleInfo(image.Path, image.SoName, image.BaseAddress, ModuleOrigin.Loaded), tables, image, null, image.File);
        var dyn = image.Dynamic;
        module.Symbolic = dyn is not null && (dyn.Has(DynamicTag.Symbolic) || (dyn.Flags & DynamicFlags.Symbolic) != 0);
        module.Requester = new LibraryRequester(System.IO.Path.GetFullPath(image.Path), tables?.RunPath, tables?.RPath, loadedBy);
        return module;
    }

    /// <summary>A host library, as this context sees it.</summary>
    public static Module ForHost(HostModule host) =>
        new(new ModuleInfo(host.Path, host.SoName, host.Base, ModuleOrigin.Host), host.Tables, null, host, new FileIdentity(host.Device, host.Inode));

    public ModuleInfo Info { get; }
    public string Path => Info.Path;
    public string? SoName => Info.SoName;
    public nint Base => Info.BaseAddress;
    public bool IsHost => Host is not null;
    public DynamicTables? Tables { get; }
    public ElfImage? Image { get; }
    public HostModule? Host { get; }
    public FileIdentity File { get; }

    /// <summary>DT_SYMBOLIC (or DF_SYMBOLIC): the library's own definitions come first for its own references.</summary>
    public bool Symbolic { get; private set; }

    /// <summary>What <see cref="LibrarySearch"/> needs to find this module's DT_NEEDED entries.</summary>
    public LibraryRequester? Requester { get; private set; }

    /// <summary>The modules that satisfy its DT_NEEDED entries, in order (one per entry).</summary>
    public List<Module> Needed { get; } = [];

    /// <summary>How each DT_NEEDED entry was satisfied, in order.</summary>
    public List<LibraryDependency> Links { get; } = [];

    /// <summary>The scope its relocations were resolved in (set by the load that mapped it).</summary>
    public Scope? Scope { get; set; }

    /// <summary>Handles plus the DT_NEEDED edges of loaded modules that point at it.</summary>
    public int ReferenceCount { get; set; }

    public bool Relocated { get; set; }
    public bool Initialized { get; set; }
    public bool Finalized { get; set; }

    /// <summary>
    /// For each dynamic symbol index, the module its references bound to (null: none, or an unresolved weak
    /// reference). Set once relocation is done; <see cref="ElfLibrary.Relocations"/> is derived from it and from the
    /// values in memory, so the relocation loop records nothing per entry.
    /// </summary>
    public Module?[] SymbolDefinitions { get; set; } = [];

    public override string ToString() => Info.ToString();
}
