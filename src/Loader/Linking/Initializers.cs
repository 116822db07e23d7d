using System.Buffers.Binary;
using Loader.Elf;
using Loader.Mapping;
using Loader.Native;

namespace Loader.Linking;

/// <summary>
/// Runs a module's initializers and finalizers as glibc's <c>call_init</c> and <c>_dl_fini</c> do: DT_INIT, then each
/// DT_INIT_ARRAY entry in order, called with <c>(argc, argv, envp)</c>; at unload DT_FINI_ARRAY in reverse, then DT_FINI.
/// The order between modules (dependencies first at load, dependents first at unload) is the caller's
/// (<see cref="LoaderContext"/>). Every function address is checked to lie in an executable PT_LOAD of the module.
/// </summary>
internal static class Initializers
{
    /// <summary>DT_INIT then DT_INIT_ARRAY.</summary>
    public static void RunInitializers(Module module)
    {
        if (module.Image is not { Dynamic: { } dyn } image)
            return;
        if (dyn.TryGet(DynamicTag.Init, out ulong init))
            NativeCalls.CallInitializer(Function(image, (ulong)module.Base + init, "DT_INIT"), ProcessArguments.Argc, ProcessArguments.Argv, ProcessArguments.Envp);
        foreach (nint f in ReadArray(image, dyn, DynamicTag.InitArray, DynamicTag.InitArraySz, "DT_INIT_ARRAY"))
            NativeCalls.CallInitializer(f, ProcessArguments.Argc, ProcessArguments.Argv, ProcessArguments.Envp);
    }

    /// <summary>DT_FINI_ARRAY in reverse, then DT_FINI.</summary>
    public static void RunFinalizers(Module module)
    {
        foreach (nint f in Finalizers(module))
            NativeCalls.CallFinalizer(f);
    }

    /// <summary>
    /// Checks at load time (after relocation: DT_FINI_ARRAY holds relocated pointers) what the unload will call, so
    /// a bad finalizer is refused while the load can still roll back, not found by <c>Dispose</c>.
    /// </summary>
    /// <exception cref="ElfFormatException">DT_FINI, DT_FINI_ARRAY or its size is malformed, or a function does not lie
    /// in an executable PT_LOAD.</exception>
    public static void CheckFinalizers(Module module) => Finalizers(module);

    /// <summary>Every finalizer in the order they run (DT_FINI_ARRAY in reverse, then DT_FINI), each checked.</summary>
    private static List<nint> Finalizers(Module module)
    {
        if (module.Image is not { Dynamic: { } dyn } image)
            return [];
        var functions = ReadArray(image, dyn, DynamicTag.FiniArray, DynamicTag.FiniArraySz, "DT_FINI_ARRAY");
        functions.Reverse();
        if (dyn.TryGet(DynamicTag.Fini, out ulong fini))
            functions.Add(Function(image, (ulong)module.Base + fini, "DT_FINI"));
        return functions;
    }

    /// <summary>The relocated entries of an init or fini array (absolute addresses), skipping 0 and -1 as glibc does.</summary>
    private static List<nint> ReadArray(ElfImage image, DynamicSection dyn, DynamicTag arrayTag, DynamicTag sizeTag, string field)
    {
        var result = new List<nint>();
        if (!dyn.TryGet(arrayTag, out ulong address))
            return result;
        ulong size = dyn.Get(sizeTag) ?? 0;
        if (size % 8 != 0 || size > int.MaxValue)
            ThrowHelper.Format(image.Path, field + "SZ", dyn.Address, $"0x{size:x} is not a whole number of 8-byte entries");
        ReadOnlySpan<byte> bytes;
        try
        {
            bytes = image.GetBytes(address, (int)size);
        }
        catch (ArgumentOutOfRangeException)
        {
            bytes = ThrowHelper.Format<ReadOnlySpan<byte>>(image.Path, field, address, $"[0x{address:x}, +0x{size:x}) is not inside a readable PT_LOAD");
        }
        for (int i = 0; i < bytes.Length; i += 8)
        {
            ulong entry = BinaryPrimitives.ReadUInt64LittleEndian(bytes[i..]);
            if (entry is 0 or ulong.MaxValue)
                continue;
            result.Add(Function(image, entry, $"{field}[{i / 8}]"));
        }
        return result;
    }

    /// <summary>
    /// Refuses a function address outside the module's executable PT_LOADs: it would be a jump into anything. A field
    /// error like any other bad dynamic-table value: the offset is the link-time address (p_vaddr space), as for DT_STRTAB.
    /// </summary>
    private static nint Function(ElfImage image, ulong address, string field)
    {
        ulong bias = (ulong)image.BaseAddress;
        foreach (var o in image.Plan.Overlays)
        {
            if ((o.Protection & MemoryProtection.Execute) == 0)
                continue;
            ulong start = bias + o.Header.VirtualAddress, end = start + o.Header.MemorySize;
            if (address >= start && address < end)
                return (nint)address;
        }
        return ThrowHelper.Format<nint>(image.Path, field, address - bias,
            $"function 0x{address:x} (base+0x{address - bias:x}) does not lie in an executable PT_LOAD; not called");
    }
}
