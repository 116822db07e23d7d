namespace Loader.Elf;

/// <summary>One DT_VERDEF entry (<c>Elf_Verdef</c> with its <c>Elf_Verdaux</c> names).</summary>
/// <param name="Index">vd_ndx: the index DT_VERSYM entries use.</param>
/// <param name="Flags">vd_flags (VER_FLG_BASE = 1, VER_FLG_WEAK = 2).</param>
/// <param name="Hash">vd_hash: the SysV hash of the name.</param>
/// <param name="Name">The first aux name: the version itself.</param>
/// <param name="Parents">The following aux names: the versions this one inherits.</param>
public sealed record VersionDefinition(ushort Index, ushort Flags, uint Hash, string Name, IReadOnlyList<string> Parents)
{
    /// <summary>VER_FLG_BASE: the entry names the file itself, not a version.</summary>
    public bool IsBase => (Flags & 1) != 0;
}

/// <summary>One DT_VERNEED entry: a library, and the versions of it this object needs.</summary>
/// <param name="File">vn_file: the library's soname.</param>
/// <param name="Versions">Its Elf_Vernaux entries.</param>
public sealed record VersionNeed(string File, IReadOnlyList<VersionNeedEntry> Versions);

/// <summary>One <c>Elf_Vernaux</c>: a needed version.</summary>
/// <param name="Index">vna_other: the index DT_VERSYM entries use.</param>
/// <param name="Flags">vna_flags (VER_FLG_WEAK = 2).</param>
/// <param name="Hash">vna_hash.</param>
/// <param name="Name">The version name.</param>
public sealed record VersionNeedEntry(ushort Index, ushort Flags, uint Hash, string Name);
