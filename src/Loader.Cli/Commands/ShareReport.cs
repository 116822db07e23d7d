namespace Loader.Cli.Commands;

/// <summary>What <c>loader share</c> prints: the writer and every user process, each with its RELRO pages from
/// /proc/PID/smaps, and the memory the users did not need to hold privately.</summary>
/// <param name="Medium"><c>memfd</c>, <c>shm</c> or <c>file</c>.</param>
/// <param name="ShmName">The shm object's name or the file's path; null for a memfd.</param>
/// <param name="AslrDisabled">This process runs with ADDR_NO_RANDOMIZE (<c>setarch -R</c>), which its children inherit:
/// host libraries then lie at the same addresses in every process, so their pointers in RELRO match too.</param>
/// <param name="SavedBytes">Across the user processes, the resident RELRO bytes mapped from the shared file: what each
/// would otherwise hold as private dirty pages.</param>
/// <param name="SavedPerUser">The same per user process.</param>
internal sealed record ShareReport(
    string File,
    string? SoName,
    string Medium,
    string? ShmName,
    ulong RelroSize,
    ulong PageSize,
    bool AslrDisabled,
    string Export,
    List<ShareProcess> Processes,
    ulong SavedBytes,
    ulong SavedPerUser);

/// <summary>One process of <c>loader share</c>: the writer or a user.</summary>
/// <param name="Role"><c>writer</c> or <c>user</c>.</param>
/// <param name="Claimed">The user claimed the writer's address (MAP_FIXED_NOREPLACE); false: it loaded elsewhere
/// without sharing, and <see cref="WhyNot"/> says why.</param>
/// <param name="Memory">/proc/PID/smaps over the process's RELRO range; null when it could not be read.</param>
internal sealed record ShareProcess(
    string Role,
    int Pid,
    bool Claimed,
    string? WhyNot,
    ulong BaseAddress,
    ulong RelroStart,
    ulong RelroEnd,
    int PagesShared,
    int PagesPrivate,
    bool Sealed,
    string? Note,
    ulong? ExportAddress,
    string? CallResult,
    string? Error,
    ShareMemory? Memory);

/// <summary>/proc/PID/smaps summed over a RELRO range, in bytes.</summary>
internal sealed record ShareMemory(ulong Rss, ulong SharedClean, ulong SharedDirty, ulong PrivateClean, ulong PrivateDirty, ulong SharedMappingRss);

/// <summary>What a user process reports to the writer over the socket (one JSON line).</summary>
internal sealed record ShareChildReport(
    int Pid,
    bool Claimed,
    string? WhyNot,
    ulong BaseAddress,
    ulong RelroStart,
    ulong RelroEnd,
    int PagesShared,
    int PagesPrivate,
    bool Sealed,
    string? Note,
    ulong? ExportAddress,
    string? CallResult,
    string? Error);
