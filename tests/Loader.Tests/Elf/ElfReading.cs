using Loader.Elf;

namespace Loader.Tests.Elf;

/// <summary>Touches every part of a file the reader decodes lazily, so lazy checks run too.</summary>
internal static class ElfReading
{
    public static void ReadEverything(ElfFile file)
    {
        _ = file.SoName;
        if (file.DynamicSymbols is { } symbols)
        {
            for (int i = 0; i < symbols.Count; i++)
            {
                var s = symbols[i];
                string name = symbols.GetName(i);
                _ = file.GetSymbolVersion(i);
                if (!s.IsUndefined && s.Binding != SymbolBinding.Local && name.Length > 0)
                    file.FindDefinedSymbol(name);
            }
        }
        foreach (var table in file.RelocationTables)
            foreach (var r in table)
                if (r.SymbolIndex != 0)
                    _ = file.DynamicSymbols!.GetName((int)r.SymbolIndex);
        file.Relr?.DecodeAddresses();
    }
}
