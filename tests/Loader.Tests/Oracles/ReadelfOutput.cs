namespace Loader.Tests.Oracles;

// Plain records for what GNU readelf 2.40 prints with -W. Numbers are parsed; the text readelf printed
// for names and kinds is kept as printed, so a test can compare it with our own names.

/// <summary>What one readelf run printed: exit code and both streams, untouched.</summary>
public sealed record ReadelfResult(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>True when readelf exited non-zero or printed <c>Error:</c> on either stream.</summary>
    public bool HasErrors =>
        ExitCode != 0
        || Stdout.Contains("Error:", StringComparison.Ordinal)
        || Stderr.Contains("Error:", StringComparison.Ordinal);
}

/// <summary>A readelf run over one file with everything parsed (<see cref="Readelf.ReadAll"/>).</summary>
public sealed record ReadelfReport(
    string Path,
    IReadOnlyList<string> Arguments,
    int ExitCode,
    string Stdout,
    string Stderr,
    ReadelfOutput Output)
{
    public bool HasErrors => new ReadelfResult(ExitCode, Stdout, Stderr).HasErrors;
    public ReadelfFileHeader? FileHeader => Output.FileHeader;
    public ReadelfProgramHeaders? ProgramHeaders => Output.ProgramHeaders;
    public IReadOnlyList<ReadelfSection>? Sections => Output.Sections;
    public ReadelfDynamicSection? Dynamic => Output.Dynamic;
    public ReadelfSymbolTable? DynamicSymbols => Output.DynamicSymbols;
    public IReadOnlyList<ReadelfRelocationSection> Relocations => Output.Relocations;
    public IReadOnlyList<ReadelfNote> Notes => Output.Notes;
}

/// <summary>
/// Every part readelf printed, each null (or empty) when its option was not given. Where readelf said
/// there is none ("There is no dynamic section in this file.") the part is null and the matching
/// <c>Said...</c> flag is set.
/// </summary>
public sealed record ReadelfOutput(
    ReadelfFileHeader? FileHeader,
    ReadelfProgramHeaders? ProgramHeaders,
    IReadOnlyList<ReadelfSection>? Sections,
    ReadelfDynamicSection? Dynamic,
    IReadOnlyList<ReadelfSymbolTable> SymbolTables,
    IReadOnlyList<ReadelfRelocationSection> Relocations,
    IReadOnlyList<ReadelfNote> Notes,
    bool SaidNoDynamicSection,
    bool SaidNoRelocations,
    bool SaidNoProgramHeaders,
    bool SaidNoSections)
{
    /// <summary><c>.dynsym</c>, or with -D the "Symbol table for image" (whose <see cref="ReadelfSymbolTable.SectionName"/> is null).</summary>
    public ReadelfSymbolTable? DynamicSymbols =>
        SymbolTables.FirstOrDefault(t => t.SectionName == ".dynsym")
        ?? SymbolTables.FirstOrDefault(t => t.SectionName is null);
}

// ---- -h ---------------------------------------------------------------------------------------

/// <param name="Class">"ELF64" / "ELF32".</param>
/// <param name="Data">"2's complement, little endian".</param>
/// <param name="Type">As printed: "DYN (Shared object file)".</param>
/// <param name="TypeName">First word of <paramref name="Type"/>: "DYN", "EXEC", "REL", ...</param>
/// <param name="TypeNumber">e_type when readelf printed a known name or a number; otherwise null.</param>
/// <param name="Machine">As printed: "Advanced Micro Devices X86-64".</param>
/// <param name="MachineNumber">e_machine for the names this oracle knows (see <see cref="Readelf.MachineNumbers"/>) or "&lt;unknown&gt;: 0x..": otherwise null.</param>
/// <param name="ProgramHeaderCount">e_phnum as printed (first number on the line).</param>
/// <param name="SectionHeaderCount">e_shnum as printed (first number; readelf adds "(N)" when the real count lives in section 0).</param>
/// <param name="SectionNameTableIndex">e_shstrndx as printed (first number).</param>
/// <param name="Fields">Every "Key: value" line of the header, raw.</param>
public sealed record ReadelfFileHeader(
    string Class,
    string Data,
    string OsAbi,
    string Type,
    string TypeName,
    int? TypeNumber,
    string Machine,
    int? MachineNumber,
    ulong Entry,
    ulong ProgramHeadersOffset,
    ulong SectionHeadersOffset,
    ulong Flags,
    long HeaderSize,
    long ProgramHeaderEntrySize,
    long ProgramHeaderCount,
    long SectionHeaderEntrySize,
    long SectionHeaderCount,
    long SectionNameTableIndex,
    IReadOnlyDictionary<string, string> Fields);

// ---- -l ---------------------------------------------------------------------------------------

/// <summary>p_flags bits, with the ELF values (PF_X = 1, PF_W = 2, PF_R = 4).</summary>
[Flags]
public enum ReadelfSegmentFlags
{
    None = 0,
    X = 1,
    W = 2,
    R = 4,
}

