using System.Runtime.InteropServices;

namespace Loader.Tests.Oracles;

/// <summary>libgcc's own lookup, the oracle for what its unwinder can see of an image Loader mapped.</summary>
public static unsafe partial class Libgcc
{
    [LibraryImport("libgcc_s.so.1", EntryPoint = "_Unwind_Find_FDE")]
    private static partial nint UnwindFindFde(nint pc, nint* bases);

    /// <summary>libgcc's FDE for the code at <paramref name="pc"/>, or 0 when it knows of none.</summary>
    public static nint FindFde(nint pc)
    {
        nint* bases = stackalloc nint[3]; // struct dwarf_eh_bases: tbase, dbase, func
        return UnwindFindFde(pc, bases);
    }
}
