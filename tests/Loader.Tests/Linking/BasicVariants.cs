using Loader.Elf;

namespace Loader.Tests.Linking;

/// <summary>basic.so, and basic.so with one hostile change, for the hostile-load tests and the regression files they
/// are kept as (<c>Hostile/RegressionInputs</c>).</summary>
internal static class BasicVariants
{
    /// <summary>basic.so's bytes (to patch) and the file parsed from a copy of them (to find what to patch).</summary>
    public static (byte[] Bytes, ElfFile Elf) Basic()
    {
        byte[] bytes = File.ReadAllBytes(Fixtures.Path("basic.so"));
        return (bytes, ElfFile.Parse(bytes.ToArray(), "basic.so"));
    }

    /// <summary>
    /// basic.so with PT_GNU_STACK turned into a writable PT_LOAD that maps nothing (p_filesz = p_memsz = 0) at a
    /// misaligned address one page past the data segment: the page is inside the reservation but never mapped.
    /// Returns the bytes and that address.
    /// </summary>
    public static (byte[] Bytes, ulong Address) WithEmptyWritableLoad()
    {
        var (bytes, elf) = Basic();
        using (elf)
        {
            int stack = elf.ProgramHeaders.ToList().FindIndex(p => p.Type == SegmentType.GnuStack);
            var data = elf.ProgramHeaders.Last(p => p.Type == SegmentType.Load);
            ulong address = ((data.VirtualAddress + data.MemorySize + 0xfff) & ~0xfffUL) + 0x10;
            ElfPatch.WriteProgramHeader(bytes, elf, stack, new ProgramHeader(SegmentType.Load,
                SegmentFlags.Read | SegmentFlags.Write, address & 0xfff, address, address, 0, 0, 0x1000));
            return (bytes, address);
        }
    }
}
