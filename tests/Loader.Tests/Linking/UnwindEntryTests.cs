using System.Buffers.Binary;
using Loader.Elf;
using Loader.Native;
using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// An <c>.eh_frame</c> whose entries libgcc cannot read when it sorts the table — an FDE whose CIE pointer leads
/// outside the table or to another FDE, a CIE whose FDE encoding libgcc aborts on (funcrel, a value format it has no
/// case for) or dereferences (indirect), a personality pointer in an unknown format — or whose FDE describes code
/// outside the library (libgcc would unwind other code's frames with it) is not registered, and the library still loads (as under glibc, which never reads the table at load). libgcc reads a registered table at the
/// first unwind anywhere in the process, so registering one would stop the process at another library's throw, with
/// none of this library's code run: a child process that registers the patched table itself shows that (libgcc aborts),
/// where Loader's load, which does not, survives the same throw.
/// </summary>
public sealed unsafe class UnwindEntryTests : IDisposable
{
    public const string Scenario = "eh-frame-entries";

    private readonly string _directory = Directory.CreateTempSubdirectory("loader-unwind-entries-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    // libcxx_thrower.so's .eh_frame, as gcc 12 and ld write it (the test checks these bytes before patching): a "zR"
    // CIE at 0 with its FDE encoding at 16 (0x1b, pcrel|sdata4); FDEs at 0x18 and 0x40 that point back to it; a "zPLR"
    // CIE at 0xfc whose personality encoding is at 0x10e (0x9b, indirect|pcrel|sdata4).
    // The first FDE's pc_begin (pcrel|sdata4, -0x11f0: the code at 0x2020) is at 0x20, its pc_range (0x1d0) at 0x24.
    private const int FirstCieEncoding = 16, FirstFdePointer = 0x1c, SecondFdePointer = 0x44, PersonalityEncoding = 0x10e;
    private const int FirstFdeBegin = 0x20, FirstFdeRange = 0x24;
    // The second FDE (0x40, length 0x14, of the first CIE): the first of a run the walk's tight loop takes
    // (Native/UnwindFdeRun), which must hand back, or gather, what the general walk would.
    private const int SecondFdeLength = 0x40, SecondFdeBegin = 0x48, SecondFdeRange = 0x4c;

    public static TheoryData<string, int, uint, uint> Patches => new()
    {
        // name, offset in .eh_frame, the byte or word there now, what it becomes
        { "cie-pointer-before-the-table", FirstFdePointer, 0x1c, 0x7fff_0000 },
        { "cie-pointer-to-an-fde", SecondFdePointer, 0x44, 0x44 - 0x18 },
        { "fde-encoding-funcrel", FirstCieEncoding, 0x1b, 0x4b },
        { "fde-encoding-indirect", FirstCieEncoding, 0x1b, 0x9b },
        { "fde-encoding-uleb128", FirstCieEncoding, 0x1b, 0x11 },
        { "fde-encoding-omit", FirstCieEncoding, 0x1b, 0xff },
        { "personality-format-unknown", PersonalityEncoding, 0x9b, 0x85 },
        // An FDE that describes more than the library's code: from its function to the end of the address space (a
        // pc_range of -1, sign-extended), or code 2 GB past the image.
        { "fde-range-to-the-end", FirstFdeRange, 0x1d0, 0xffff_ffff },
        { "fde-begin-past-the-image", FirstFdeBegin, 0xffff_ee10, 0x7fff_0000 },
        // The same, and two lengths libgcc cannot walk, in an FDE of the run after the first.
        { "second-fde-range-to-the-end", SecondFdeRange, 0x10, 0xffff_ffff },
        { "second-fde-begin-past-the-image", SecondFdeBegin, 0xffff_efb8, 0x7fff_0000 },
        { "second-fde-length-below-its-fields", SecondFdeLength, 0x14, 0x8 },
        { "second-fde-length-past-the-segment", SecondFdeLength, 0x14, 0x7fff_0000 },
    };

    [Theory]
    [MemberData(nameof(Patches))]
    public void An_entry_libgcc_cannot_read_leaves_the_table_unregistered_and_the_library_loads(string name, int offset, uint now, uint patched)
    {
        string path = Patch(name, offset, now, patched);
        using var lib = new LoaderContext().Load(path);
        Assert.Null(lib.LoadedModule.RegisteredEhFrame);
        Assert.Equal(UnwindTableState.Refused, lib.UnwindTable); // told apart from a library with no table
        ((delegate* unmanaged<nint, void>)lib.GetExport("thrower_free_shape"))(0); // code that throws nothing still runs
        using var good = new LoaderContext().Load(Fixtures.Path("cxx/libcxx_thrower.so"));
        Assert.NotNull(good.LoadedModule.RegisteredEhFrame);
        Assert.Equal(UnwindTableState.Registered, good.UnwindTable);
        Assert.Equal(9, ((delegate* unmanaged<int, int, int>)good.GetExport("thrower_catch_inside"))(4, 5));
    }

    [Fact]
    public void The_unpatched_table_is_registered()
    {
        using var lib = new LoaderContext().Load(Fixtures.Path("cxx/libcxx_thrower.so"));
        Assert.NotNull(lib.LoadedModule.RegisteredEhFrame);
    }

    /// <summary>
    /// <see cref="ElfLibrary.UnwindTable"/> says what a user needs to know when an exception will not unwind: nothing to
    /// register (a library linked without <c>PT_GNU_EH_FRAME</c>), the host's (libgcc finds glibc's objects itself), and,
    /// through <c>loader try</c>, a patched table's refusal on the library's line; a disposed handle is not read.
    /// </summary>
    [Fact]
    public void The_state_is_none_without_a_header_host_for_the_hosts_and_try_names_a_refusal()
    {
        using (var none = new LoaderContext().Load(Fixtures.Path("cxx/libno_eh_frame_hdr.so")))
        {
            Assert.Null(none.LoadedModule.RegisteredEhFrame);
            Assert.Equal(UnwindTableState.None, none.UnwindTable);
        }
        using (var host = new LoaderContext().Load("libc.so.6"))
            Assert.Equal(UnwindTableState.Host, host.UnwindTable);
        var disposed = new LoaderContext().Load(Fixtures.Path("cxx/libcxx_thrower.so"));
        disposed.Dispose();
        Assert.Throws<ObjectDisposedException>(() => disposed.UnwindTable);

        string patched = Patch("fde-encoding-funcrel", FirstCieEncoding, 0x1b, 0x4b);
        var result = Cli.CliHarness.Run(["try", patched, Fixtures.Path("cxx/libcxx_thrower.so")]);
        Assert.True(result.ExitCode == 0, result.Stderr);
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith("loaded", StringComparison.Ordinal) && l.Contains(patched, StringComparison.Ordinal)
            && l.Contains("unwind table is not registered", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("libcxx_thrower.so", StringComparison.Ordinal) && !l.Contains("unwind", StringComparison.Ordinal));
        var json = Cli.CliHarness.Run(["try", "--json", patched]);
        Assert.Contains("\"unwind\":\"refused\"", json.Stdout, StringComparison.Ordinal);
    }

    /// <summary>
    /// The check refuses no table a toolchain wrote: every system library whose <c>PT_GNU_EH_FRAME</c> table it does not
    /// accept must be one readelf, walking the whole <c>.eh_frame</c>, finds no zero terminator in (libcc1.so.0's). And
    /// what the mapper decided before relocation — in a copy of the file's bytes for most, in its longer first overlay
    /// for larger tables — is what the same walk finds in the mapped image.
    /// </summary>
    [Fact]
    public void Every_system_librarys_table_passes_unless_readelf_finds_it_unterminated()
    {
        int accepted = 0, checkedInCopy = 0;
        var refused = new List<string>();
        foreach (string path in SystemLibraries.SharedObjects())
        {
            Loader.Mapping.ElfImage image;
            try
            {
                image = Loader.Mapping.ElfImage.Map(path);
            }
            catch (LoaderException)
            {
                continue; // not one Loader maps (32-bit, a linker script): not a table it registers
            }
            using (image)
            {
                if (!image.ProgramHeaders.Any(h => h.Type == SegmentType.GnuEhFrame))
                    continue;
                var found = Loader.Mapping.UnwindTableCheck.Find(path, image.ProgramHeaders, image.Plan, image.Memory, image.BaseAddress);
                if (found is null)
                    refused.Add(path);
                else
                    accepted++;
                if (image.UnwindTableChecked is { } mapped)
                    Assert.True(mapped.Start == found?.Start, $"{path}: the mapper found 0x{mapped.Start:x}, the image shows 0x{found?.Start:x}");
                if (image.MappingSteps.Count(step => step.Kind == Loader.Mapping.MappingStepKind.Overlay) < image.Plan.Overlays.Count(o => o.Length > 0))
                    checkedInCopy++;
            }
        }
        foreach (string path in refused)
        {
            var frames = Readelf.Run(path, "--debug-dump=frames");
            Assert.False(frames.Stdout.Contains("ZERO terminator", StringComparison.Ordinal),
                $"{path}: readelf walks its .eh_frame to the terminator, but the check does not register it");
        }
        Assert.True(accepted > 400, $"only {accepted} system libraries' tables accepted");
        Assert.True(checkedInCopy > 300, $"only {checkedInCopy} tables checked in a copy");
        Assert.True(refused.Count < 5, $"{refused.Count} tables refused: {string.Join(", ", refused)}");
    }

    /// <summary>
    /// A header whose <c>eh_frame_ptr</c> leads before <c>.eh_frame_hdr</c> (still inside its PT_LOAD) points outside the
    /// bytes the mapper copies: the mapper leaves the table unchecked, and the registry walks it in the mapped image
    /// after relocation, as for any layout the copy does not cover — the load goes on, and the verdict is that walk's.
    /// </summary>
    [Fact]
    public void A_table_outside_the_mappers_copy_is_checked_in_the_mapped_image()
    {
        string source = Fixtures.Path("cxx/libcxx_thrower.so");
        byte[] bytes = File.ReadAllBytes(source);
        ulong header, headerOffset;
        using (var file = ElfFile.Open(source))
        {
            var section = file.Sections.Single(s => s.Name == ".eh_frame_hdr");
            (header, headerOffset) = (section.Address, section.Offset);
        }
        Assert.Equal(0x1b, bytes[headerOffset + 1]); // eh_frame_ptr: pcrel|sdata4, from the field at header + 4
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan((int)headerOffset + 4), -8); // header - 4
        string path = Path.Combine(_directory, "eh-frame-ptr-before-the-header.so");
        File.WriteAllBytes(path, bytes);

        using (var image = Loader.Mapping.ElfImage.Map(path))
        {
            Assert.Null(image.UnwindTableChecked);
            // The 4 bytes before the header are no table the walk accepts, wherever it reads them.
            Assert.Null(Loader.Mapping.UnwindTableCheck.Find(path, image.ProgramHeaders, image.Plan, image.Memory, image.BaseAddress));
            Assert.True(header - 4 >= image.Plan.Overlays.First(o => o.VirtualAddress <= header && header < o.VirtualAddress + o.FileSize).VirtualAddress);
        }
        using var lib = new LoaderContext().Load(path);
        Assert.Null(lib.LoadedModule.RegisteredEhFrame);
        Assert.Contains(lib.UnwindTable, new[] { UnwindTableState.None, UnwindTableState.Refused });
        ((delegate* unmanaged<nint, void>)lib.GetExport("thrower_free_shape"))(0); // code that throws nothing still runs
    }

