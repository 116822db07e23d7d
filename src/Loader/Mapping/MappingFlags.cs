namespace Loader.Mapping;

/// <summary>The <c>MAP_*</c> flags of an mmap step; the values are those of sys/mman.h on Linux x86_64.</summary>
[Flags]
public enum MappingFlags
{
    /// <summary>No flags (the step is not an mmap).</summary>
    None = 0,
    /// <summary>MAP_SHARED.</summary>
    Shared = 0x01,
    /// <summary>MAP_PRIVATE: copy-on-write, as every loader maps segments.</summary>
    Private = 0x02,
    /// <summary>MAP_FIXED: replace whatever is at the address; only ever used inside our own reservation.</summary>
    Fixed = 0x10,
    /// <summary>MAP_ANONYMOUS: zero pages, no file.</summary>
    Anonymous = 0x20,
    /// <summary>MAP_NORESERVE: do not reserve swap for the PROT_NONE reservation.</summary>
    NoReserve = 0x4000,
    /// <summary>MAP_POPULATE: make the pages in the mmap call (a writable overlay's private copies, <see cref="WritablePrefault"/>).</summary>
    Populate = 0x8000,
    /// <summary>MAP_FIXED_NOREPLACE: claim an address only if nothing is mapped there (a shared-RELRO user's load address).</summary>
    FixedNoReplace = 0x100000,
}

/// <summary>Spelling of mmap flags the way C and <c>strace</c> write them.</summary>
public static class MappingFlagsExtensions
{
    /// <summary>As C writes them: <c>MAP_PRIVATE|MAP_FIXED</c>, or <c>0</c>.</summary>
    public static string ToCString(this MappingFlags flags)
    {
        var parts = new List<string>(6);
        if ((flags & MappingFlags.Shared) != 0) parts.Add("MAP_SHARED");
        if ((flags & MappingFlags.Private) != 0) parts.Add("MAP_PRIVATE");
        if ((flags & MappingFlags.Fixed) != 0) parts.Add("MAP_FIXED");
        if ((flags & MappingFlags.Anonymous) != 0) parts.Add("MAP_ANONYMOUS");
        if ((flags & MappingFlags.NoReserve) != 0) parts.Add("MAP_NORESERVE");
        if ((flags & MappingFlags.Populate) != 0) parts.Add("MAP_POPULATE");
        if ((flags & MappingFlags.FixedNoReplace) != 0) parts.Add("MAP_FIXED_NOREPLACE");
        return parts.Count == 0 ? "0" : string.Join('|', parts);
    }
}
