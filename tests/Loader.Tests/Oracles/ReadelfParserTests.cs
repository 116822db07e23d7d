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
