using Loader.Elf;

namespace Loader.Tests.Elf;

/// <summary>
/// "One reader, three views": the dynamic-table readers give the same answers over a memory image laid out
/// at p_vaddr (as the mapper will produce) as over the file on disk.
/// </summary>
public sealed class ImageViewTests
{
    [Theory]
    [InlineData("/usr/lib/x86_64-linux-gnu/libz.so.1")]
    [InlineData("basic.so")]
    [InlineData("relr.so")]
    [InlineData("versioned.so")]
    [InlineData("hash_sysv.so")]
    [InlineData("no_section_headers.so")]
    public void TablesReadFromAnImageLayoutEqualTablesReadFromTheFile(string name)
    {
        using var file = ElfFile.Open(name.StartsWith('/') ? name : Fixtures.Path(name));
        var image = LayOutLikeTheMapper(file);
        // The section count is a file-only hint; an image knows only its hashes, as a loader does.
        var fromImage = DynamicTables.Read(VirtualView.FromImage(name, image), file.Dynamic!, file.Encoding);
        var fromFile = file.Tables!;

        Assert.Equal(fromFile.SoName, fromImage.SoName);
        Assert.Equal(fromFile.Needed, fromImage.Needed);
        var fileSymbols = fromFile.Symbols!;
        var imageSymbols = fromImage.Symbols!;
        Assert.True(imageSymbols.Count > 1);
        Assert.Equal(fileSymbols.Count, imageSymbols.Count);
        for (int i = 0; i < fileSymbols.Count; i++)
        {
            Assert.Equal(fileSymbols[i], imageSymbols[i]);
            Assert.Equal(fileSymbols.GetName(i), imageSymbols.GetName(i));
            Assert.Equal(fromFile.GetSymbolVersion(i), fromImage.GetSymbolVersion(i));
            // Lookup by name alone: two versions of one name (versioned.so's compute) find the same first one.
            if (!fileSymbols[i].IsUndefined && fileSymbols[i].Binding != SymbolBinding.Local)
                Assert.Equal(fromFile.FindDefinedSymbol(fileSymbols.GetName(i)), fromImage.FindDefinedSymbol(fileSymbols.GetName(i)));
        }
        Assert.Equal(
            fromFile.RelocationTables.SelectMany(t => Enumerable.Range(0, t.Count).Select(i => t[i])),
            fromImage.RelocationTables.SelectMany(t => Enumerable.Range(0, t.Count).Select(i => t[i])));
        Assert.Equal(fromFile.Relr?.DecodeAddresses() ?? [], fromImage.Relr?.DecodeAddresses() ?? []);
    }

    /// <summary>Copies each PT_LOAD's file bytes to p_vaddr in a zeroed buffer spanning the image.</summary>
    private static byte[] LayOutLikeTheMapper(ElfFile file)
    {
        var loads = file.ProgramHeaders.Where(p => p.Type == SegmentType.Load).ToList();
        ulong end = loads.Max(p => p.VirtualAddress + p.MemorySize);
        var image = new byte[end];
        foreach (var p in loads)
            file.Bytes.Span.Slice((int)p.Offset, (int)p.FileSize).CopyTo(image.AsSpan((int)p.VirtualAddress));
        return image;
    }
}