    /// <summary>libgcc is the oracle: the patches it aborts on, registered by hand, stop a child at another copy's
    /// throw; left to Loader, the same child catches it. (An FDE that describes other code is not among them: libgcc
    /// then unwinds that code with it only if its sorted search reaches it, which depends on where things are mapped.)
    /// </summary>
    [Theory]
    [InlineData("fde-encoding-funcrel", FirstCieEncoding, 0x1bu, 0x4bu)]
    [InlineData("personality-format-unknown", PersonalityEncoding, 0x9bu, 0x85u)]
    public void Registered_anyway_the_table_stops_the_process_at_another_librarys_throw(string name, int offset, uint now, uint patched)
    {
        string path = Patch(name, offset, now, patched);
        string frame = Sections(path).FrameAddress.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var left = ChildProcess.Run("dotnet", typeof(UnwindEntryTests).Assembly.Location, Scenario, path, frame, "leave");
        Assert.True(left.ExitCode == 0 && left.Stdout.Contains("caught 9", StringComparison.Ordinal),
            $"exit {left.ExitCode}: {left.Stdout} {left.Stderr}");

        var registered = ChildProcess.Run("dotnet", typeof(UnwindEntryTests).Assembly.Location, Scenario, path, frame, "register");
        Assert.True(registered.ExitCode != 0 && !registered.Stdout.Contains("caught", StringComparison.Ordinal),
            $"libgcc read the registered table without stopping: exit {registered.ExitCode}: {registered.Stdout}");
    }

