namespace Loader.Elf;

/// <summary><c>DT_FLAGS_1</c> bits (GNU/Solaris extension).</summary>
[Flags]
public enum DynamicFlags1 : ulong
{
#pragma warning disable CS1591 // the names are the ELF names (DF_1_*)
    None = 0,
    Now = 0x1,
    Global = 0x2,
    Group = 0x4,
    NoDelete = 0x8,
    LoadFltr = 0x10,
    InitFirst = 0x20,
    NoOpen = 0x40,
    Origin = 0x80,
    Direct = 0x100,
    Trans = 0x200,
    Interpose = 0x400,
    NoDefLib = 0x800,
    NoDump = 0x1000,
    ConfAlt = 0x2000,
    EndFiltee = 0x4000,
    DispRelDne = 0x8000,
    DispRelPnd = 0x10000,
    NoDirect = 0x20000,
    IgnMulDef = 0x40000,
    NoKsyms = 0x80000,
    NoHdr = 0x100000,
    Edited = 0x200000,
    NoReloc = 0x400000,
    SymIntpose = 0x800000,
    GlobAudit = 0x1000000,
    Singleton = 0x2000000,
    Stub = 0x4000000,
    Pie = 0x8000000,
#pragma warning restore CS1591
}
