using System.Text;
using Loader.Elf;

namespace Loader.Tests.Elf;

// The dynamic section and the string table (DT_STRTAB) its names point into.
public sealed partial class ElfImageBuilder
{
    /// <summary>Every string the image names, each once: soname, needed libraries, symbols, versions, extras, runpath.</summary>
    private StringTableBuilder DynamicStrings()
    {
        var dynstr = new StringTableBuilder();
        dynstr.Add(SoName);
        foreach (var n in Needed)
            dynstr.Add(n);
        foreach (var s in SymbolSpecs)
            dynstr.Add(s.Name);
        dynstr.Add(DefinedVersion);
        dynstr.Add(NeededVersion);
        foreach (var s in ExtraStrings)
            dynstr.Add(s);
        if (RunPath is not null)
            dynstr.Add(RunPath);
        return dynstr;
    }

    /// <summary>The entries, <see cref="ExtraDynamic"/> after the standard ones, then DT_NULLs up to the reserved
    /// <see cref="ElfLayout.DynamicCount"/>, so tests can append entries in place.</summary>
    private List<(DynamicTag Tag, ulong Value)> DynamicEntries(ElfLayout layout, StringTableBuilder dynstr)
    {
        var dynamic = new List<(DynamicTag Tag, ulong Value)>();
        foreach (var n in Needed)
            dynamic.Add((DynamicTag.Needed, dynstr[n]));
        dynamic.Add((DynamicTag.SoName, dynstr[SoName]));
        if (RunPath is not null)
            dynamic.Add((DynamicTag.RunPath, dynstr[RunPath]));
        if (Hashes != HashStyle.Gnu) dynamic.Add((DynamicTag.Hash, (ulong)layout.HashOffset));
        if (Hashes != HashStyle.Sysv) dynamic.Add((DynamicTag.GnuHash, (ulong)layout.GnuHashOffset));
        dynamic.Add((DynamicTag.StrTab, (ulong)layout.DynstrOffset));
        dynamic.Add((DynamicTag.SymTab, (ulong)layout.DynsymOffset));
        dynamic.Add((DynamicTag.StrSz, (ulong)layout.DynstrSize));
        dynamic.Add((DynamicTag.SymEnt, (ulong)layout.SymbolEntrySize));
        dynamic.Add((DynamicTag.Rela, (ulong)layout.RelaOffset));
        dynamic.Add((DynamicTag.RelaSz, (ulong)layout.RelaSize));
        dynamic.Add((DynamicTag.RelaEnt, (ulong)layout.RelaEntrySize));
        dynamic.Add((DynamicTag.JmpRel, (ulong)layout.JmprelOffset));
        dynamic.Add((DynamicTag.PltRelSz, (ulong)layout.JmprelSize));
        dynamic.Add((DynamicTag.PltRel, (ulong)DynamicTag.Rela));
        if (Relr)
        {
            dynamic.Add((DynamicTag.Relr, (ulong)layout.RelrOffset));
            dynamic.Add((DynamicTag.RelrSz, (ulong)layout.RelrSize));
            dynamic.Add((DynamicTag.RelrEnt, (ulong)WordSize));
        }
        if (Versions)
        {
            dynamic.Add((DynamicTag.VerSym, (ulong)layout.VersymOffset));
            dynamic.Add((DynamicTag.VerDef, (ulong)layout.VerdefOffset));
            dynamic.Add((DynamicTag.VerDefNum, 2));
            dynamic.Add((DynamicTag.VerNeed, (ulong)layout.VerneedOffset));
            dynamic.Add((DynamicTag.VerNeedNum, 1));
        }
        dynamic.AddRange(ExtraDynamic);
        dynamic.Add((DynamicTag.Null, 0));
        if (dynamic.Count > layout.DynamicCount)
            throw new InvalidOperationException("too many dynamic entries");
        while (dynamic.Count < layout.DynamicCount)
            dynamic.Add((DynamicTag.Null, 0));
        return dynamic;
    }

    private void WriteDynamic(BuiltElf image, ElfLayout layout, List<(DynamicTag Tag, ulong Value)> dynamic)
    {
        for (int i = 0; i < dynamic.Count; i++)
        {
            int o = layout.DynamicOffset + i * layout.DynamicEntrySize;
            image.WriteWord(o, (ulong)(long)dynamic[i].Tag);
            image.WriteWord(o + WordSize, dynamic[i].Value);
        }
    }

    /// <summary>A string table under construction: "\0" first, each string once.</summary>
    private sealed class StringTableBuilder
    {
        private readonly List<byte> _bytes = [0];
        private readonly Dictionary<string, uint> _offsets = new() { [""] = 0 };

        public uint this[string s] => _offsets[s];

        public void Add(string s)
        {
            if (_offsets.ContainsKey(s))
                return;
            _offsets[s] = (uint)_bytes.Count;
            _bytes.AddRange(Encoding.UTF8.GetBytes(s));
            _bytes.Add(0);
        }

        public byte[] ToArray() => [.. _bytes];
    }
}
