using System.Buffers.Binary;
using Loader.Elf;

namespace Loader.Tests.Linking;

/// <summary>
/// What <c>UnwindRegistry</c> refuses to hand libgcc: an <c>.eh_frame_hdr</c> it cannot decode (refused), and an
/// <c>.eh_frame</c> whose entries do not end with a zero terminator inside their PT_LOAD, where libgcc would walk on
/// past the image (not registered; the library loads, as under glibc). Each case patches a copy of libcxx_thrower.so; the load fails with an <see cref="ElfFormatException"/>
/// naming the file and the field, and what was registered before the refusal is taken off again (the next throw
/// would otherwise make libgcc read an unmapped table).
/// </summary>
public sealed unsafe class UnwindRegistryTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("loader-unwind-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static (ulong HdrOffset, ulong FrameOffset, ulong FrameSize) Sections(string path)
    {
        using var file = ElfFile.Open(path);
        var hdr = file.Sections.Single(s => s.Name == ".eh_frame_hdr");
        var frame = file.Sections.Single(s => s.Name == ".eh_frame");
        return (hdr.Offset, frame.Offset, frame.Size);
    }

    /// <summary>A copy of <paramref name="fixture"/> in the temporary folder, with <paramref name="patch"/> applied.</summary>
    private string Patched(string fixture, string name, Action<byte[], (ulong HdrOffset, ulong FrameOffset, ulong FrameSize)> patch)
    {
        string source = Fixtures.Path(fixture);
        byte[] bytes = File.ReadAllBytes(source);
        patch(bytes, Sections(source));
        string path = Path.Combine(_directory, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static void ThrowAndCatch()
    {
        var context = new LoaderContext();
        using var lib = context.Load(Fixtures.Path("cxx/libcxx_thrower.so"));
        Assert.Equal(9, ((delegate* unmanaged<int, int, int>)lib.GetExport("thrower_catch_inside"))(4, 5));
    }

    [Fact]
    public void An_eh_frame_hdr_of_another_version_is_refused()
    {
        string path = Patched("cxx/libcxx_thrower.so", "libcxx_thrower.so", (b, s) =>
        {
            Assert.Equal(1, b[s.HdrOffset]);
            b[s.HdrOffset] = 2;
        });

        var e = Assert.Throws<ElfFormatException>(() => new LoaderContext().Load(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains(".eh_frame_hdr version", e.Message, StringComparison.Ordinal);
        Assert.Contains("2, expected 1", e.Message, StringComparison.Ordinal);
        ThrowAndCatch();
    }

    [Fact]
    public void An_eh_frame_ptr_encoding_that_is_omitted_or_indirect_is_refused()
    {
        foreach (byte encoding in new byte[] { 0xff, 0x9b, 0x1a })
        {
            string path = Patched("cxx/libcxx_thrower.so", $"enc{encoding:x2}.so", (b, s) =>
            {
                Assert.Equal(0x1b, b[s.HdrOffset + 1]); // DW_EH_PE_pcrel | DW_EH_PE_sdata4, as ld writes it
                b[s.HdrOffset + 1] = encoding;
            });
            var e = Assert.Throws<ElfFormatException>(() => new LoaderContext().Load(path));
            Assert.Contains($"eh_frame_ptr_enc at offset 0x{Sections(path).HdrOffset + 1:x}: 0x{encoding:x2}", e.Message, StringComparison.Ordinal);
        }
        ThrowAndCatch();
    }

    [Fact]
    public void An_eh_frame_ptr_outside_the_image_is_refused()
    {
        string path = Patched("cxx/libcxx_thrower.so", "far.so", (b, s) =>
            BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan((int)s.HdrOffset + 4), 0x4000_0000));

        var e = Assert.Throws<ElfFormatException>(() => new LoaderContext().Load(path));
        Assert.Contains(".eh_frame_hdr eh_frame_ptr", e.Message, StringComparison.Ordinal);
        Assert.Contains("does not lie inside a readable PT_LOAD", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0x7fff_ffffu)]
    [InlineData(0xffff_ffffu)]
    public void An_eh_frame_libgcc_would_walk_past_the_image_is_not_registered_and_the_library_still_loads(uint length)
    {
        // libcc1.so.0 ships such an .eh_frame: glibc loads it, so Loader must too; handing it to libgcc could crash.
        string path = Patched("cxx/libcxx_thrower.so", "noterm.so", (b, s) =>
        {
            var terminator = b.AsSpan((int)(s.FrameOffset + s.FrameSize - 4), 4);
            Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(terminator)); // crtend.o's __FRAME_END__
            BinaryPrimitives.WriteUInt32LittleEndian(terminator, length);
        });

        using var lib = new LoaderContext().Load(path);
        Assert.Null(lib.LoadedModule.RegisteredEhFrame);
        ((delegate* unmanaged<nint, void>)lib.GetExport("thrower_free_shape"))(0); // code that throws nothing still runs
        ThrowAndCatch();
    }

    [Fact]
    public void System_libraries_whose_eh_frame_ends_with_their_segment_are_registered()
    {
        // libunwind.so.8's .eh_frame ends exactly where its PT_LOAD does; the page's padding after it is the
        // terminator libgcc reads. Glibc loads it; so does Loader, with its frames registered.
        using var lib = new LoaderContext().Load(Oracles.SystemLibraries.Require("libunwind.so.8"));
        Assert.NotNull(lib.LoadedModule.RegisteredEhFrame);
    }

    [Fact]
    public void A_refused_root_takes_its_registered_dependency_off_again()
    {
        // The dependency (a good copy beside it, found through RUNPATH $ORIGIN) is relocated and registered first;
        // the root's refusal rolls both back.
        File.Copy(Fixtures.Path("cxx/libcxx_thrower.so"), Path.Combine(_directory, "libcxx_thrower.so"));
        string root = Patched("cxx/libcxx_catcher.so", "libcxx_catcher.so", (b, s) => b[s.HdrOffset] = 3);
        var context = new LoaderContext();

        var e = Assert.Throws<ElfFormatException>(() => context.Load(root));
        Assert.Contains(".eh_frame_hdr version", e.Message, StringComparison.Ordinal);
        Assert.Empty(context.LoadedLibraries);

        // Good copies, loaded again in the same context, throw across both.
        using var catcher = context.Load(Fixtures.Path("cxx/libcxx_catcher.so"));
        Assert.Equal(101, ((delegate* unmanaged<int, int, int>)catcher.GetExport("catcher_catch_from_thrower"))(1, 1));
        ThrowAndCatch();
    }
}
