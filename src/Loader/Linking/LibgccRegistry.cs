namespace Loader.Linking;

/// <summary>
/// Which form of libgcc's frame registration this process's libgcc_s takes without reading the table
/// (<see cref="Native.FrameRegistration"/>). Up to GCC 12, libgcc keeps registered objects in lists: an object registered
/// through an array (<c>__register_frame_table</c>) is found again by the array's address, and nothing of the table is
/// read until an unwind searches it. GCC 13 replaced the lists with a b-tree keyed by each table's address range, read
/// at registration and at deregistration, and its deregistration reads any address it is given as an <c>.eh_frame</c>
/// — an array's would be misread. So the array form is taken only for a libgcc_s positively known to predate that: one
/// whose newest <c>GCC_</c> version node is older than <c>GCC_13.0.0</c> (GCC 13 added that node, with new
/// functions, on x86-64). Decided once a process, from the version definitions of the libgcc_s glibc loaded.
/// </summary>
internal static class LibgccRegistry
{
    /// <summary>The first GCC major version whose libgcc keeps registered frames in a b-tree.</summary>
    internal const int FirstBtreeMajor = 13;

    private static int s_takesArrays; // 0 not decided, 1 yes, 2 no: one int, written whole by any thread that decides

    /// <summary>Whether registrations go through an array (<see cref="Native.FrameRegistration.RegisterThroughArray"/>).</summary>
    public static bool TakesArrays
    {
        get
        {
            int known = Volatile.Read(ref s_takesArrays);
            if (known == 0)
                Volatile.Write(ref s_takesArrays, known = Decide() ? 1 : 2);
            return known == 1;
        }
    }

    private static bool Decide()
    {
        if (HostModules.Get("libgcc_s.so.1", out _) is not { Tables.Versions: { } versions })
            return false; // the table form then: what any libgcc takes
        var names = new List<string>();
        foreach (var definition in versions.Definitions)
            names.Add(definition.Name);
        return KeepsLists(names);
    }

    /// <summary>
    /// Whether a libgcc_s with these version definitions keeps registered frames in lists: it has a <c>GCC_</c> node
    /// and none from GCC <see cref="FirstBtreeMajor"/> or later. An unreadable node name counts as a later one.
    /// </summary>
    internal static bool KeepsLists(IReadOnlyList<string> versionNames)
    {
        bool anyGcc = false;
        foreach (var name in versionNames)
        {
            if (!name.StartsWith("GCC_", StringComparison.Ordinal))
                continue;
            anyGcc = true;
            if (Major(name.AsSpan(4)) is not { } major || major >= FirstBtreeMajor)
                return false;
        }
        return anyGcc;
    }

    /// <summary>The decimal digits before the first dot (or the end), or null when there are none or another character
    /// comes first. Digit by digit: a culture-aware parse would make the runtime load ICU (CultureFreeText).</summary>
    private static int? Major(ReadOnlySpan<char> version)
    {
        int major = 0, digits = 0;
        foreach (char c in version)
        {
            if (c == '.')
                break;
            if (c is < '0' or > '9' || ++digits > 6)
                return null;
            major = major * 10 + (c - '0');
        }
        return digits == 0 ? null : major;
    }
}
