using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Loader.Tests.Oracles;

/// <summary>Tests of the readelf oracle itself, against real files and against canned readelf 2.40 output.</summary>
public sealed partial class ReadelfParserTests(ITestOutputHelper output) : IDisposable
{
    private const string Libz = "/usr/lib/x86_64-linux-gnu/libz.so.1";

    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("loader-readelf-");

    public void Dispose() => _temp.Delete(recursive: true);

    // ---- libz ---------------------------------------------------------------------------------

    [Fact]
    public void Libz_HeaderProgramHeadersAndDynamicSection()
    {
        ReadelfReport report = Readelf.ReadAll(Libz);

        Assert.False(report.HasErrors, report.Stderr);
        Assert.Contains("--dyn-syms", report.Arguments);
        ReadelfFileHeader header = Assert.IsType<ReadelfFileHeader>(report.FileHeader);
        Assert.Equal("ELF64", header.Class);
        Assert.Equal("2's complement, little endian", header.Data);
        Assert.Equal("DYN", header.TypeName);
        Assert.Equal(3, header.TypeNumber);
        Assert.Equal("Advanced Micro Devices X86-64", header.Machine);
        Assert.Equal(62, header.MachineNumber);
        Assert.Equal(64, header.HeaderSize);
        Assert.Equal(56, header.ProgramHeaderEntrySize);

        ReadelfProgramHeaders segments = Assert.IsType<ReadelfProgramHeaders>(report.ProgramHeaders);
        Assert.Equal(header.ProgramHeaderCount, segments.Headers.Count);
        Assert.Contains(segments.Headers, h => h.Type == "LOAD" && h.FlagsText == "R E" && h.Flags == (ReadelfSegmentFlags.R | ReadelfSegmentFlags.X));
        Assert.Contains(segments.Headers, h => h.Type == "GNU_RELRO" && h.Flags == ReadelfSegmentFlags.R);
        ReadelfProgramHeader dynamic = Assert.Single(segments.Headers, h => h.Type == "DYNAMIC");
        Assert.Null(segments.Interpreter);
        Assert.Equal(segments.Headers.Count, segments.SectionToSegment.Count);
        Assert.Equal([".dynamic"], segments.SectionToSegment[dynamic.Index].Sections);

        ReadelfDynamicSection table = Assert.IsType<ReadelfDynamicSection>(report.Dynamic);
        Assert.Equal(dynamic.Offset, table.FileOffset);
        Assert.Equal(table.DeclaredCount, table.Entries.Count);
        Assert.Equal(["libc.so.6"], table.Needed);
        Assert.Equal("libz.so.1", table.Soname);
        ReadelfDynamicEntry needed = table.Entries[0];
        Assert.Equal((1UL, "NEEDED", ReadelfDynamicValueKind.Name, "Shared library"), (needed.Tag, needed.TagName, needed.Kind, needed.Label));
        ReadelfDynamicEntry pltrel = Assert.Single(table.WithTag("PLTREL"));
        Assert.Equal((ReadelfDynamicValueKind.PltRel, "RELA", (ulong?)7), (pltrel.Kind, pltrel.Name, pltrel.Number));
        ReadelfDynamicEntry syment = Assert.Single(table.WithTag("SYMENT"));
        Assert.Equal((ReadelfDynamicValueKind.Bytes, (ulong?)24, 0xbUL), (syment.Kind, syment.Number, syment.Tag));
        ReadelfDynamicEntry gnuHash = Assert.Single(table.WithTag("GNU_HASH"));
        Assert.Equal((ReadelfDynamicValueKind.Hex, 0x6ffffef5UL), (gnuHash.Kind, gnuHash.Tag));
        Assert.Equal(ReadelfDynamicValueKind.Decimal, Assert.Single(table.WithTag("VERDEFNUM")).Kind);
        Assert.Equal("NULL", table.Entries[^1].TagName);

        ReadelfSection[] sections = [.. Assert.IsAssignableFrom<IReadOnlyList<ReadelfSection>>(report.Sections)];
        Assert.Equal(header.SectionHeaderCount, sections.Length);
        ReadelfSection dynsym = Assert.Single(sections, s => s.Name == ".dynsym");
        Assert.Equal(("DYNSYM", 24UL, "A"), (dynsym.Type, dynsym.EntrySize, dynsym.Flags));
        Assert.Equal(".shstrtab", sections[header.SectionNameTableIndex].Name);

        ReadelfNote note = Assert.Single(report.Notes, n => n.TypeName == "NT_GNU_BUILD_ID");
        Assert.Equal(("GNU", 20UL, ".note.gnu.build-id"), (note.Owner, note.DataSize, note.SectionName));
        Assert.Matches("^[0-9a-f]{40}$", note.BuildId);
    }

