namespace Loader.Mapping;

/// <summary>An executable segment where it is mapped: <c>[Start, End)</c> (what an unwind table's FDE may describe).</summary>
internal readonly record struct CodeRange(ulong Start, ulong End);
