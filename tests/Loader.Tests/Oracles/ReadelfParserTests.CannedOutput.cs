namespace Loader.Tests.Oracles;

// The parser against canned readelf 2.40 output: the rows real files rarely show.
public sealed partial class ReadelfParserTests
{
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
}