    [Fact]
    public void Libz_DynamicSymbolsSplitTheirVersions()
    {
        ReadelfReport report = Readelf.ReadAll(Libz);
        ReadelfSymbolTable table = Assert.IsType<ReadelfSymbolTable>(report.DynamicSymbols);

        Assert.Equal(".dynsym", table.SectionName);
        Assert.Equal(table.DeclaredCount, table.Symbols.Count);
        Assert.Equal(Enumerable.Range(0, table.Symbols.Count).Select(i => (long)i), table.Symbols.Select(s => s.Index));

        ReadelfSymbol first = table.Symbols[0];
        Assert.Equal(("", "UND", "NOTYPE", "LOCAL", ReadelfVersionKind.None), (first.Name, first.SectionIndex, first.Type, first.Bind, first.VersionKind));

        ReadelfSymbol flags = Assert.Single(table.Symbols, s => s.Name == "zlibCompileFlags");
        Assert.Equal(("zlibCompileFlags@@ZLIB_1.2.0.2", "ZLIB_1.2.0.2", ReadelfVersionKind.Default), (flags.RawName, flags.Version, flags.VersionKind));
        Assert.Equal(("FUNC", "GLOBAL", "DEFAULT"), (flags.Type, flags.Bind, flags.Visibility));
        Assert.NotNull(flags.SectionNumber);
        Assert.NotEqual(0UL, flags.Value);
        Assert.NotEqual(0UL, flags.Size);

        // zlibVersion has the base version (index 1), which readelf does not print.
        ReadelfSymbol zlibVersion = Assert.Single(table.Symbols, s => s.Name == "zlibVersion");
        Assert.Equal(("zlibVersion", null, ReadelfVersionKind.None), (zlibVersion.RawName, zlibVersion.Version, zlibVersion.VersionKind));

        ReadelfSymbol free = Assert.Single(table.Symbols, s => s.Name == "free");
        Assert.True(free.IsUndefined);
        Assert.Equal(("GLIBC_2.2.5", ReadelfVersionKind.Reference), (free.Version, free.VersionKind));
        Assert.True(free.VersionIndex > 1);
        Assert.Equal($"free@GLIBC_2.2.5 ({free.VersionIndex})", free.RawName);

        // Version-definition symbols (ZLIB_1.2.0.2 itself) are ABS OBJECTs without a version.
        ReadelfSymbol versionSymbol = Assert.Single(table.Symbols, s => s.Name == "ZLIB_1.2.0.2");
        Assert.Equal(("ABS", null, ReadelfVersionKind.None), (versionSymbol.SectionIndex, versionSymbol.SectionNumber, versionSymbol.VersionKind));
    }

