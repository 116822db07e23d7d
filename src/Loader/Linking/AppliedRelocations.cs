using Loader.Elf;

namespace Loader.Linking;

/// <summary>
/// The relocations applied to a module, derived on demand — the relocation loop records nothing per entry — from
/// its tables, the value now at each target, and the module each symbol index binds to, found again by the
/// relocator's own rule (<see cref="RelocationBinding"/>), once per symbol index per call: DT_RELR first, then each
/// REL/RELA table in order, as applied. The caller holds the namespace's lock.
/// </summary>
internal static class AppliedRelocations
{
    /// <summary>Every relocation of <paramref name="module"/>; empty for a host library or a module not relocated.</summary>
    public static List<AppliedRelocation> Read(Module module, ModuleNamespace space)
    {
        var result = new List<AppliedRelocation>();
        if (module.Tables is not { } tables || module.Image is not { } image || !module.Relocated)
            return result;
        var memory = image.Memory;
        ulong bias = (ulong)module.Base;
        var definers = new Dictionary<uint, Module?>();
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
                var definedBy = r.SymbolIndex == 0 ? module : DefinerOf(module, r.SymbolIndex, space, definers);
                result.Add(new AppliedRelocation(table.Name, r.Offset, address, type, symbol,
                    version.Kind == SymbolVersionKind.None ? null : version.Name, definedBy?.Info, value));
            }
        }
        return result;
    }

    /// <summary>The module symbol <paramref name="index"/> bound to, or null for an unresolved weak reference.</summary>
    private static Module? DefinerOf(Module module, uint index, ModuleNamespace space, Dictionary<uint, Module?> known)
    {
        if (!known.TryGetValue(index, out var definer))
            known[index] = definer = RelocationBinding.TryFind(module, (int)index, space, out var found) ? found.Module : null;
        return definer;
    }
}
