namespace Loader.Mapping;

/// <summary>The access of a mapped region; the values are those of <c>PROT_*</c> in sys/mman.h.</summary>
[Flags]
public enum MemoryProtection
{
    /// <summary>PROT_NONE: no access (the reservation, the gaps).</summary>
    None = 0x0,
    /// <summary>PROT_READ.</summary>
    Read = 0x1,
    /// <summary>PROT_WRITE.</summary>
    Write = 0x2,
    /// <summary>PROT_EXEC.</summary>
    Execute = 0x4,
}

/// <summary>Spelling of protections the way <c>/proc/self/maps</c> and <c>strace</c> show them.</summary>
public static class MemoryProtectionExtensions
{
    /// <summary>The first three columns of a <c>/proc/self/maps</c> permission field: <c>r-x</c>.</summary>
    public static string ToMapsString(this MemoryProtection protection) => string.Concat(
        (protection & MemoryProtection.Read) != 0 ? "r" : "-",
        (protection & MemoryProtection.Write) != 0 ? "w" : "-",
        (protection & MemoryProtection.Execute) != 0 ? "x" : "-");

    /// <summary>As C writes it: <c>PROT_READ|PROT_EXEC</c>, or <c>PROT_NONE</c>.</summary>
    public static string ToCString(this MemoryProtection protection)
    {
        if (protection == MemoryProtection.None)
            return "PROT_NONE";
        var parts = new List<string>(3);
        if ((protection & MemoryProtection.Read) != 0) parts.Add("PROT_READ");
        if ((protection & MemoryProtection.Write) != 0) parts.Add("PROT_WRITE");
        if ((protection & MemoryProtection.Execute) != 0) parts.Add("PROT_EXEC");
        return string.Join('|', parts);
    }

    /// <summary>The protection a <c>PT_LOAD</c>'s <c>p_flags</c> ask for.</summary>
    public static MemoryProtection FromSegmentFlags(Elf.SegmentFlags flags) =>
        ((flags & Elf.SegmentFlags.Read) != 0 ? MemoryProtection.Read : 0)
        | ((flags & Elf.SegmentFlags.Write) != 0 ? MemoryProtection.Write : 0)
        | ((flags & Elf.SegmentFlags.Execute) != 0 ? MemoryProtection.Execute : 0);
}