    [Fact]
    public void Libz_Relocations()
    {
        ReadelfReport report = Readelf.ReadAll(Libz);

        Assert.Equal([".rela.dyn", ".rela.plt"], report.Relocations.Select(r => r.Name));
        foreach (ReadelfRelocationSection section in report.Relocations)
        {
            Assert.Equal(ReadelfRelocationFormat.Rela, section.Format);
            Assert.False(section.CountIsBytes);
            Assert.Equal(section.DeclaredCount, section.Entries.Count);
            Assert.Empty(section.RelrAddresses);
        }
        ReadelfDynamicSection dynamic = report.Dynamic!;
        Assert.Equal(Assert.Single(dynamic.WithTag("RELA")).Number, report.Relocations[0].FileOffset);

        ReadelfRelocation relative = report.Relocations[0].Entries[0];
        Assert.Equal(("R_X86_64_RELATIVE", 8UL, null, null), (relative.Type, relative.Info, relative.SymbolValue, relative.SymbolName));
        Assert.NotNull(relative.Addend);
        Assert.Equal((ulong)(long)Assert.Single(dynamic.WithTag("RELACOUNT")).Number!,
            (ulong)report.Relocations[0].Entries.Count(r => r.Type == "R_X86_64_RELATIVE"));

        ReadelfRelocation free = Assert.Single(report.Relocations[1].Entries, r => r.SymbolName == "free");
        Assert.Equal(("R_X86_64_JUMP_SLOT", "free@GLIBC_2.2.5", "GLIBC_2.2.5", 0L, 0UL), (free.Type, free.SymbolRawName, free.SymbolVersion, free.Addend, free.SymbolValue));
        Assert.Equal(7UL, free.Info & 0xffffffff);
    }

    // ---- RELR and no section headers, built on the fly ----------------------------------------

    private const string RelrSource = """
        static int a, b, c, d;
        int *ptrs[] = { &a, &b, &c, &d, &a, &b, 0, &c };
        extern int ext[];
        int *before_ext = ext - 2;
        extern void *malloc(unsigned long);
        void *f(void) { return malloc(3); }
        __thread int tv = 3;
        """;

    [Fact]
    public void Relr_PackedRelativeRelocationsAndNegativeAddend()
    {
        string library = BuildSharedLibrary("librelr.so", RelrSource, "-Wl,-z,pack-relative-relocs");
        ReadelfReport report = Readelf.ReadAll(library);

        Assert.False(report.HasErrors, report.Stderr);
        ReadelfDynamicSection dynamic = report.Dynamic!;
        ulong relrAddress = Assert.Single(dynamic.WithTag("RELR")).Number!.Value;
        Assert.Equal(8UL, Assert.Single(dynamic.WithTag("RELRENT")).Number);
        Assert.Equal(ReadelfDynamicValueKind.Bytes, Assert.Single(dynamic.WithTag("RELRSZ")).Kind);

        ReadelfRelocationSection relr = Assert.Single(report.Relocations, r => r.Format == ReadelfRelocationFormat.Relr);
        Assert.Equal(".relr.dyn", relr.Name);
        Assert.Equal(relrAddress, relr.FileOffset); // the RELR table lies in the first PT_LOAD, where offset == address
        Assert.Empty(relr.Entries);
        Assert.Equal(relr.RelrDeclaredAddresses, relr.RelrAddresses.Count);
        Assert.Equal((long)(Assert.Single(dynamic.WithTag("RELRSZ")).Number!.Value / 8), relr.DeclaredCount);

        ReadelfSymbol ptrs = Assert.Single(report.DynamicSymbols!.Symbols, s => s.Name == "ptrs");
        Assert.Equal(64UL, ptrs.Size);
        ulong[] expected = [.. new[] { 0, 1, 2, 3, 4, 5, 7 }.Select(i => ptrs.Value + (ulong)(8 * i))];
        Assert.Equal(expected, relr.RelrAddresses.Where(a => a >= ptrs.Value && a < ptrs.Value + ptrs.Size));
        Assert.DoesNotContain(report.Relocations.SelectMany(r => r.Entries), r => r.Type == "R_X86_64_RELATIVE");

        ReadelfRelocation negative = Assert.Single(report.Relocations.SelectMany(r => r.Entries), r => r.SymbolName == "ext" && r.Type == "R_X86_64_64");
        Assert.Equal(-8L, negative.Addend);
        Assert.Equal(0UL, negative.SymbolValue);

        ReadelfSymbol tv = Assert.Single(report.DynamicSymbols!.Symbols, s => s.Name == "tv");
        Assert.Equal(("TLS", 4UL), (tv.Type, tv.Size));
        Assert.Single(report.ProgramHeaders!.Headers, h => h.Type == "TLS");
    }

