using Loader.Elf;

namespace Loader.Linking;

/// <summary>
/// One relocation as Loader applied it: where, which type, against which symbol and version, which module defined
/// the symbol, and the value written. Enough to compare with another loader's result entry by entry (normalized as
/// defining module and value − that module's base) and to render <c>LD_DEBUG=bindings</c>-style output.
/// </summary>
/// <param name="Table">The table it came from: DT_RELA, DT_REL, DT_JMPREL or DT_RELR.</param>
/// <param name="Offset">r_offset: the link-time address patched.</param>
/// <param name="Address">The absolute address patched (base + r_offset).</param>
/// <param name="Type">The x86_64 relocation type.</param>
/// <param name="Symbol">The symbol's name, or null for a relocation without a symbol (RELATIVE, IRELATIVE, RELR).</param>
/// <param name="Version">The version the reference asked for (DT_VERNEED), or null.</param>
/// <param name="DefinedBy">The module whose definition was used; the library itself for RELATIVE/IRELATIVE; null
/// for an unresolved weak reference (value 0).</param>
/// <param name="Value">The value written (zero-extended for 32-bit types).</param>
public sealed record AppliedRelocation(
    string Table, ulong Offset, nint Address, X86_64RelocationType Type, string? Symbol, string? Version, ModuleInfo? DefinedBy, ulong Value)
{
    /// <summary>Value − DefinedBy.BaseAddress: the value as an offset into the defining module (0 when there is none).</summary>
    public ulong ValueOffset => DefinedBy is null ? Value : Value - (ulong)DefinedBy.BaseAddress;
}
