namespace Loader.Linking;

/// <summary>Where a module in a scope came from.</summary>
public enum ModuleOrigin
{
    /// <summary>Mapped and relocated by Loader in this context.</summary>
    Loaded,

    /// <summary>Taken from the host process (loaded by the system loader): the system runtime or a
    /// <see cref="LoadOptions.HostLibraries"/> entry; its symbols are read in place from its mapped tables.</summary>
    Host,
}

/// <summary>One module a lookup can search: a library Loader loaded, or a library of the host.</summary>
/// <param name="Path">The file it was loaded from (or the memfd name of an image loaded from memory).</param>
/// <param name="SoName">DT_SONAME, or null.</param>
/// <param name="BaseAddress">The load bias: a symbol's address is BaseAddress + st_value.</param>
/// <param name="Origin">Loaded by Loader, or taken from the host.</param>
public sealed record ModuleInfo(string Path, string? SoName, nint BaseAddress, ModuleOrigin Origin)
{
    /// <summary>True when the module is the host's copy.</summary>
    public bool IsHost => Origin == ModuleOrigin.Host;

    /// <summary>The soname, else the file name.</summary>
    public string Name => SoName ?? System.IO.Path.GetFileName(Path);

    /// <summary><c>libfoo.so (/path/libfoo.so) at 0x7f..</c>, with <c>[host]</c> for a host library.</summary>
    public override string ToString() => $"{Name} ({Path}) at 0x{BaseAddress:x}{(IsHost ? " [host]" : "")}";
}