    [Fact]
    public void NoSectionHeaders_UsesDynamicModeAndFindsTheSameTables()
    {
        string library = BuildSharedLibrary("librelr.so", RelrSource, "-Wl,-z,pack-relative-relocs");
        ReadelfReport withSections = Readelf.ReadAll(library);
        string stripped = Path.Combine(_temp.FullName, "nosections.so");
        byte[] bytes = File.ReadAllBytes(library);
        bytes.AsSpan(0x28, 8).Clear(); // e_shoff
        bytes.AsSpan(0x3a, 6).Clear(); // e_shentsize, e_shnum, e_shstrndx
        File.WriteAllBytes(stripped, bytes);

        Assert.False(Readelf.Rejects(stripped));
        Assert.True(Readelf.HasNoSectionHeaders(stripped));
        ReadelfReport report = Readelf.ReadAll(stripped);

        Assert.False(report.HasErrors, report.Stderr);
        Assert.Contains("-D", report.Arguments);
        Assert.True(report.Output.SaidNoSections);
        Assert.Null(report.Sections);
        Assert.Empty(report.ProgramHeaders!.SectionToSegment);
        Assert.Equal(0, report.FileHeader!.SectionHeaderCount);

        ReadelfSymbolTable symbols = report.DynamicSymbols!;
        Assert.Null(symbols.SectionName);
        Assert.Equal(withSections.DynamicSymbols!.Symbols, symbols.Symbols);

        Assert.Equal(["RELA", "RELR", "PLT"], report.Relocations.Select(r => r.Name));
        Assert.All(report.Relocations, r => Assert.True(r.CountIsBytes));
        ReadelfRelocationSection rela = report.Relocations[0];
        Assert.Equal(rela.DeclaredCount / 24, rela.Entries.Count);
        Assert.Equal(withSections.Relocations.Single(r => r.Name == ".rela.dyn").Entries, rela.Entries);
        Assert.Equal(withSections.Relocations.Single(r => r.Name == ".rela.plt").Entries, report.Relocations[2].Entries);
        Assert.Equal(withSections.Relocations.Single(r => r.Name == ".relr.dyn").RelrAddresses, report.Relocations[1].RelrAddresses);

        ReadelfNote note = Assert.Single(report.Notes);
        Assert.Null(note.SectionName);
        Assert.NotNull(note.FileOffset);
        Assert.Equal(withSections.Notes.Single().BuildId, note.BuildId);
    }

    // ---- canned output ------------------------------------------------------------------------

    [Fact]
    public void Parse_Elf32RelWithoutAddends()
    {
        // readelf -W -d -r --dyn-syms of `gcc -m32 -shared -fPIC -nostdlib` output.
        const string text = """

            Dynamic section at offset 0x2f80 contains 2 entries:
              Tag        Type                         Name/Value
             0x00000011 (REL)                        0x218
             0x00000000 (NULL)                       0x0

            Relocation section '.rel.dyn' at offset 0x218 contains 4 entries:
             Offset     Info    Type                Sym. Value  Symbol's Name
            00003ff0  00000106 R_386_GLOB_DAT         00000000   ext
            00004004  00000101 R_386_32               00000000   ext@GLIBC_2.0
            00004000  00000201 R_386_32               00004008   x
            00004010  00000008 R_386_RELATIVE   

            Symbol table '.dynsym' contains 2 entries:
               Num:    Value  Size Type    Bind   Vis      Ndx Name
                 0: 00000000     0 NOTYPE  LOCAL  DEFAULT  UND 
                 1: 00004008     4 OBJECT  GLOBAL DEFAULT   13 x
            """;
        ReadelfOutput parsed = Readelf.Parse(text);

        Assert.Equal(0x11UL, parsed.Dynamic!.Entries[0].Tag);
        ReadelfRelocationSection rel = Assert.Single(parsed.Relocations);
        Assert.Equal((".rel.dyn", ReadelfRelocationFormat.Rel, 4L), (rel.Name, rel.Format, rel.DeclaredCount));
        Assert.Equal(4, rel.Entries.Count);
        Assert.All(rel.Entries, r => Assert.Null(r.Addend));
        Assert.Equal(("ext", 0UL, 0x106UL), (rel.Entries[0].SymbolName, rel.Entries[0].SymbolValue, rel.Entries[0].Info));
        Assert.Equal(("ext", "GLIBC_2.0", ReadelfVersionKind.Hidden), (rel.Entries[1].SymbolName, rel.Entries[1].SymbolVersion, rel.Entries[1].SymbolVersionKind));
        Assert.Equal((0x4008UL, "x"), (rel.Entries[2].SymbolValue!.Value, rel.Entries[2].SymbolName));
        Assert.Equal(("R_386_RELATIVE", null, null), (rel.Entries[3].Type, rel.Entries[3].SymbolName, rel.Entries[3].SymbolValue));
        Assert.Equal(2, parsed.DynamicSymbols!.Symbols.Count);
        Assert.Equal((0x4008UL, 13), (parsed.DynamicSymbols.Symbols[1].Value, parsed.DynamicSymbols.Symbols[1].SectionNumber));
    }

