using System.Runtime.InteropServices;
using Loader.Elf;
using Loader.Linking;
using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// The glibc differential test's rule for TLS relocations, where the two loaders' values are not the same numbers but
/// must mean the same thing: a module ID names the same module (ours: the module's <see cref="ElfLibrary.Tls"/>, or the
/// host's glibc ID; glibc's: its copy's ID); a DTPOFF is the same offset; a static offset (TPOFF64, a static TLSDESC's
/// argument) lands at the same place in the same block — for a host block the very same address, for a module's own
/// block the same offset from its start (ours from <see cref="TlsBlock.StaticOffset"/>, glibc's from its copy's block
/// in this thread).
/// </summary>
internal static class TlsRelocations
{
    public static bool IsTls(X86_64RelocationType type) => type is X86_64RelocationType.DtpMod64 or X86_64RelocationType.DtpOff64
        or X86_64RelocationType.TpOff64 or X86_64RelocationType.TlsDesc;

    /// <summary>Null when <paramref name="r"/> (ours) and glibc's value at <paramref name="theirSlot"/> agree, else why not.</summary>
    public static string? Compare(ElfLibrary library, AppliedRelocation r, nint theirSlot, Dictionary<string, Glibc.LoadedObject> glibc)
    {
        if (r.DefinedBy is not { } definer)
            return null; // an unresolved weak reference: both leave the slot alone
        ulong ours = (ulong)Marshal.ReadInt64(r.Address), theirs = (ulong)Marshal.ReadInt64(theirSlot);
        nint glibcCopy = Glibc.OpenLoaded(definer.IsHost ? definer.Path : glibc[Glibc.RealPath(definer.Path)].RealPath);
        if (glibcCopy == 0)
            return $"glibc has no copy of the definer {definer.Path} to compare with";
        try
        {
            var ourBlock = definer.IsHost ? null : BlockOf(library, definer);
            switch (r.Type)
            {
                case X86_64RelocationType.DtpMod64:
                {
                    ulong expected = definer.IsHost ? Glibc.TlsModuleId(glibcCopy) : ourBlock!.ModuleId;
                    ulong theirExpected = Glibc.TlsModuleId(glibcCopy);
                    return ours == expected && theirs == theirExpected ? null
                        : $"module ID: Loader {ours} (expected {expected}, {definer.Name}), glibc {theirs} (expected {theirExpected})";
                }
                case X86_64RelocationType.DtpOff64:
                    return ours == theirs ? null : $"offset in the block: Loader 0x{ours:x}, glibc 0x{theirs:x}";
                case X86_64RelocationType.TpOff64:
                    return SameStaticPlace(definer, ourBlock, ours, theirs, glibcCopy);
                case X86_64RelocationType.TlsDesc:
                {
                    // The argument: an offset from the thread pointer (static), or a pointer to a tls_index
                    // {module ID, offset} (dynamic: ours, and glibc's tlsdesc_dynamic_arg begins with one).
                    ulong ourArgument = (ulong)Marshal.ReadInt64(r.Address + 8), theirArgument = (ulong)Marshal.ReadInt64(theirSlot + 8);
                    if (definer.IsHost || ourBlock!.Model == TlsModel.Static)
                        return IsStaticOffset(theirArgument) ? SameStaticPlace(definer, ourBlock, ourArgument, theirArgument, glibcCopy)
                            : $"Loader: static TLSDESC; glibc: dynamic (argument 0x{theirArgument:x})";
                    ulong ourId = (ulong)Marshal.ReadInt64((nint)ourArgument), ourOffset = (ulong)Marshal.ReadInt64((nint)ourArgument + 8);
                    if (ourId != ourBlock.ModuleId)
                        return $"Loader's tls_index names module {ourId}, not {definer.Name}'s {ourBlock.ModuleId}";
                    if (IsStaticOffset(theirArgument))
                        return $"Loader: dynamic TLSDESC; glibc: static (argument 0x{theirArgument:x})";
                    ulong theirId = (ulong)Marshal.ReadInt64((nint)theirArgument), theirOffset = (ulong)Marshal.ReadInt64((nint)theirArgument + 8);
                    return theirId == Glibc.TlsModuleId(glibcCopy) && ourOffset == theirOffset ? null
                        : $"dynamic TLSDESC: Loader offset 0x{ourOffset:x}, glibc module {theirId} offset 0x{theirOffset:x}";
                }
                default:
                    return $"not a TLS relocation: {r.Type}";
            }
        }
        finally
        {
            Glibc.Close(glibcCopy);
        }
    }

    // x86_64 static TLS lies below the thread pointer, within a few MiB; a pointer to a tls_index is a positive address.
    private static bool IsStaticOffset(ulong argument) => (long)argument < 0 && (long)argument > -(1L << 30);

    private static string? SameStaticPlace(ModuleInfo definer, TlsBlock? ourBlock, ulong ours, ulong theirs, nint glibcCopy)
    {
        if (definer.IsHost)
            return ours == theirs ? null : $"offset from the thread pointer into {definer.Name}'s static block: Loader 0x{ours:x}, glibc 0x{theirs:x}";
        if (ourBlock?.StaticOffset is not { } ourStart)
            return $"Loader gave {definer.Name} no static TLS block";
        nint theirBlock = Glibc.TlsBlock(glibcCopy);
        if (theirBlock == 0 && TouchBlock(glibcCopy, definer.Path))
            theirBlock = Glibc.TlsBlock(glibcCopy);
        if (theirBlock == 0)
            return $"glibc's copy of {definer.Name} has no TLS block in this thread";
        long theirStart = (long)theirBlock - (long)Glibc.ThreadPointer();
        long ourInside = (long)ours - ourStart, theirInside = (long)theirs - theirStart;
        return ourInside == theirInside && ourInside >= 0 && (ulong)ourInside <= ourBlock.Size ? null
            : $"place in {definer.Name}'s static block: Loader +0x{ourInside:x}, glibc +0x{theirInside:x}";
    }

    /// <summary>
    /// dlinfo(RTLD_DI_TLS_DATA) is NULL until the calling thread has used the block, even a static one; glibc's
    /// <c>dlsym</c> of a TLS symbol goes through <c>__tls_get_addr</c>, which sets the thread's entry up.
    /// </summary>
    private static bool TouchBlock(nint glibcCopy, string path)
    {
        using var file = ElfFile.Open(path);
        var symbols = file.DynamicSymbols!;
        for (int i = 1; i < symbols.Count; i++)
            if (symbols[i].Type == SymbolType.Tls && !symbols[i].IsUndefined && symbols[i].Binding != SymbolBinding.Local)
                return Glibc.Symbol(glibcCopy, symbols.GetName(i)) != 0;
        return false;
    }

    /// <summary>The TLS block Loader gave <paramref name="definer"/>: the library's own, or a dependency's (a new handle on
    /// the same image, dropped at once).</summary>
    private static TlsBlock? BlockOf(ElfLibrary library, ModuleInfo definer)
    {
        if (definer == library.Module)
            return library.Tls;
        using var handle = library.Context.Load(definer.Path);
        return handle.Tls;
    }
}