/// <param name="Type">As printed: "LOAD", "GNU_RELRO", "LOOS+0x...", "0x6474e553", ...</param>
/// <param name="FlagsText">The three-character Flg column, e.g. "R E", "RW ".</param>
public sealed record ReadelfProgramHeader(
    int Index,
    string Type,
    ulong Offset,
    ulong VirtualAddress,
    ulong PhysicalAddress,
    ulong FileSize,
    ulong MemorySize,
    string FlagsText,
    ReadelfSegmentFlags Flags,
    ulong Align);

/// <summary>One line of "Section to Segment mapping".</summary>
public sealed record ReadelfSegmentSections(int Segment, IReadOnlyList<string> Sections);

/// <param name="Interpreter">From "[Requesting program interpreter: ...]", or null.</param>
/// <param name="SectionToSegment">Empty when readelf printed no mapping (no section headers).</param>
public sealed record ReadelfProgramHeaders(
    IReadOnlyList<ReadelfProgramHeader> Headers,
    string? Interpreter,
    IReadOnlyList<ReadelfSegmentSections> SectionToSegment);

// ---- -S ---------------------------------------------------------------------------------------

public sealed record ReadelfSection(
    int Index,
    string Name,
    string Type,
    ulong Address,
    ulong Offset,
    ulong Size,
    ulong EntrySize,
    string Flags,
    long Link,
    long Info,
    ulong Alignment);

// ---- -d ---------------------------------------------------------------------------------------

public enum ReadelfDynamicValueKind
{
    /// <summary>"0x1000": <see cref="ReadelfDynamicEntry.Number"/>.</summary>
    Hex,
    /// <summary>"15": <see cref="ReadelfDynamicEntry.Number"/>.</summary>
    Decimal,
    /// <summary>"8 (bytes)": <see cref="ReadelfDynamicEntry.Number"/>.</summary>
    Bytes,
    /// <summary>"Shared library: [libc.so.6]": <see cref="ReadelfDynamicEntry.Label"/> and <see cref="ReadelfDynamicEntry.Name"/>.</summary>
    Name,
    /// <summary>"Flags: NOW PIE" (FLAGS_1 and friends) or the bare words of DT_FLAGS: <see cref="ReadelfDynamicEntry.Words"/>.</summary>
    Flags,
    /// <summary>DT_PLTREL: <see cref="ReadelfDynamicEntry.Name"/> is "RELA"/"REL", <see cref="ReadelfDynamicEntry.Number"/> the tag it names (7/17).</summary>
    PltRel,
    /// <summary>Nothing after the tag name.</summary>
    Empty,
    /// <summary>Anything else; only <see cref="ReadelfDynamicEntry.ValueText"/>.</summary>
    Other,
}

/// <param name="Tag">The first column, d_tag.</param>
/// <param name="TagName">The name in parentheses: "NEEDED", "FLAGS_1", "Operating System specific: 6ffffe00".</param>
/// <param name="ValueText">Everything after the name, trimmed.</param>
public sealed record ReadelfDynamicEntry(
    ulong Tag,
    string TagName,
    string ValueText,
    ReadelfDynamicValueKind Kind,
    ulong? Number,
    string? Label,
    string? Name,
    IReadOnlyList<string> Words);

/// <param name="DeclaredCount">N of "contains N entries" (readelf counts up to and including DT_NULL).</param>
public sealed record ReadelfDynamicSection(ulong FileOffset, long DeclaredCount, IReadOnlyList<ReadelfDynamicEntry> Entries)
{
    public IEnumerable<ReadelfDynamicEntry> WithTag(string tagName) => Entries.Where(e => e.TagName == tagName);
    public IReadOnlyList<string> Needed => NamesOf("NEEDED");
    public string? Soname => NamesOf("SONAME").FirstOrDefault();
    public IReadOnlyList<string> Runpath => NamesOf("RUNPATH");
    public IReadOnlyList<string> Rpath => NamesOf("RPATH");
    private string[] NamesOf(string tagName) => WithTag(tagName).Select(e => e.Name).OfType<string>().ToArray();
}

// ---- --dyn-syms / -s --------------------------------------------------------------------------

public enum ReadelfVersionKind
{
    /// <summary>No version printed.</summary>
    None,
    /// <summary><c>name@@VER</c>: the default version of a definition.</summary>
    Default,
    /// <summary><c>name@VER</c> on a definition (or in a relocation): a hidden/non-default version.</summary>
    Hidden,
    /// <summary><c>name@VER (N)</c>: a reference to a needed version; N is the version index.</summary>
    Reference,
}

/// <summary>A symbol name split into the name proper and the version readelf appended after the last '@'.</summary>
public readonly record struct ReadelfSymbolName(string Name, string? Version, ReadelfVersionKind VersionKind, int? VersionIndex);