    [Fact]
    public void Parse_SymbolRowOddities()
    {
        const string text = """
            Symbol table '.dynsym' contains 6 entries:
               Num:    Value          Size Type    Bind   Vis      Ndx Name
                 0: 0000000000000000     0 NOTYPE  LOCAL  DEFAULT  UND 
               121: 000000000002d920 0x2c9f0 OBJECT  GLOBAL DEFAULT   25 GC_arrays
               128: 0000000000018240   201 OBJECT  <OS specific>: 10 DEFAULT   14 _ZZ8__digits
                 3: 0000000000001000    24 FUNC    GLOBAL DEFAULT [<localentry>: 8]    12 ppc_func@@V1
                 4: 0000000000000000     0 FUNC    WEAK   PROTECTED  UND odd@name@GLIBC_2.2.5 (3)
                 5: 0000000000002000     8 TLS     UNIQUE HIDDEN   COM weird@hidden@V2
            """;
        ReadelfSymbol[] symbols = [.. Readelf.Parse(text).DynamicSymbols!.Symbols];

        Assert.Equal(6, symbols.Length);
        Assert.Equal((0x2c9f0UL, "GC_arrays"), (symbols[1].Size, symbols[1].Name));
        Assert.Equal(("<OS specific>: 10", 14), (symbols[2].Bind, symbols[2].SectionNumber));
        Assert.Equal(("<localentry>: 8", "ppc_func", "V1", ReadelfVersionKind.Default), (symbols[3].OtherAnnotation, symbols[3].Name, symbols[3].Version, symbols[3].VersionKind));
        Assert.Equal(("PROTECTED", "odd@name", "GLIBC_2.2.5", 3), (symbols[4].Visibility, symbols[4].Name, symbols[4].Version, symbols[4].VersionIndex));
        Assert.Equal(("UNIQUE", "HIDDEN", "COM", null), (symbols[5].Bind, symbols[5].Visibility, symbols[5].SectionIndex, symbols[5].SectionNumber));
        Assert.Equal(("weird@hidden", "V2", ReadelfVersionKind.Hidden), (symbols[5].Name, symbols[5].Version, symbols[5].VersionKind));
    }

