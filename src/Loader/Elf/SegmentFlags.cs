namespace Loader.Elf;

/// <summary><c>p_flags</c>: the access a segment asks for.</summary>
[Flags]
public enum SegmentFlags : uint
{
    /// <summary>No access.</summary>
    None = 0,
    /// <summary>PF_X: executable.</summary>
    Execute = 1,
    /// <summary>PF_W: writable.</summary>
    Write = 2,
    /// <summary>PF_R: readable.</summary>
    Read = 4,
}
