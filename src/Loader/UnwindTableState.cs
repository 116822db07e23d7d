namespace Loader;

/// <summary>
/// Whether libgcc's unwinder — a C++ exception, <c>backtrace</c>, <c>_Unwind_Backtrace</c> — can walk through a
/// library's frames (<see cref="ElfLibrary.UnwindTable"/>).
/// </summary>
public enum UnwindTableState
{
    /// <summary>The library has no unwind table to give (no <c>PT_GNU_EH_FRAME</c>, or an empty <c>.eh_frame</c>):
    /// as under glibc, an exception cannot unwind through its frames.</summary>
    None,

    /// <summary>Its <c>.eh_frame</c> is registered with libgcc (<c>__register_frame</c>) while it is loaded.</summary>
    Registered,

    /// <summary>It has a table, but not one libgcc's registry can walk safely (unterminated inside its segment, an
    /// entry libgcc could not read, or code outside the library's executable segment): not registered, so an
    /// exception cannot unwind through its frames. glibc's own loader would still let libgcc search it through
    /// <c>.eh_frame_hdr</c>'s sorted table, which the registry does not use.</summary>
    Refused,

    /// <summary>A host library: glibc loaded it, and libgcc finds its table through <c>dl_iterate_phdr</c>.</summary>
    Host,

    /// <summary>It has an unwind table (<c>PT_GNU_EH_FRAME</c>), but the load that mapped it asked for none
    /// (<see cref="LoadOptions.RegisterUnwindTables"/> false): the table was neither checked nor registered, so libgcc
    /// cannot unwind through its frames.</summary>
    NotRegistered,
}
