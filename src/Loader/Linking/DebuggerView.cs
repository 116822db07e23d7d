using Loader.Elf;
using Loader.Native;

namespace Loader.Linking;

/// <summary>
/// What a debugger sees of the modules Loader maps. gdb learns about shared libraries from the dynamic linker's
/// <c>r_debug</c>, and since glibc 2.35 it also follows <c>r_debug_extended.r_next</c>, the chain through which
/// <c>dlmopen</c> namespaces appear: Loader chains a namespace of its own there (<see cref="DebuggerList"/>) and lists
/// each image from when it is mapped until it is unmapped, so breakpoints, backtraces and <c>info sharedlibrary</c>
/// work in Loader-mapped code, constructors included. glibc's own lists are never touched (DESIGN.md, "Living beside
/// glibc"). One list for the process, whatever the number of <see cref="LoaderContext"/>s, under one lock.
/// </summary>
internal static class DebuggerView
{
    private static readonly Lock s_lock = new();
    private static DebuggerList? s_list;
    private static bool s_attachTried;

    /// <summary>Our <c>r_debug_extended</c>, for tests and diagnostics; 0 when there is none (yet, or here).</summary>
    public static nint Node
    {
        get
        {
            lock (s_lock)
                return s_list?.Node ?? 0;
        }
    }

    /// <summary>Runs <paramref name="read"/> while the list cannot change: a reader of the raw list (a test) must not
    /// see an entry being freed.</summary>
    internal static T WhileLocked<T>(Func<T> read)
    {
        lock (s_lock)
            return read();
    }

    /// <summary>
    /// glibc's <c>r_debug</c>: the value the dynamic linker stored in the main program's DT_DEBUG (the main program is
    /// the first module <c>dl_iterate_phdr</c> lists). Not the <c>_r_debug</c> symbol: a program can hold a copy of
    /// it. 0 when the program has no DT_DEBUG or it was never filled in.
    /// </summary>
    public static nint GlibcDebug()
    {
        var modules = HostModules.Enumerate();
        if (modules.Count == 0 || !modules[0].IsMainProgram)
            return 0;
        return modules[0].Dynamic.TryGet(DynamicTag.Debug, out ulong value) ? unchecked((nint)value) : 0;
    }

    /// <summary>Lists a module Loader mapped from a file, once; a host module, an image mapped from memory, or a
    /// process where there is no chain to join (glibc before 2.35, no DT_DEBUG), is left alone.</summary>
    public static void Add(Module module)
    {
        if (module.Image is not { } image || module.DebuggerEntry != 0)
            return;
        // A debugger reads a library's symbols from the file l_name names: an image mapped from memory has none, and
        // its name, taken as a path, could lead the debugger to an unrelated file.
        if (image.IsFromMemory)
            return;
        lock (s_lock)
        {
            if (Attach() is not { } list)
                return;
            // l_ld is absolute: gdb compares it with the file's own dynamic section to check l_addr.
            nint dynamic = image.Dynamic is { } d ? unchecked((nint)((ulong)image.BaseAddress + d.Address)) : 0;
            module.DebuggerEntry = list.Add(image.BaseAddress, System.IO.Path.GetFullPath(image.Path), dynamic);
        }
    }

    /// <summary>Unlists a module (before its image is unmapped); nothing when it was never listed.</summary>
    public static void Remove(Module module)
    {
        lock (s_lock)
        {
            if (module.DebuggerEntry == 0)
                return;
            s_list!.Remove(module.DebuggerEntry);
            module.DebuggerEntry = 0;
        }
    }

    /// <summary>Joins the chain on first use; tried once, because a node, once linked, stays linked.</summary>
    private static DebuggerList? Attach()
    {
        if (s_attachTried)
            return s_list;
        s_attachTried = true;
        if (!HasRNext(DebuggerList.LibcVersion()))
            return null; // before 2.35 glibc's r_debug ends at r_ldbase: there is no r_next to write
        nint glibcDebug = GlibcDebug();
        return s_list = glibcDebug == 0 ? null : DebuggerList.Attach(glibcDebug);
    }

    /// <summary>
    /// True for glibc 2.35 and later ("2.36"), whose <c>_r_debug</c> is an <c>r_debug_extended</c>. The digits are read
    /// by hand: <c>int.Parse</c> asks for the current culture, and its first use loads ICU into the host (about 3 MB and
    /// tens of milliseconds, on every first load of a process not in invariant mode).
    /// </summary>
    internal static bool HasRNext(string libcVersion)
    {
        var rest = libcVersion.AsSpan();
        return TryReadNumber(ref rest, out int major) && rest.Length > 0 && rest[0] == '.'
            && TryReadNumber(ref rest, out int minor, skip: 1)
            && (major > 2 || (major == 2 && minor >= 35));
    }

    /// <summary>A run of ASCII decimal digits (at least one, at most nine) at the start of <paramref name="text"/>, after
    /// <paramref name="skip"/> characters; the part after them is left in <paramref name="text"/>.</summary>
    private static bool TryReadNumber(ref ReadOnlySpan<char> text, out int value, int skip = 0)
    {
        text = text[skip..];
        value = 0;
        int digits = 0;
        while (digits < text.Length && char.IsAsciiDigit(text[digits]) && digits < 9)
            value = value * 10 + (text[digits++] - '0');
        text = text[digits..];
        return digits > 0 && (text.Length == 0 || !char.IsAsciiDigit(text[0]));
    }
}
