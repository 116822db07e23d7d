using Loader.Elf;

namespace Loader.Mapping;

/// <summary>
/// What a <see cref="LoadPlan"/> reads from a file: the ELF header, the program headers, the section headers (for
/// the regions' names) and the file's length. The mapper reads just these with pread; an <see cref="ElfFile"/>
/// already holds them. A value: every load makes one, and drops it once the plan is made.
/// </summary>
internal readonly record struct PlanSource(
    string Name, ElfHeader Header, IReadOnlyList<ProgramHeader> ProgramHeaders, IReadOnlyList<SectionHeader> Sections, ulong FileLength)
{
    public static PlanSource From(ElfFile file) =>
        new(file.Name, file.Header, file.ProgramHeaders, file.Sections, (ulong)file.Bytes.Length);
}
