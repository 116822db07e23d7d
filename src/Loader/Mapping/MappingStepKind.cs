namespace Loader.Mapping;

/// <summary>What one <see cref="MappingStep"/> did.</summary>
public enum MappingStepKind
{
    /// <summary>mmap(NULL, span, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE): the whole image's address range.</summary>
    Reserve,
    /// <summary>munmap of the excess of an over-reservation, so the base is aligned to the largest p_align.</summary>
    Trim,
    /// <summary>mmap MAP_FIXED|MAP_PRIVATE of a PT_LOAD's file pages inside the reservation.</summary>
    Overlay,
    /// <summary>mprotect of a file page to read-write so its .bss tail can be zeroed (never write and execute).</summary>
    UnprotectForZeroing,
    /// <summary>Zeroing the bytes after p_filesz on the last file page (a memset, not a system call).</summary>
    ZeroFill,
    /// <summary>mprotect restoring the page's protection after zeroing.</summary>
    RestoreProtection,
    /// <summary>mmap MAP_FIXED|MAP_ANONYMOUS of the zero pages for the rest of p_memsz.</summary>
    MapBss,
    /// <summary>mprotect of PT_GNU_RELRO to read-only.</summary>
    ProtectRelro,
    /// <summary>munmap of the whole reservation: on Dispose, or to roll back a failed load.</summary>
    Unmap,

    /// <summary>mprotect a read-only PT_LOAD read-write, <em>not</em> executable, to apply DT_TEXTREL relocations
    /// (only with <see cref="LoadOptions.AllowTextRelocations"/>).</summary>
    UnprotectForTextRelocation,

    /// <summary>mprotect that PT_LOAD back to its own protection once its relocations are written.</summary>
    RestoreAfterTextRelocation,

    /// <summary>The caller's range (<see cref="LoadOptions.ReservedRange"/>) holds the image instead of a reservation of
    /// Loader's own; mincore checked that it is mapped.</summary>
    UseReservation,

    /// <summary>mmap MAP_FIXED PROT_NONE anonymous over the image's span in the caller's range: at unload or roll-back,
    /// the range goes back to its owner as it was.</summary>
    RestoreReservation,

    /// <summary>pwrite of the relocated RELRO pages to <see cref="LoadOptions.WriteRelro"/>'s file.</summary>
    WriteRelro,

    /// <summary>fcntl(F_ADD_SEALS, F_SEAL_WRITE|F_SEAL_SHRINK|F_SEAL_GROW) on that memfd.</summary>
    SealRelro,

    /// <summary>mmap MAP_SHARED|MAP_FIXED, read-only, of RELRO pages from the shared file (one run of identical pages).</summary>
    MapSharedRelro,

    /// <summary>mmap MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED of RELRO pages that must stay private after all, filled with
    /// this process's own bytes.</summary>
    RestorePrivateRelro,
}