/// <param name="Size">Decimal or, for big sizes, "0x..." hex as printed: both parsed.</param>
/// <param name="Type">As printed: "FUNC", "IFUNC", "&lt;OS specific&gt;: 10", ...</param>
/// <param name="Bind">As printed: "GLOBAL", "UNIQUE", "&lt;OS specific&gt;: 10", ...</param>
/// <param name="Visibility">"DEFAULT", "HIDDEN", "PROTECTED", "INTERNAL".</param>
/// <param name="OtherAnnotation">Text of any "[...]" readelf printed after the visibility (e.g. "&lt;localentry&gt;: 8", "VARIANT_PCS"), or null.</param>
/// <param name="SectionIndex">The Ndx column as printed: "UND", "ABS", "COM", "13", ...</param>
/// <param name="SectionNumber">The Ndx column when it is a number; otherwise null.</param>
/// <param name="RawName">The Name column as printed, version and all.</param>
public sealed record ReadelfSymbol(
    long Index,
    ulong Value,
    ulong Size,
    string Type,
    string Bind,
    string Visibility,
    string? OtherAnnotation,
    string SectionIndex,
    int? SectionNumber,
    string RawName,
    string Name,
    string? Version,
    ReadelfVersionKind VersionKind,
    int? VersionIndex)
{
    public bool IsUndefined => SectionIndex == "UND";
}

/// <param name="SectionName">".dynsym", ".symtab"; null for -D's "Symbol table for image".</param>
/// <param name="DeclaredCount">N of "contains N entries".</param>
public sealed record ReadelfSymbolTable(string? SectionName, long DeclaredCount, IReadOnlyList<ReadelfSymbol> Symbols);

// ---- -r ---------------------------------------------------------------------------------------

public enum ReadelfRelocationFormat
{
    Rela,
    Rel,
    Relr,
}

/// <param name="Type">"R_X86_64_RELATIVE", or "unrecognized: 2a".</param>
/// <param name="SymbolValue">Null when readelf printed no symbol (symbol index 0, or -D without symbols), and for an
/// IFUNC symbol, whose value column readelf 2.40 replaces with "name()" (then <paramref name="SymbolIsIfunc"/>).</param>
/// <param name="SymbolRawName">The name column as printed (with version).</param>
/// <param name="Addend">For RELA only: "+ 0"/"- 8" after the name, or the bare (possibly "-") hex with no symbol.</param>
public sealed record ReadelfRelocation(
    ulong Offset,
    ulong Info,
    string Type,
    ulong? SymbolValue,
    string? SymbolRawName,
    string? SymbolName,
    string? SymbolVersion,
    ReadelfVersionKind SymbolVersionKind,
    long? Addend,
    bool SymbolIsIfunc = false);

/// <param name="Name">Section name (".rela.dyn") or, with -D, the kind in quotes without them: "RELA", "REL", "RELR", "PLT".</param>
/// <param name="DeclaredCount">N of "contains N entries" or, with -D, of "contains N bytes" (see <see cref="CountIsBytes"/>).
/// For RELR sections this counts the packed words, not the addresses (see <see cref="RelrDeclaredAddresses"/>).</param>
/// <param name="Entries">REL/RELA rows; empty for RELR.</param>
/// <param name="RelrAddresses">RELR: the addresses readelf decoded; empty otherwise.</param>
/// <param name="RelrDeclaredAddresses">RELR: N of the "N offsets" line.</param>
public sealed record ReadelfRelocationSection(
    string Name,
    ulong FileOffset,
    long DeclaredCount,
    bool CountIsBytes,
    ReadelfRelocationFormat Format,
    IReadOnlyList<ReadelfRelocation> Entries,
    IReadOnlyList<ulong> RelrAddresses,
    long? RelrDeclaredAddresses);

// ---- -n ---------------------------------------------------------------------------------------

/// <param name="SectionName">From "notes found in: X", or null when found "at file offset" (no section headers).</param>
/// <param name="FileOffset">From "at file offset 0x.. with length 0x..", else null.</param>
/// <param name="TypeName">First word of the type column: "NT_GNU_BUILD_ID", "NT_GNU_PROPERTY_TYPE_0", "FDO_PACKAGING_METADATA", ...</param>
/// <param name="TypeText">The type column as printed, "NT_GNU_BUILD_ID (unique build ID bitstring)".</param>
/// <param name="Description">The description as printed, continuation lines joined with '\n', each trimmed.</param>
/// <param name="BuildId">Lower-case hex of "Build ID: ...", or null.</param>
public sealed record ReadelfNote(
    string? SectionName,
    ulong? FileOffset,
    ulong? Length,
    string Owner,
    ulong DataSize,
    string TypeName,
    string TypeText,
    string Description,
    string? BuildId);

/// <summary>A line readelf printed that this parser does not understand (never skipped silently).</summary>
public sealed class ReadelfParseException(string message, int lineNumber, string line)
    : Exception($"{message} at line {lineNumber}: \"{line}\"")
{
    public int LineNumber { get; } = lineNumber;
    public string Line { get; } = line;
}
