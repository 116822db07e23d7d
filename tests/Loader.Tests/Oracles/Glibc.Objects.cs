using System.Runtime.InteropServices;

namespace Loader.Tests.Oracles;

// What glibc itself has loaded into this process, through dl_iterate_phdr.
internal static unsafe partial class Glibc
{
    /// <summary>One object glibc has loaded: its load bias, the span of its PT_LOADs, and its file (real path).</summary>
    public sealed record LoadedObject(nint Base, ulong Start, ulong End, string RealPath);

    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint realpath(string path, nint resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void free(nint p);

    /// <summary>The canonical path of <paramref name="path"/> as glibc's realpath gives it (the full path if it fails).</summary>
    public static string RealPath(string path)
    {
        nint resolved = realpath(path, 0);
        if (resolved == 0)
            return Path.GetFullPath(path);
        try
        {
            return Marshal.PtrToStringUTF8(resolved)!;
        }
        finally
        {
            free(resolved);
        }
    }

    /// <summary>The objects glibc has loaded now (those with an absolute file name), in its link-map order.</summary>
    public static List<LoadedObject> LoadedObjects()
    {
        var raw = new List<(nint Base, string Name, ulong Start, ulong End)>();
        var handle = GCHandle.Alloc(raw);
        try
        {
            dl_iterate_phdr(&CollectObject, GCHandle.ToIntPtr(handle));
        }
        finally
        {
            handle.Free();
        }
        return [.. raw.Where(o => o.Name.Length > 0 && o.Name.StartsWith('/')).Select(o => new LoadedObject(o.Base, o.Start, o.End, RealPath(o.Name)))];
    }

    // struct dl_phdr_info: dlpi_addr at 0, dlpi_name at 8, dlpi_phdr at 16, dlpi_phnum (u16) at 24. Elf64_Phdr: p_type
    // (u32) at 0, p_vaddr at 16, p_memsz at 40; 56 bytes each.
    [UnmanagedCallersOnly]
    private static int CollectObject(nint info, nuint size, nint data)
    {
        var list = (List<(nint, string, ulong, ulong)>)GCHandle.FromIntPtr(data).Target!;
        nint bias = *(nint*)info;
        string name = Marshal.PtrToStringUTF8(*(nint*)(info + 8)) ?? "";
        byte* phdr = *(byte**)(info + 16);
        ushort count = *(ushort*)(info + 24);
        ulong start = ulong.MaxValue, end = 0;
        for (int i = 0; i < count; i++)
        {
            byte* p = phdr + i * 56;
            if (*(uint*)p != 1) // PT_LOAD
                continue;
            ulong vaddr = *(ulong*)(p + 16), memsz = *(ulong*)(p + 40);
            start = Math.Min(start, (ulong)bias + vaddr);
            end = Math.Max(end, (ulong)bias + vaddr + memsz);
        }
        list.Add((bias, name, start, end));
        return 0;
    }
}
