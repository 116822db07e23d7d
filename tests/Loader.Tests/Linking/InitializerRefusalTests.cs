using System.Buffers.Binary;
using Loader.Elf;

namespace Loader.Tests.Linking;

/// <summary>
/// An initializer outside every executable PT_LOAD is refused before anything is called, as a field error naming
/// the dynamic tag and the address (basic.so with DT_INIT moved into its read-only, non-executable PT_LOAD).
/// </summary>
public sealed class InitializerRefusalTests
{
    [Fact]
    public void DtInitOutsideAnExecutablePtLoad_IsAFieldErrorNamingDtInitAndTheAddress()
    {
        var bytes = File.ReadAllBytes(Fixtures.Path("basic.so"));
        ulong readOnly;
        using (var file = ElfFile.Parse(bytes.ToArray(), "basic.so"))
        {
            var load = file.ProgramHeaders.First(p => p.Type == SegmentType.Load && (p.Flags & SegmentFlags.Execute) == 0 && p.VirtualAddress != 0);
            readOnly = load.VirtualAddress;
            var dynamic = file.ProgramHeaders.Single(p => p.Type == SegmentType.Dynamic);
            int init = file.Dynamic!.Entries.ToList().FindIndex(e => e.Tag == DynamicTag.Init);
            Assert.True(init >= 0, "basic.so has DT_INIT");
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan((int)dynamic.Offset + init * 16 + 8), readOnly);
        }

        var ex = Assert.Throws<ElfFormatException>(() => new LoaderContext().Load(bytes, "basic-init-in-rodata.so"));
        Assert.Equal("DT_INIT", ex.Field);
        Assert.Equal(readOnly, ex.Offset);
        Assert.Equal("basic-init-in-rodata.so", ex.FileName);
        Assert.EndsWith("does not lie in an executable PT_LOAD; not called", ex.Message);
    }
}