    [Fact]
    public void Parse_DynamicValueKinds()
    {
        const string text = """
            Dynamic section at offset 0x1000 contains 9 entries:
              Tag        Type                         Name/Value
             0x000000000000001d (RUNPATH)            Library runpath: [$ORIGIN/../lib]
             0x000000000000000f (RPATH)              Library rpath: [/opt/x]
             0x000000000000001e (FLAGS)              SYMBOLIC BIND_NOW
             0x000000006ffffffb (FLAGS_1)            Flags: NOW NODELETE PIE
             0x000000006ffffffb (FLAGS_1)            Flags:
             0x0000000000000014 (PLTREL)             REL
             0x000000006ffffe00 (Operating System specific: 6ffffe00) 0x12
             0x0000000000000001 (NEEDED)             Shared library: [lib with space.so]
             0x0000000000000000 (NULL)               0x0
            """;
        ReadelfDynamicSection dynamic = Readelf.Parse(text).Dynamic!;

        Assert.Equal(9, dynamic.Entries.Count);
        Assert.Equal(["$ORIGIN/../lib"], dynamic.Runpath);
        Assert.Equal(["/opt/x"], dynamic.Rpath);
        Assert.Equal(["SYMBOLIC", "BIND_NOW"], dynamic.Entries[2].Words);
        Assert.Equal(ReadelfDynamicValueKind.Flags, dynamic.Entries[2].Kind);
        Assert.Equal(["NOW", "NODELETE", "PIE"], dynamic.Entries[3].Words);
        Assert.Equal((ReadelfDynamicValueKind.Flags, 0), (dynamic.Entries[4].Kind, dynamic.Entries[4].Words.Count));
        Assert.Equal(("REL", (ulong?)17), (dynamic.Entries[5].Name, dynamic.Entries[5].Number));
        Assert.Equal(("Operating System specific: 6ffffe00", (ulong?)0x12), (dynamic.Entries[6].TagName, dynamic.Entries[6].Number));
        Assert.Equal(["lib with space.so"], dynamic.Needed);
    }

    [Fact]
    public void Parse_UnknownLinesThrowWithTheLine()
    {
        const string inTable = """
            Relocation section '.rela.dyn' at offset 0x1b00 contains 2 entries:
                Offset             Info             Type               Symbol's Value  Symbol's Name + Addend
            000000000001dc70  0000000000000008 R_X86_64_RELATIVE                         33f0
            this is not a relocation
            """;
        var e = Assert.Throws<ReadelfParseException>(() => Readelf.Parse(inTable));
        Assert.Equal((4, "this is not a relocation"), (e.LineNumber, e.Line));

        var top = Assert.Throws<ReadelfParseException>(() => Readelf.Parse("\nHistogram for bucket list length (total of 3 buckets):\n"));
        Assert.Equal(2, top.LineNumber);

        // A RELA row whose symbol lacks the "+ addend" is not silently taken as REL.
        Assert.Throws<ReadelfParseException>(() => Readelf.Parse("""
            Relocation section '.rela.dyn' at offset 0x1b00 contains 1 entry:
                Offset             Info             Type               Symbol's Value  Symbol's Name + Addend
            000000000001dfc0  0000000400000006 R_X86_64_GLOB_DAT      0000000000000000 _ITM_deregisterTMCloneTable
            """));
    }

    [Fact]
    public void Parse_IfuncSymbolInTheValueColumn()
    {
        // readelf 2.40 prints an IFUNC symbol's name and "()" where the value would be (libatomic.so.1).
        const string text = """
            Relocation section '.rela.plt' at offset 0x1000 contains 1 entry:
                Offset             Info             Type               Symbol's Value  Symbol's Name + Addend
            0000000000008000  0000004e00000007 R_X86_64_JUMP_SLOT     __atomic_exchange_16@@LIBATOMIC_1.0() __atomic_exchange_16@@LIBATOMIC_1.0 + 0
            """;
        ReadelfRelocation entry = Assert.Single(Assert.Single(Readelf.Parse(text).Relocations).Entries);
        Assert.Equal((true, null, "__atomic_exchange_16", "LIBATOMIC_1.0", 0L), (entry.SymbolIsIfunc, entry.SymbolValue, entry.SymbolName, entry.SymbolVersion, entry.Addend));
    }

    [Fact]
    public void Parse_BareNegativeAddend()
    {
        const string text = """
            Relocation section '.rela.dyn' at offset 0x1b00 contains 2 entries:
                Offset             Info             Type               Symbol's Value  Symbol's Name + Addend
            000000000001dc70  0000000000000008 R_X86_64_RELATIVE                         -10
            000000000001dc78  0000000000000008 R_X86_64_RELATIVE                         7fffffffffffffff
            """;
        ReadelfRelocation[] entries = [.. Assert.Single(Readelf.Parse(text).Relocations).Entries];
        Assert.Equal([-16L, long.MaxValue], entries.Select(r => r.Addend!.Value));
    }

