using Loader.Elf;

namespace Loader.Hostile;

/// <summary>
/// Shared by the test suite and the fuzzing harness (both compile this file): touch every lazily validated part of a
/// parsed file, so that a bug anywhere in the reader shows up as an exception.
/// </summary>
public static class ElfEverything
{
    /// <summary>
    /// Reads everything an <see cref="ElfFile"/> exposes, so the lazily validated paths run too: every section,
    /// note, dynamic entry, symbol (name, version), relocation (and the symbol it names), RELR address, and a
    /// hash lookup of every defined name plus one absent name. Returns a count so nothing is optimized away.
    /// </summary>
    public static long Read(ElfFile elf)
    {
        long n = 0;
        n += elf.Header.ProgramHeaderCount + elf.ProgramHeaderCount + elf.SectionCount + elf.SectionNameTableIndex;
        foreach (var s in elf.Sections)
            n += s.Name.Length + (long)(s.Size & 0xff);
        foreach (var note in elf.Notes)
            n += note.Owner.Length + note.Descriptor.Length + note.Type;
        n += elf.BuildId.Length + (elf.Interpreter?.Length ?? 0);
        if (elf.Dynamic is { } dyn)
        {
            foreach (var e in dyn.Entries)
                n += e.RawTag & 0xff;
            n += (long)dyn.Flags + (long)dyn.Flags1;
        }
        n += (elf.SoName?.Length ?? 0) + (elf.RunPath?.Length ?? 0) + (elf.RPath?.Length ?? 0);
        foreach (var needed in elf.Needed)
            n += needed.Length;

        if (elf.Versions is { } versions)
        {
            foreach (var d in versions.Definitions)
                n += d.Name.Length + d.Parents.Count;
            foreach (var need in versions.Needs)
                n += need.File.Length + need.Versions.Sum(v => v.Name.Length);
        }

        if (elf.DynamicSymbols is { } symbols)
        {
            for (int i = 0; i < symbols.Count; i++)
            {
                var sym = symbols[i];
                string name = symbols.GetName(i);
                var version = elf.GetSymbolVersion(i);
                n += name.Length + (long)(sym.Value & 0xff) + version.Suffix.Length;
                if (!sym.IsUndefined && name.Length > 0)
                    n += elf.FindDefinedSymbol(name);
            }
        }
        // An absent name walks a bucket's whole chain (and the Bloom filter).
        n += elf.FindDefinedSymbol("no_such_symbol_anywhere");
        n += elf.FindDefinedSymbol("");

        foreach (var table in elf.RelocationTables)
        {
            foreach (var r in table)
            {
                n += (long)(r.Offset & 0xff) + r.Type + r.Addend;
                if (r.SymbolIndex != 0 && elf.DynamicSymbols is { } syms)
                    n += syms.Get(r.SymbolIndex, table.Name).NameOffset;
            }
        }
        if (elf.Relr is { } relr)
            n += relr.DecodeAddresses().Count;
        if (elf.GnuHash is { } gnu)
            n += gnu.SymbolCount + (gnu.MayContain(0x1234567) ? 1 : 0);
        if (elf.SysvHash is { } sysv)
            n += sysv.ChainCount;
        return n;
    }
}
