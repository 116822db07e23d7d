using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Loader.Elf;
using Loader.Native;

namespace Loader.Tests.Elf;

/// <summary><c>DynamicSection</c>'s tag slots (made per thread for a section in native memory, as a mapped image's):
/// every ask answers as a scan of the entries does — the last entry of a tag wins — whichever section the thread asked
/// before, for tags with a slot and without, and for a section too long to index.</summary>
public sealed unsafe class DynamicTagIndexTests
{
    // Tags of every kind: gABI ones, DT_ADDRRNG's (GNU_HASH), the GNU version range (VERSYM, FLAGS_1, VERNEED...),
    // and tags with no slot (DT_FILTER, DT_AUXILIARY, a value between the ranges, DT_LOPROC's neighbours).
    private static readonly long[] Tags =
    [
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 20, 21, 23, 25, 26, 27, 28, 29, 30, 32, 35, 36, 37, 39,
        40, 0x6ffffef5, 0x6ffffef0, 0x6ffffeff, 0x6ffffefe, 0x6ffffff0, 0x6ffffff9, 0x6ffffffb, 0x6ffffffc, 0x6ffffffe,
        0x6fffffff, 0x6ffffdf5, 0x6ffffff8, 0x7ffffffd, 0x7fffffff, 0x70000000, 0x6ffffeef,
    ];

    [Fact]
    public void Every_ask_answers_as_a_scan_of_the_entries_with_sections_interleaved()
    {
        var random = new Random(17);
        var first = RandomSection(random, 60);
        var second = RandomSection(random, 200);
        try
        {
            var a = Read(first);
            var b = Read(second);
            for (int round = 0; round < 2_000; round++)
            {
                var (section, entries) = random.Next(2) == 0 ? (a, first.Entries) : (b, second.Entries);
                long tag = Tags[random.Next(Tags.Length)];
                AssertAnswersAsScan(section, entries, tag);
            }
        }
        finally
        {
            first.Free();
            second.Free();
        }
    }

    [Fact]
    public void A_section_of_more_than_255_entries_answers_as_a_scan_too()
    {
        var random = new Random(18);
        var large = RandomSection(random, 400);
        try
        {
            var section = Read(large);
            foreach (long tag in Tags)
                AssertAnswersAsScan(section, large.Entries, tag);
        }
        finally
        {
            large.Free();
        }
    }

    [Fact]
    public void Each_thread_answers_for_its_own_section()
    {
        var random = new Random(19);
        var sections = Enumerable.Range(0, 4).Select(_ => RandomSection(random, 50)).ToArray();
        try
        {
            var read = sections.Select(Read).ToArray();
            Parallel.For(0, 8, worker =>
            {
                var local = new Random(worker);
                for (int round = 0; round < 5_000; round++)
                {
                    int which = local.Next(read.Length);
                    AssertAnswersAsScan(read[which], sections[which].Entries, Tags[local.Next(Tags.Length)]);
                }
            });
        }
        finally
        {
            foreach (var s in sections)
                s.Free();
        }
    }

    private static void AssertAnswersAsScan(DynamicSection section, (long Tag, ulong Value)[] entries, long tag)
    {
        int last = -1;
        for (int i = 0; i < entries.Length; i++)
            if (entries[i].Tag == tag)
                last = i;
        bool found = section.TryGet((DynamicTag)tag, out ulong value);
        Assert.Equal(last >= 0, found);
        Assert.Equal(last >= 0 ? entries[last].Value : 0, value);
        Assert.Equal(last >= 0, section.Has((DynamicTag)tag));
    }

    private sealed record NativeSection(nint Address, int Length, (long Tag, ulong Value)[] Entries)
    {
        public void Free() => NativeMemory.Free((void*)Address);
    }

    /// <summary>Entries drawn from <see cref="Tags"/> (repeats included: the last wins), ending with DT_NULL, in native
    /// memory.</summary>
    private static NativeSection RandomSection(Random random, int count)
    {
        var entries = new (long Tag, ulong Value)[count + 1];
        for (int i = 0; i < count; i++)
            entries[i] = (Tags[random.Next(Tags.Length)], (ulong)random.NextInt64());
        entries[count] = (0, 0);
        int length = entries.Length * 16;
        nint address = (nint)NativeMemory.Alloc((nuint)length);
        var span = new Span<byte>((void*)address, length);
        for (int i = 0; i < entries.Length; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(span[(i * 16)..], entries[i].Tag);
            BinaryPrimitives.WriteUInt64LittleEndian(span[(i * 16 + 8)..], entries[i].Value);
        }
        return new NativeSection(address, length, entries);
    }

    private static DynamicSection Read(NativeSection native)
    {
        var memory = new BorrowedMemory(native.Address, (ulong)native.Length).Memory;
        return DynamicSection.Read(memory, new ElfEncoding(ElfClass.Elf64, ElfData.LittleEndian), 0x1000, 0x1000, "test.so");
    }
}
