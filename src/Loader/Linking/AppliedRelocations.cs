using Loader.Elf;

namespace Loader.Linking;

/// <summary>
/// The relocations applied to a module, derived on demand — the relocation loop records nothing per entry — from
/// its tables, the value now at each target, and the module each symbol index bound to
/// (<see cref="Module.SymbolDefinitions"/>): DT_RELR first, then each REL/RELA table in order, as applied.
/// </summary>
internal static class AppliedRelocations
{
    /// <summary>Every relocation of <paramref name="module"/>; empty for a host library or a module not relocated.</summary>
    public static List<AppliedRelocation> Read(Module module)
    {
        var result = new List<AppliedRelocation>();
        if (module.Tables is not { } tables || module.Image is not { } image || !module.Relocated)
            return result;
        var memory = image.Memory;
        ulong bias = (ulong)module.Base;
        foreach (ulong offset in tables.Relr?.DecodeAddresses() ?? [])
            result.Add(new AppliedRelocation("DT_RELR", offset, (nint)(bias + offset), X86_64RelocationType.Relative,
                null, null, module.Info, memory.ReadUInt64((nint)(bias + offset))));
        foreach (var table in tables.RelocationTables)
        {
            foreach (var r in table)
            {
                var type = (X86_64RelocationType)r.Type;
                if (type == X86_64RelocationType.None)
                    continue;
                nint address = (nint)(bias + r.Offset);
                ulong value = X86_64Relocations.ValueSize(type) == 4 ? memory.ReadUInt32(address) : memory.ReadUInt64(address);
                string? symbol = r.SymbolIndex == 0 ? null : tables.Symbols!.GetName((int)r.SymbolIndex);
                var version = r.SymbolIndex == 0 ? SymbolVersion.None : tables.GetSymbolVersion((int)r.SymbolIndex);
                var definedBy = r.SymbolIndex == 0 ? module : module.SymbolDefinitions[r.SymbolIndex];
                result.Add(new AppliedRelocation(table.Name, r.Offset, address, type, symbol,
                    version.Kind == SymbolVersionKind.None ? null : version.Name, definedBy?.Info, value));
            }
        }
        return result;
    }
}
