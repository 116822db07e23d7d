namespace Loader.Mapping;

/// <summary>
/// What the mapper's <see cref="UnwindTableCheck"/> found before the overlays replaced the pages it read: the
/// link-time address of <c>.eh_frame</c> to register, or null for nothing to register.
/// </summary>
internal readonly record struct CheckedUnwindTable(ulong? Start);