    [Theory]
    [InlineData("zlibVersion@@ZLIB_1.2.0.2", "zlibVersion", "ZLIB_1.2.0.2", ReadelfVersionKind.Default, null)]
    [InlineData("free@GLIBC_2.2.5 (17)", "free", "GLIBC_2.2.5", ReadelfVersionKind.Reference, 17)]
    [InlineData("old@VER_1", "old", "VER_1", ReadelfVersionKind.Hidden, null)]
    [InlineData("a@b@@V", "a@b", "V", ReadelfVersionKind.Default, null)]
    [InlineData("plain", "plain", null, ReadelfVersionKind.None, null)]
    [InlineData("", "", null, ReadelfVersionKind.None, null)]
    [InlineData("strange (2)", "strange (2)", null, ReadelfVersionKind.None, null)]
    public void SplitVersion_TakesTheVersionAfterTheLastAt(string raw, string name, string? version, ReadelfVersionKind kind, int? index)
    {
        Assert.Equal(new ReadelfSymbolName(name, version, kind, index), Readelf.SplitVersion(raw));
    }

    // ---- Rejects ------------------------------------------------------------------------------

    [Fact]
    public void Rejects_NonElfAndTruncatedFilesButNotLibz()
    {
        string text = Path.Combine(_temp.FullName, "libc.so");
        File.WriteAllText(text, "/* GNU ld script */\nGROUP ( libc.so.6 )\n");
        string truncated = Path.Combine(_temp.FullName, "truncated.so");
        File.WriteAllBytes(truncated, File.ReadAllBytes(Libz).AsSpan(0, 4096).ToArray());

        Assert.True(Readelf.Rejects(text));
        Assert.True(Readelf.Rejects(truncated));
        Assert.False(Readelf.Rejects(Libz));
        ReadelfResult run = Readelf.Run(text, "-h");
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("Error:", run.Stderr);
    }

    // ---- every system library ----------------------------------------------------------------

    [Fact]
    public void SystemLibraries_AreSortedRealElfSharedObjects()
    {
        IReadOnlyList<string> libraries = SystemLibraries.SharedObjects();

        Assert.True(libraries.Count > 50, $"only {libraries.Count} shared objects in {SystemLibraries.Directory}");
        Assert.Equal(libraries.Order(StringComparer.Ordinal), libraries);
        Assert.Equal(libraries.Count, libraries.Distinct().Count());
        Assert.Contains(SystemLibraries.RealPath(Libz), libraries);
        Assert.DoesNotContain(libraries, l => l.EndsWith("/libc.so", StringComparison.Ordinal)); // a linker script
        Assert.All(libraries, l => Assert.Equal(l, SystemLibraries.RealPath(l)));
        output.WriteLine($"{libraries.Count} shared objects in {SystemLibraries.Directory}, {SystemLibraries.SharedObjects(recursive: true).Count} with subdirectories");
    }

    [Fact]
    public void SystemLibraries_AllParseAndNoRowIsDropped()
    {
        IReadOnlyList<string> libraries = SystemLibraries.SharedObjects();
        var failures = new ConcurrentBag<string>();
        long symbols = 0, relocations = 0;
        var clock = Stopwatch.StartNew();

        Parallel.ForEach(libraries, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(2, Environment.ProcessorCount) }, path =>
        {
            try
            {
                ReadelfReport report = Readelf.ReadAll(path);
                CheckCounts(report);
                Interlocked.Add(ref symbols, report.Output.SymbolTables.Sum(t => t.Symbols.Count));
                Interlocked.Add(ref relocations, report.Relocations.Sum(r => r.Entries.Count + r.RelrAddresses.Count));
            }
            catch (Exception e)
            {
                failures.Add($"{path}: {e.Message}");
            }
        });

