namespace Loader.Mapping;

/// <summary>
/// One thing the mapper did to the address space, in order: the system call (or memset) with its arguments, and
/// why, in a sentence: <c>overlay PT_LOAD[1] (text) at base+0x1000</c>. A value, not an object: an image keeps its
/// steps in one array (docs/benchmarks.md, "Memory held"), and the sentence is formatted when it is read.
/// </summary>
/// <param name="Kind">What the step did.</param>
/// <param name="Address">The absolute address the call acted on (for a reservation: the address the kernel returned).</param>
/// <param name="Length">The length in bytes.</param>
/// <param name="Protection">The protection requested (mmap, mprotect); <see cref="MemoryProtection.None"/> otherwise.</param>
/// <param name="Flags">The MAP_* flags of an mmap; <see cref="MappingFlags.None"/> otherwise.</param>
/// <param name="FileOffset">The file offset of a file-backed mmap, or null.</param>
/// <param name="Reason">Why the loader did it.</param>
public readonly record struct MappingStep(
    MappingStepKind Kind,
    nint Address,
    ulong Length,
    MemoryProtection Protection,
    MappingFlags Flags,
    ulong? FileOffset,
    string Reason)
{
    // An image keeps every step it made: the fields are as narrow as their values (a kind and a PROT_* set fit a
    // byte; no file offset is ulong.MaxValue, since mmap's is page-aligned and below 2^63; a reason's second number is
    // a PT_LOAD's index), so a step is 56 bytes.
    private readonly byte _kind = checked((byte)Kind);
    private readonly byte _protection = checked((byte)Protection);
    private readonly ulong _fileOffset = FileOffset ?? NoFileOffset;
    private const ulong NoFileOffset = ulong.MaxValue;

    /// <summary>What the step did.</summary>
    public MappingStepKind Kind
    {
        get => (MappingStepKind)_kind;
        init => _kind = checked((byte)value);
    }

    /// <summary>The protection requested (mmap, mprotect); <see cref="MemoryProtection.None"/> otherwise.</summary>
    public MemoryProtection Protection
    {
        get => (MemoryProtection)_protection;
        init => _protection = checked((byte)value);
    }

    /// <summary>The file offset of a file-backed mmap, or null.</summary>
    public ulong? FileOffset
    {
        get => _fileOffset == NoFileOffset ? null : _fileOffset;
        init => _fileOffset = value ?? NoFileOffset;
    }

    // A step the mapper records says why lazily: the sentence is formatted from these when someone reads Reason (the
    // trace, the CLI), not on every load. Without a format, the reason is the text itself.
    private readonly string? _reasonFormat;
    private readonly ulong _reasonA;
    private readonly ushort _reasonB;
    private readonly string? _reasonText = Reason;

    /// <summary>A step whose <see cref="Reason"/> is <c>string.Format(format, a, b, text)</c>, formatted when read.</summary>
    internal MappingStep(MappingStepKind kind, nint address, ulong length, MemoryProtection protection, MappingFlags flags,
        ulong? fileOffset, string reasonFormat, ulong reasonA, ulong reasonB = 0, string? reasonText = null)
        : this(kind, address, length, protection, flags, fileOffset, reasonText!)
    {
        if (reasonB > ushort.MaxValue)
        {
            // An index past 65,535 (extended numbering): said now rather than widen every step.
            _reasonText = CultureFreeText.Format(reasonFormat, reasonA, reasonB, reasonText);
            return;
        }
        _reasonFormat = reasonFormat;
        _reasonA = reasonA;
        _reasonB = (ushort)reasonB;
    }

    /// <summary>Why the loader did it.</summary>
    public string Reason
    {
        get => _reasonFormat is null
            ? _reasonText ?? ""
            : CultureFreeText.Format(_reasonFormat, _reasonA, _reasonB, _reasonText);
        init
        {
            _reasonFormat = null;
            _reasonText = value;
        }
    }

    /// <summary>Steps are equal when what they say is equal, however their reason was made.</summary>
    public bool Equals(MappingStep other) =>
        Kind == other.Kind && Address == other.Address && Length == other.Length
        && Protection == other.Protection && Flags == other.Flags && FileOffset == other.FileOffset && Reason == other.Reason;

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Kind, Address, Length, Protection, Flags, FileOffset, Reason);

    /// <summary>The system call this step made (<c>mmap</c>, <c>mprotect</c>, <c>munmap</c>), or null for a memset.</summary>
    public string? SystemCall => Kind switch
    {
        MappingStepKind.Reserve or MappingStepKind.Overlay or MappingStepKind.MapBss or MappingStepKind.RestoreReservation
            or MappingStepKind.MapSharedRelro or MappingStepKind.RestorePrivateRelro => "mmap",
        MappingStepKind.UseReservation => "mincore",
        MappingStepKind.WriteRelro => "pwrite",
        MappingStepKind.SealRelro => "fcntl",
        MappingStepKind.UnprotectForZeroing or MappingStepKind.RestoreProtection or MappingStepKind.ProtectRelro => "mprotect",
        MappingStepKind.Trim or MappingStepKind.Unmap => "munmap",
        _ => null,
    };

    /// <summary>The call as strace would print it (with <c>fd</c> for the descriptor), then the reason.</summary>
    public override string ToString()
    {
        // Hexadecimal and strings only: no culture is asked (CultureFreeText).
        string call = SystemCall switch
        {
            "mmap" => $"mmap({(Kind == MappingStepKind.Reserve ? "NULL" : $"0x{Address:x}")}, 0x{Length:x}, "
                + $"{Protection.ToCString()}, {Flags.ToCString()}, {(FileOffset is null ? "-1" : "fd")}, 0x{FileOffset ?? 0:x})",
            "mprotect" => $"mprotect(0x{Address:x}, 0x{Length:x}, {Protection.ToCString()})",
            "munmap" => $"munmap(0x{Address:x}, 0x{Length:x})",
            "mincore" => $"mincore(0x{Address:x}, 0x{Length:x}, vec)",
            "pwrite" => $"pwrite(fd, 0x{Address:x}, 0x{Length:x}, 0x{FileOffset ?? 0:x})",
            "fcntl" => "fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE|F_SEAL_SHRINK|F_SEAL_GROW)",
            _ => $"memset(0x{Address:x}, 0, 0x{Length:x})",
        };
        string result = Kind is MappingStepKind.Reserve ? $" = 0x{Address:x}" : "";
        return $"{call}{result}  # {Reason}";
    }
}
