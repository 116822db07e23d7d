using Loader.Elf;

namespace Loader.Linking;

/// <summary>What the x86_64 psABI says of each relocation type that the relocator and the relocation listing share:
/// how many bytes its value takes at the target, and its name as the ABI (and readelf) spells it.</summary>
internal static class X86_64Relocations
{
    /// <summary>The size of the value the relocation writes (the psABI's word64 or word32 field, a TLSDESC's two words); 0 for
    /// <c>R_X86_64_NONE</c> and for the types Loader does not apply.</summary>
    public static int ValueSize(X86_64RelocationType type) => type switch
    {
        X86_64RelocationType.R64 or X86_64RelocationType.GlobDat or X86_64RelocationType.JumpSlot
            or X86_64RelocationType.Relative or X86_64RelocationType.IRelative
            or X86_64RelocationType.DtpMod64 or X86_64RelocationType.DtpOff64 or X86_64RelocationType.TpOff64 => 8,
        X86_64RelocationType.TlsDesc => 16, // a descriptor: the resolver, then its argument
        X86_64RelocationType.PC32 or X86_64RelocationType.R32 or X86_64RelocationType.R32S => 4,
        _ => 0,
    };

    /// <summary>The psABI's name (<c>R_X86_64_GLOB_DAT</c>), or <c>relocation type N</c> for a number it does not define.</summary>
    public static string Name(X86_64RelocationType type) =>
        RelocationTypeNames.TryGetName(ElfMachine.X86_64, (uint)type, out string? name) ? name : $"relocation type {(uint)type}";
}
