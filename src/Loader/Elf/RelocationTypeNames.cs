namespace Loader.Elf;

/// <summary>
/// Relocation type names as the psABIs (and readelf) spell them: <c>R_X86_64_*</c> for EM_X86_64 (AMD64 psABI,
/// table "Relocation Types"), <c>R_386_*</c> for EM_386 (i386 psABI). Other machines print the number. One table
/// for the loader's messages and the CLI's listings.
/// </summary>
public static class RelocationTypeNames
{
    private static readonly string?[] s_x86_64 =
    [
        "NONE", "64", "PC32", "GOT32", "PLT32", "COPY", "GLOB_DAT", "JUMP_SLOT", "RELATIVE", "GOTPCREL",
        "32", "32S", "16", "PC16", "8", "PC8", "DTPMOD64", "DTPOFF64", "TPOFF64", "TLSGD",
        "TLSLD", "DTPOFF32", "GOTTPOFF", "TPOFF32", "PC64", "GOTOFF64", "GOTPC32", "GOT64", "GOTPCREL64", "GOTPC64",
        "GOTPLT64", "PLTOFF64", "SIZE32", "SIZE64", "GOTPC32_TLSDESC", "TLSDESC_CALL", "TLSDESC", "IRELATIVE", "RELATIVE64", null,
        null, "GOTPCRELX", "REX_GOTPCRELX",
    ];

    private static readonly string?[] s_i386 =
    [
        "NONE", "32", "PC32", "GOT32", "PLT32", "COPY", "GLOB_DAT", "JUMP_SLOT", "RELATIVE", "GOTOFF",
        "GOTPC", "32PLT", null, null, "TLS_TPOFF", "TLS_IE", "TLS_GOTIE", "TLS_LE", "TLS_GD", "TLS_LDM",
        "16", "PC16", "8", "PC8", "TLS_GD_32", "TLS_GD_PUSH", "TLS_GD_CALL", "TLS_GD_POP", "TLS_LDM_32", "TLS_LDM_PUSH",
        "TLS_LDM_CALL", "TLS_LDM_POP", "TLS_LDO_32", "TLS_IE_32", "TLS_LE_32", "TLS_DTPMOD32", "TLS_DTPOFF32", "TLS_TPOFF32", "SIZE32", "TLS_GOTDESC",
        "TLS_DESC_CALL", "TLS_DESC", "IRELATIVE", "GOT32X",
    ];

    /// <summary>The name of relocation <paramref name="type"/> on <paramref name="machine"/>, or its number.</summary>
    public static string Name(ElfMachine machine, uint type) =>
        TryGetName(machine, type, out string? name) ? name : type.ToString();

    /// <summary>The name of relocation <paramref name="type"/> on <paramref name="machine"/>; false when it has none.</summary>
    public static bool TryGetName(ElfMachine machine, uint type, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? name)
    {
        var (prefix, table) = machine switch
        {
            ElfMachine.X86_64 => ("R_X86_64_", s_x86_64),
            ElfMachine.I386 => ("R_386_", s_i386),
            _ => ("", []),
        };
        name = type < (uint)table.Length && table[type] is { } suffix ? prefix + suffix : null;
        return name is not null;
    }
}
