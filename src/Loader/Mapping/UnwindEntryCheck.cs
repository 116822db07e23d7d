using static Loader.Mapping.PointerEncoding;

namespace Loader.Mapping;

/// <summary>
/// What libgcc reads of each <c>.eh_frame</c> entry when it sorts a registered table, at the first unwind anywhere in
/// the process (unwind-dw2-fde.c: <c>classify_object_over_fdes</c> and <c>add_fdes</c>, then <c>linear_search_fdes</c>
/// or the binary search): an FDE's CIE pointer, followed wherever it leads (<c>get_cie</c>); that CIE's augmentation up
/// to its <c>R</c> (<c>get_cie_encoding</c>: a string, LEB128s, a personality pointer skipped by its own encoding); and
/// the FDE's <c>pc_begin</c> and <c>pc_range</c> in the encoding found there. A CIE pointer that does not lead to a CIE
/// of the table, a field past its entry, an encoding libgcc aborts on (a value format it has no case for; a base it does
/// not know, such as funcrel) or dereferences (indirect) would stop the process at some other code's throw, without a
/// line of this library having run: such a table is not registered. The rest of a CIE (its instructions, the LSDA) is
/// read only to unwind a frame of this library, which its own code must be running for.
/// </summary>
internal ref struct UnwindEntryCheck
{
    private const int Invalid = -1;
    private const int PointerSize = 8;

    // The CIEs walked so far (a table has few: ld merges identical ones): each one's position and the encoding its FDEs'
    // pc_begin and pc_range are read in, or Invalid. Beyond the caller's buffers, a dictionary.
    private readonly Span<long> _positions;
    private readonly Span<int> _encodings;
    private int _count;
    private Dictionary<long, int>? _more;
    // The table's link-time address: a personality pointer in DW_EH_PE_aligned is aligned in memory.
    private readonly ulong _tableAddress;

    public UnwindEntryCheck(Span<long> positions, Span<int> encodings, ulong tableAddress)
    {
        _positions = positions;
        _encodings = encodings;
        _tableAddress = tableAddress;
    }

    /// <summary>A CIE at <paramref name="position"/> of the table: <paramref name="entry"/> is its bytes after the
    /// length (the CIE id first).</summary>
    public void AddCie(long position, ReadOnlySpan<byte> entry)
    {
        int encoding = FdeEncoding(entry, _tableAddress + (ulong)position + 4);
        if (_count < _positions.Length)
        {
            _positions[_count] = position;
            _encodings[_count] = encoding;
            _count++;
        }
        else
        {
            (_more ??= [])[position] = encoding;
        }
    }

    /// <summary>
    /// The encoding libgcc reads the addresses of an FDE whose CIE pointer leads to <paramref name="cie"/> in (a
    /// position in the table: libgcc's <c>(char *) &amp;fde->CIE_delta - fde->CIE_delta</c>), or -1 when that is no
    /// CIE of the table, or one whose FDEs libgcc cannot read. The caller keeps the last answer: an FDE nearly always
    /// names the CIE the one before it did.
    /// </summary>
    public readonly int FdeEncodingOf(long cie) => Find(cie);

    /// <summary>The least length (after the length field) of an FDE whose addresses are in <paramref name="encoding"/>:
    /// the CIE pointer, then <c>pc_begin</c> and <c>pc_range</c>.</summary>
    public static int MinimumFdeLength(int encoding) => 4 + 2 * FixedSize(encoding);

    /// <summary>
    /// Whether the code an FDE describes lies inside <paramref name="code"/> (the image's executable segments, where it
    /// is mapped), as libgcc reads its <c>pc_begin</c> and <c>pc_range</c> (<paramref name="fields"/>, at
    /// <paramref name="fieldAddress"/>): an FDE whose range covered another object's code would be the one libgcc
    /// unwinds that code's frames with, at any throw. An FDE libgcc skips (its <c>pc_begin</c> 0 in the encoded
    /// bits: a link-once function the linker removed) describes nothing.
    /// </summary>
    public static bool DescribesOnly(ReadOnlySpan<byte> fields, ulong fieldAddress, int encoding, ReadOnlySpan<CodeRange> code)
    {
        int size = FixedSize(encoding);
        ulong raw = Read(fields, encoding);
        if (raw == 0)
            return true; // read_encoded_value_with_base leaves 0 as it is, and libgcc skips the FDE
        // pcrel: from the field itself; absptr, textrel and datarel: libgcc's bases for a registered table are 0.
        ulong begin = (encoding & ApplicationMask) == PcRel ? fieldAddress + raw : raw;
        ulong mask = size < 8 ? (1UL << (size * 8)) - 1 : ulong.MaxValue;
        if ((begin & mask) == 0)
            return true;
        ulong range = Read(fields[size..], encoding); // read with the format alone (encoding & 0x0f)
        foreach (var segment in code)
            if (begin >= segment.Start && begin <= segment.End && range <= segment.End - begin)
                return true;
        return false;
    }

    private readonly int Find(long cie)
    {
        for (int i = 0; i < _count; i++)
            if (_positions[i] == cie)
                return _encodings[i];
        return _more is not null && _more.TryGetValue(cie, out int encoding) ? encoding : Invalid; // not a CIE of the table
    }

    /// <summary>
    /// <c>get_cie_encoding</c> on the CIE's bytes (after its length): the encoding of its FDEs' addresses, or Invalid
    /// when libgcc would read past the entry, stop on it, or give up on the table (DW_EH_PE_omit).
    /// </summary>
    private static int FdeEncoding(ReadOnlySpan<byte> cie, ulong address)
    {
        // CIE id (4), version (1), the augmentation string.
        if (cie.Length < 6)
            return Invalid;
        byte version = cie[4];
        int terminator = cie[5..].IndexOf((byte)0);
        if (terminator < 0)
            return Invalid; // libgcc's strlen would run on past the entry
        var augmentation = cie.Slice(5, terminator);
        int at = 5 + terminator + 1;
        if (version >= 4)
        {
            // libgcc gives the table up (DW_EH_PE_omit) unless address size 8 and segment size 0 follow.
            if (at + 2 > cie.Length || cie[at] != PointerSize || cie[at + 1] != 0)
                return Invalid;
            at += 2;
        }
        if (augmentation.IsEmpty || augmentation[0] != (byte)'z')
            return ValidFdeEncoding(0); // DW_EH_PE_absptr, nothing more read
        if (!SkipLeb128(cie, ref at) || !SkipLeb128(cie, ref at)) // code and data alignment
            return Invalid;
        if (version == 1)
            at++; // the return address column, one byte
        else if (!SkipLeb128(cie, ref at))
            return Invalid;
        if (!SkipLeb128(cie, ref at)) // the augmentation data's length
            return Invalid;
        foreach (byte letter in augmentation[1..])
        {
            switch (letter)
            {
                case (byte)'R':
                    return at < cie.Length ? ValidFdeEncoding(cie[at]) : Invalid;
                case (byte)'P':
                    // The personality pointer, skipped in its own encoding without the indirect bit (never dereferenced).
                    if (at >= cie.Length)
                        return Invalid;
                    byte personality = (byte)(cie[at] & 0x7f);
                    at++;
                    if (!SkipEncoded(cie, ref at, personality, address))
                        return Invalid;
                    break;
                case (byte)'L' or (byte)'B':
                    at++; // the LSDA's encoding, the pointer-authentication key: skipped unread
                    break;
                default:
                    return ValidFdeEncoding(0); // an augmentation libgcc does not know: it reads absptr addresses
            }
        }
        return ValidFdeEncoding(0); // no 'R': absptr
    }

    /// <summary>
    /// An FDE address encoding libgcc reads without stopping or dereferencing: not omit, not indirect, a base
    /// <c>base_from_object</c> knows other than aligned (absptr, pcrel, textrel, datarel), and a fixed-size format both
    /// <c>size_of_encoded_value</c> and <c>read_encoded_value_with_base</c> have a case for.
    /// </summary>
    private static int ValidFdeEncoding(byte encoding)
    {
        if (encoding == Omit || (encoding & Indirect) != 0 || (encoding & ApplicationMask) > DataRel)
            return Invalid;
        return FixedSize(encoding) > 0 ? encoding : Invalid;
    }


    /// <summary><c>read_encoded_value_with_base</c>'s advance over one value, inside <paramref name="bytes"/>.</summary>
    private static bool SkipEncoded(ReadOnlySpan<byte> bytes, ref int at, byte encoding, ulong address)
    {
        if (encoding == Aligned)
        {
            // Aligned to a pointer in memory (the image keeps the link-time address's alignment), then one pointer.
            int padding = (int)((PointerSize - ((address + (ulong)at) % PointerSize)) % PointerSize);
            at += padding + PointerSize;
            return at <= bytes.Length;
        }
        int size = FixedSize(encoding);
        if (size < 0) // a format libgcc aborts on
            return false;
        if (size == 0)
            return SkipLeb128(bytes, ref at);
        at += size;
        return at <= bytes.Length;
    }

    /// <summary>Past one LEB128 value (the last byte has bit 7 clear), which must end inside <paramref name="bytes"/>.</summary>
    private static bool SkipLeb128(ReadOnlySpan<byte> bytes, ref int at)
    {
        while (at < bytes.Length)
        {
            if ((bytes[at++] & 0x80) == 0)
                return true;
        }
        return false;
    }
}

