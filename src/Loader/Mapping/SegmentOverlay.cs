namespace Loader.Mapping;

/// <summary>
/// How one <c>PT_LOAD</c> is mapped from the file: <c>mmap(base + Address, Length, Protection,
/// MAP_PRIVATE|MAP_FIXED, fd, FileOffset)</c>. Addresses are link-time virtual addresses (add the load bias). A value
/// holding the header's fields as the plan checked them: an image keeps its plan's overlays in one array for as long as
/// it is mapped (docs/benchmarks.md, "Memory held").
/// </summary>
public readonly record struct SegmentOverlay
{
    // 32 bytes: p_vaddr, p_filesz and p_memsz, then one word for the rest — p_offset's page number (p_offset agrees
    // with p_vaddr modulo the page, so the number and p_vaddr give it back), the header's index, the protection and the
    // page size as a power of two. The page-rounded addresses are worked out when read.
    private readonly ulong _packed;
    private const int IndexShift = 32, ProtectionShift = 56, PageShiftShift = 59;

    /// <summary>The largest PT_LOAD index an overlay holds (LoadPlan refuses a file with one beyond).</summary>
    internal const int MaxProgramHeaderIndex = (1 << 24) - 1;

    /// <summary>The largest p_offset page number an overlay holds (LoadPlan refuses a file with one beyond).</summary>
    internal const ulong MaxFilePage = uint.MaxValue;

    internal SegmentOverlay(int programHeaderIndex, ulong virtualAddress, ulong offset, ulong fileSize, ulong memorySize,
        MemoryProtection protection, ulong pageSize)
    {
        byte pageShift = PageShift(pageSize);
        VirtualAddress = virtualAddress;
        FileSize = fileSize;
        MemorySize = memorySize;
        _packed = (offset >> pageShift) | (ulong)(uint)programHeaderIndex << IndexShift
            | (ulong)((byte)protection & 7) << ProtectionShift | (ulong)pageShift << PageShiftShift;
    }

    // A power of two (LoadPlan.Create checked it). A loop, not BitOperations.Log2: the package's ReadyToRun code inlines
    // CoreLib across modules, and code that inlined Log2 depends on LZCNT, which its baseline does not assume; the
    // runtime rejects such code on a machine that has it, and the JIT compiled this constructor and LoadPlan.Build
    // (and the setters it calls) on every process's first load (docs/benchmarks.md, "Cold start").
    internal static byte PageShift(ulong pageSize)
    {
        byte shift = 0;
        while ((1UL << shift) < pageSize)
            shift++;
        return shift;
    }

    private int PageShiftValue => (int)(_packed >> PageShiftShift);

    private ulong Page => 1UL << PageShiftValue;

    /// <summary>The index of the PT_LOAD among all program headers (the N of <c>PT_LOAD[N]</c> in messages).</summary>
    public int ProgramHeaderIndex => (int)((_packed >> IndexShift) & MaxProgramHeaderIndex);

    /// <summary>p_vaddr.</summary>
    public ulong VirtualAddress { get; }

    /// <summary>p_offset.</summary>
    public ulong Offset => ((_packed & MaxFilePage) << PageShiftValue) | (VirtualAddress & (Page - 1));

    /// <summary>p_filesz.</summary>
    public ulong FileSize { get; }

    /// <summary>p_memsz.</summary>
    public ulong MemorySize { get; }

    /// <summary>pagedown(p_vaddr).</summary>
    public ulong Address => LoadPlan.PageDown(VirtualAddress, Page);

    /// <summary>pageup(p_vaddr + p_filesz) - pagedown(p_vaddr); 0 when the segment has no file bytes.</summary>
    public ulong Length => FileSize == 0 ? 0 : LoadPlan.PageUp(VirtualAddress + FileSize, Page) - Address;

    /// <summary>pagedown(p_offset): p_offset and p_vaddr agree modulo the page (the plan checked it).</summary>
    public ulong FileOffset => Offset - (VirtualAddress - Address);

    /// <summary>The first address past the segment's memory image, page-rounded: pageup(p_vaddr + p_memsz); <see cref="Address"/>
    /// itself when p_memsz is 0 (nothing is mapped). <c>[Address, MemoryEnd)</c> is exactly the pages mapped for it.</summary>
    public ulong MemoryEnd => MemorySize == 0 ? Address : LoadPlan.PageUp(VirtualAddress + MemorySize, Page); // p_memsz 0 maps nothing, even at a misaligned p_vaddr

    /// <summary>From p_flags.</summary>
    public MemoryProtection Protection => (MemoryProtection)((_packed >> ProtectionShift) & 7);

    /// <summary>Text, read-only data or data, from p_flags.</summary>
    public SegmentContent Content =>
        (Protection & MemoryProtection.Execute) != 0 ? SegmentContent.Text
        : (Protection & MemoryProtection.Write) != 0 ? SegmentContent.Data
        : SegmentContent.ReadOnlyData;

    /// <summary><c>PT_LOAD[N]</c>.</summary>
    public string Name => $"PT_LOAD[{ProgramHeaderIndex}]";
}
