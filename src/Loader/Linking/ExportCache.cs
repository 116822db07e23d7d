namespace Loader.Linking;

/// <summary>
/// A handle's recent <c>GetExport</c> answers, name to address: what glibc's <c>dlsym</c> cannot keep (its handle's
/// answers are not fixed) but a Loader handle can, since its search list, its unique symbols and its resolvers'
/// results do not change while it is held. A small direct-mapped table (a name's slot is a few bits of the GNU hash
/// the lookup computes anyway): a hit costs a read and a comparison and allocates nothing; a collision replaces the
/// older answer. Readers take no lock: a slot holds an immutable entry, written whole.
/// </summary>
internal sealed class ExportCache
{
    private const int SlotCount = 64;

    private readonly Entry?[] _slots = new Entry?[SlotCount];

    private sealed class Entry(string name, nint address)
    {
        public readonly string Name = name;
        public readonly nint Address = address;
    }

    /// <summary>The address cached for <paramref name="name"/> (whose GNU hash is <paramref name="gnuHash"/>), if any.</summary>
    public bool TryGet(string name, uint gnuHash, out nint address)
    {
        var entry = Volatile.Read(ref _slots[Slot(gnuHash)]);
        if (entry is not null && (ReferenceEquals(entry.Name, name) || entry.Name == name))
        {
            address = entry.Address;
            return true;
        }
        address = 0;
        return false;
    }

    /// <summary>Remembers the final address of <paramref name="name"/>'s definition (after the namespace's final
    /// step: a unique symbol's first definition, an IFUNC's result).</summary>
    public void Add(string name, uint gnuHash, nint address) => Volatile.Write(ref _slots[Slot(gnuHash)], new Entry(name, address));

    // The hash's low bits follow a name's last characters; folding in the high bits spreads names that end alike.
    private static int Slot(uint gnuHash) => (int)((gnuHash ^ (gnuHash >> 16)) & (SlotCount - 1));
}
