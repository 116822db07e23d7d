namespace Loader.Tests.Elf;

// Symbol versions: DT_VERSYM, two definitions (DT_VERDEF) and one needed version (DT_VERNEED).
public sealed partial class ElfImageBuilder
{
    private const string DefinedVersion = "LIBTEST_1.0";
    private const string NeededVersion = "GLIBC_2.2.5";

    private void WriteVersions(BuiltElf image, ElfLayout layout, List<TestSymbol> symbols, StringTableBuilder dynstr)
    {
        for (int i = 0; i < symbols.Count; i++)
            image.WriteU16(layout.VersymOffset + i * 2, symbols[i].VersionIndex);
        // Verdef 1: the base (VER_FLG_BASE, the soname); Verdef 2: LIBTEST_1.0. Each with one Verdaux.
        int verdef = layout.VerdefOffset;
        WriteVerdef(image, verdef, flags: 1, ndx: 1, SysvHash(SoName), next: 28, dynstr[SoName]);
        WriteVerdef(image, verdef + 28, flags: 0, ndx: 2, SysvHash(DefinedVersion), next: 0, dynstr[DefinedVersion]);
        // Verneed: libc.so.6 with one Vernaux, GLIBC_2.2.5 as index 3.
        int verneed = layout.VerneedOffset;
        image.WriteU16(verneed, 1); image.WriteU16(verneed + 2, 1);
        image.WriteU32(verneed + 4, dynstr["libc.so.6"]); image.WriteU32(verneed + 8, 16); image.WriteU32(verneed + 12, 0);
        int a = verneed + 16;
        image.WriteU32(a, SysvHash(NeededVersion)); image.WriteU16(a + 4, 0); image.WriteU16(a + 6, 3);
        image.WriteU32(a + 8, dynstr[NeededVersion]); image.WriteU32(a + 12, 0);
    }

    private static void WriteVerdef(BuiltElf image, int o, ushort flags, ushort ndx, uint hash, uint next, uint name)
    {
        image.WriteU16(o, 1); image.WriteU16(o + 2, flags); image.WriteU16(o + 4, ndx); image.WriteU16(o + 6, 1);
        image.WriteU32(o + 8, hash); image.WriteU32(o + 12, 20); image.WriteU32(o + 16, next);
        image.WriteU32(o + 20, name); image.WriteU32(o + 24, 0);
    }
}
