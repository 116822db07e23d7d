using Loader.Elf;

namespace Loader.Tests.Elf;

/// <summary>Helpers shared by the robustness tests: touch every lazily validated part, and assert a clean refusal.</summary>
public static class ElfReadAll
{
    /// <summary>
    /// Reads everything an <see cref="ElfFile"/> exposes, so the lazily validated paths run too: every section,
    /// note, dynamic entry, symbol (name, version), relocation (and the symbol it names), RELR address, and a
    /// hash lookup of every defined name plus one absent name. Returns a count so nothing is optimized away.
    /// </summary>
    public static long ReadEverything(ElfFile elf)
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

    /// <summary>Parses and reads everything; the result is either a value or the exception thrown.</summary>
    public static Exception? ParseAndReadAll(ReadOnlyMemory<byte> bytes, string name)
    {
        try
        {
            var elf = ElfFile.Parse(bytes, name);
            ReadEverything(elf);
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    /// <summary>
    /// Asserts that parsing (and then reading everything) raises an <see cref="ElfFormatException"/> whose
    /// <c>Field</c> is <paramref name="field"/> (or one of the alternatives) and whose message names the file and the field.
    /// </summary>
    public static ElfFormatException AssertRefused(ReadOnlyMemory<byte> bytes, string name, params string[] field)
    {
        var e = ParseAndReadAll(bytes, name);
        if (e is null)
            Assert.Fail($"expected an ElfFormatException naming {string.Join(" or ", field)}, but the file parsed and read back");
        if (e is not ElfFormatException format)
            throw new Xunit.Sdk.XunitException($"expected an ElfFormatException naming {string.Join(" or ", field)}, got {e.GetType().Name}: {e.Message}\n{FirstFrames(e)}");
        Assert.Contains(format.Field, field);
        Assert.Equal(name, format.FileName);
        Assert.Contains(name, format.Message, StringComparison.Ordinal);
        Assert.Contains(format.Field, format.Message, StringComparison.Ordinal);
        return format;
    }

    /// <summary>
    /// True when <paramref name="e"/> is acceptable for bad input: null (parsed), or a LoaderException that names
    /// the file and a field. Otherwise <paramref name="why"/> describes what escaped.
    /// </summary>
    public static bool IsCleanOutcome(Exception? e, string name, out string why)
    {
        why = "";
        switch (e)
        {
            case null:
                return true;
            case ElfFormatException f when f.FileName == name && !string.IsNullOrEmpty(f.Field) && f.Message.Contains(f.Field, StringComparison.Ordinal):
                return true;
            case ElfFormatException f:
                why = $"ElfFormatException without a proper FileName/Field (FileName={f.FileName ?? "null"}, Field={f.Field ?? "null"}): {f.Message}";
                return false;
            case LoaderException:
                return true;
            default:
                why = $"{e.GetType().Name}: {e.Message}\n{FirstFrames(e)}";
                return false;
        }
    }

    private static string FirstFrames(Exception e) =>
        string.Join("\n", (e.StackTrace ?? "").Split('\n').Take(5).Select(l => l.TrimEnd()));

    /// <summary>Runs <paramref name="action"/> on a worker and fails if it does not finish within <paramref name="seconds"/>.</summary>
    public static T WithTimeout<T>(Func<T> action, int seconds, Func<string> describe)
    {
        var task = Task.Run(action);
        if (!task.Wait(TimeSpan.FromSeconds(seconds)))
            Assert.Fail($"did not finish within {seconds} s (hang?) at: {describe()}");
        return task.Result;
    }
}