        output.WriteLine($"{libraries.Count} libraries, {symbols} symbols, {relocations} relocations parsed in {clock.Elapsed.TotalSeconds:F1} s");
        foreach (string failure in failures.Order(StringComparer.Ordinal).Take(20))
        {
            output.WriteLine(failure);
        }
        Assert.Empty(failures);
    }

    /// <summary>
    /// Declared counts against parsed rows, and rows counted straight from the raw text (with patterns that know
    /// nothing of the parser) against parsed rows, so the parser cannot drop a row without failing.
    /// </summary>
    private static void CheckCounts(ReadelfReport report)
    {
        Assert.False(report.HasErrors, report.Stderr);
        ReadelfOutput parsed = report.Output;
        ReadelfFileHeader header = Assert.IsType<ReadelfFileHeader>(parsed.FileHeader);
        Assert.Equal(header.ProgramHeaderCount, parsed.ProgramHeaders!.Headers.Count);
        if (parsed.Sections is not null)
        {
            Assert.Equal(header.SectionHeaderCount, parsed.Sections.Count);
        }
        if (parsed.Dynamic is not null)
        {
            Assert.Equal(parsed.Dynamic.DeclaredCount, parsed.Dynamic.Entries.Count);
        }
        Assert.NotNull(parsed.DynamicSymbols);
        foreach (ReadelfSymbolTable table in parsed.SymbolTables)
        {
            Assert.Equal(table.DeclaredCount, table.Symbols.Count);
        }
        foreach (ReadelfRelocationSection section in parsed.Relocations)
        {
            if (section.Format == ReadelfRelocationFormat.Relr)
            {
                Assert.Equal(section.RelrDeclaredAddresses, section.RelrAddresses.Count);
            }
            else
            {
                long size = section.Format == ReadelfRelocationFormat.Rela ? (header.Class == "ELF64" ? 24 : 12) : (header.Class == "ELF64" ? 16 : 8);
                Assert.Equal(section.CountIsBytes ? section.DeclaredCount / size : section.DeclaredCount, section.Entries.Count);
            }
        }

        string[] lines = report.Stdout.Split('\n');
        Assert.Equal(lines.Count(l => SymbolLine().IsMatch(l)), parsed.SymbolTables.Sum(t => t.Symbols.Count));
        Assert.Equal(lines.Count(l => RelocationLine().IsMatch(l)), parsed.Relocations.Sum(r => r.Entries.Count));
        Assert.Equal(lines.Count(l => AddressLine().IsMatch(l)), parsed.Relocations.Sum(r => r.RelrAddresses.Count));
        Assert.Equal(lines.Count(l => l.StartsWith(" 0x", StringComparison.Ordinal)), parsed.Dynamic?.Entries.Count ?? 0);
        Assert.Equal(lines.Count(l => l.StartsWith("  [", StringComparison.Ordinal) && !l.StartsWith("  [Nr]", StringComparison.Ordinal)
            && !l.Contains("[Requesting", StringComparison.Ordinal)), parsed.Sections?.Count ?? 0);
    }

    [GeneratedRegex(@"^ *\d+: [0-9a-f]+ ")]
    private static partial Regex SymbolLine();

    [GeneratedRegex(@"^[0-9a-f]+ +[0-9a-f]+ +\S")]
    private static partial Regex RelocationLine();

    [GeneratedRegex(@"^[0-9a-f]+$")]
    private static partial Regex AddressLine();

    // ---- helpers ------------------------------------------------------------------------------

    private string BuildSharedLibrary(string name, string source, params string[] flags)
    {
        string c = Path.Combine(_temp.FullName, Path.ChangeExtension(name, ".c"));
        string so = Path.Combine(_temp.FullName, name);
        File.WriteAllText(c, source);
        var gcc = ChildProcess.Run("gcc", ["-shared", "-fPIC", "-O1", "-o", so, c, .. flags]);
        Assert.True(gcc.ExitCode == 0, $"gcc failed: {gcc.Stderr}{gcc.Stdout}");
        return so;
    }
}