    /// <summary>The child: loads the patched copy (Loader does not register its table), registers it by hand when asked,
    /// then throws and catches inside a good copy of the library.</summary>
    public static int Run(string path, ulong frameAddress, string mode)
    {
        var patched = new LoaderContext().Load(path);
        if (patched.LoadedModule.RegisteredEhFrame is not null)
        {
            Console.WriteLine("registered by Loader");
            return 3;
        }
        if (mode == "register")
            FrameRegistration.Register((nint)((ulong)patched.LoadedModule.Base + frameAddress));
        Console.Out.Flush();
        var good = new LoaderContext().Load(Fixtures.Path("cxx/libcxx_thrower.so"));
        int result = ((delegate* unmanaged<int, int, int>)good.GetExport("thrower_catch_inside"))(4, 5);
        Console.WriteLine($"caught {result}");
        GC.KeepAlive(patched);
        return 0;
    }

    private static (ulong FrameOffset, ulong FrameAddress) Sections(string path)
    {
        using var file = ElfFile.Open(path);
        var frame = file.Sections.Single(s => s.Name == ".eh_frame");
        return (frame.Offset, frame.Address);
    }

    private string Patch(string name, int offset, uint now, uint patched)
    {
        string source = Fixtures.Path("cxx/libcxx_thrower.so");
        byte[] bytes = File.ReadAllBytes(source);
        int at = (int)Sections(source).FrameOffset + offset;
        if (offset is SecondFdePointer or FirstFdePointer or FirstFdeBegin or FirstFdeRange
            or SecondFdeLength or SecondFdeBegin or SecondFdeRange) // a word
        {
            Assert.Equal(now, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at)));
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), patched);
        }
        else
        {
            Assert.Equal(now, bytes[at]);
            bytes[at] = (byte)patched;
        }
        string path = Path.Combine(_directory, name + ".so");
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
