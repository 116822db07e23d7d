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
    /// <summary>DT_INIT then DT_INIT_ARRAY; every function is checked before the first is called.</summary>
    public static void RunInitializers(Module module)
    {
        if (module.Image is not { Dynamic: { } dyn } image)
            return;
        bool hasInit = dyn.TryGet(DynamicTag.Init, out ulong init);
        if (hasInit)
            Function(image, (ulong)module.Base + init, "DT_INIT", -1);
        var array = ArrayBytes(image, dyn, DynamicTag.InitArray, DynamicTag.InitArraySz, "DT_INIT_ARRAY");
        CheckArray(image, array, "DT_INIT_ARRAY");
        if (hasInit)
            NativeCalls.CallInitializer(Function(image, (ulong)module.Base + init, "DT_INIT", -1), ProcessArguments.Argc, ProcessArguments.Argv, ProcessArguments.Envp);
        for (int i = 0; i < array.Length / 8; i++)
            if (Entry(array, i) is var entry && !Skipped(entry))
                NativeCalls.CallInitializer(Function(image, entry, "DT_INIT_ARRAY", i), ProcessArguments.Argc, ProcessArguments.Argv, ProcessArguments.Envp);
    }

    /// <summary>DT_FINI_ARRAY in reverse, then DT_FINI.</summary>
    public static void RunFinalizers(Module module)
    {
        if (module.Image is not { Dynamic: { } dyn } image)
            return;
        CheckFinalizers(module);
        var array = ArrayBytes(image, dyn, DynamicTag.FiniArray, DynamicTag.FiniArraySz, "DT_FINI_ARRAY");
        for (int i = array.Length / 8 - 1; i >= 0; i--)
            if (Entry(array, i) is var entry && !Skipped(entry))
                NativeCalls.CallFinalizer(Function(image, entry, "DT_FINI_ARRAY", i));
        if (dyn.TryGet(DynamicTag.Fini, out ulong fini))
            NativeCalls.CallFinalizer(Function(image, (ulong)module.Base + fini, "DT_FINI", -1));
    }

    /// <summary>
    /// Checks at load time (after relocation: DT_FINI_ARRAY holds relocated pointers) what the unload will call, so
    /// a bad finalizer is refused while the load can still roll back, not found by <c>Dispose</c>.
    /// </summary>
    /// <exception cref="ElfFormatException">DT_FINI, DT_FINI_ARRAY or its size is malformed, or a function does not lie
    /// in an executable PT_LOAD.</exception>
    public static void CheckFinalizers(Module module)
    {
        if (module.Image is not { Dynamic: { } dyn } image)
            return;
        CheckArray(image, ArrayBytes(image, dyn, DynamicTag.FiniArray, DynamicTag.FiniArraySz, "DT_FINI_ARRAY"), "DT_FINI_ARRAY");
        if (dyn.TryGet(DynamicTag.Fini, out ulong fini))
            Function(image, (ulong)module.Base + fini, "DT_FINI", -1);
    }

    /// <summary>The relocated entries of an init or fini array (absolute addresses), read in place; empty without one.</summary>
    private static ReadOnlySpan<byte> ArrayBytes(ElfImage image, DynamicSection dyn, DynamicTag arrayTag, DynamicTag sizeTag, string field)
    {
        if (!dyn.TryGet(arrayTag, out ulong address))
            return default;
        ulong size = dyn.Get(sizeTag) ?? 0;
        if (size % 8 != 0 || size > int.MaxValue)
            ThrowHelper.Format(image.Path, field + "SZ", dyn.Address, $"0x{size:x} is not a whole number of 8-byte entries");
        try
        {
            return image.GetBytes(address, (int)size);
        }
        catch (ArgumentOutOfRangeException)
        {
            return ThrowHelper.Format<ReadOnlySpan<byte>>(image.Path, field, address, $"[0x{address:x}, +0x{size:x}) is not inside a readable PT_LOAD");
        }
    }

    private static void CheckArray(ElfImage image, ReadOnlySpan<byte> array, string field)
    {
        for (int i = 0; i < array.Length / 8; i++)
            if (Entry(array, i) is var entry && !Skipped(entry))
                Function(image, entry, field, i);
    }

    private static ulong Entry(ReadOnlySpan<byte> array, int index) => BinaryPrimitives.ReadUInt64LittleEndian(array[(index * 8)..]);

    /// <summary>glibc skips 0 and -1 entries.</summary>
    private static bool Skipped(ulong entry) => entry is 0 or ulong.MaxValue;

    /// <summary>
    /// Refuses a function address outside the module's executable PT_LOADs: it would be a jump into anything. A field
    /// error like any other bad dynamic-table value: the offset is the link-time address (p_vaddr space), as for DT_STRTAB.
    /// </summary>
    private static nint Function(ElfImage image, ulong address, string field, int index)
    {
        ulong bias = (ulong)image.BaseAddress;
        foreach (var o in image.Plan.OverlaySpan)
        {
            if ((o.Protection & MemoryProtection.Execute) == 0)
                continue;
            ulong start = bias + o.VirtualAddress, end = start + o.MemorySize;
            if (address >= start && address < end)
                return (nint)address;
        }
        // The field names the entry only in the refusal: a load that passes formats nothing.
        return ThrowHelper.Format<nint>(image.Path, index < 0 ? field : $"{field}[{index}]", address - bias,
            $"function 0x{address:x} (base+0x{address - bias:x}) does not lie in an executable PT_LOAD; not called");
    }
}
