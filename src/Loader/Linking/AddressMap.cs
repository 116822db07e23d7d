namespace Loader.Linking;

/// <summary>
/// A map from one address to another (IFUNC resolver to result, dynamic section to dlopen handle), kept as two arrays
/// sorted by key. Not a <c>Dictionary&lt;nint, nint&gt;</c>: that type makes the runtime build the default comparer
/// for <see cref="nint"/> by reflection, whose code the JIT compiles on the first load (docs/benchmarks.md, "Cold
/// start"). The maps hold tens to a few hundred entries, so a binary search and an insertion that shifts are cheap.
/// Not thread-safe: each owner holds its lock around it.
/// </summary>
internal sealed class AddressMap
{
    private nint[] _keys = new nint[8];
    private nint[] _values = new nint[8];
    private int _count;

    public int Count => _count;

    /// <summary>The value of <paramref name="key"/>; false when it has none.</summary>
    public bool TryGetValue(nint key, out nint value)
    {
        int i = IndexOf(key);
        value = i >= 0 ? _values[i] : 0;
        return i >= 0;
    }

    public bool ContainsKey(nint key) => IndexOf(key) >= 0;

    /// <summary>Sets the value of <paramref name="key"/>, adding the key or replacing its value.</summary>
    public void Set(nint key, nint value)
    {
        int i = IndexOf(key);
        if (i >= 0)
            _values[i] = value;
        else
            Insert(~i, key, value);
    }

    /// <summary>Adds <paramref name="key"/>; false, changing nothing, when it is there already.</summary>
    public bool TryAdd(nint key, nint value)
    {
        int i = IndexOf(key);
        if (i >= 0)
            return false;
        Insert(~i, key, value);
        return true;
    }

    /// <summary>Removes every key in [<paramref name="start"/>, <paramref name="end"/>) (unsigned addresses).</summary>
    public void RemoveRange(nint start, nint end)
    {
        int from = IndexOf(start);
        if (from < 0)
            from = ~from;
        int to = from;
        while (to < _count && (nuint)_keys[to] < (nuint)end)
            to++;
        if (to == from)
            return;
        Array.Copy(_keys, to, _keys, from, _count - to);
        Array.Copy(_values, to, _values, from, _count - to);
        _count -= to - from;
    }

    // The index of key, or the bitwise complement of where it would go (as Array.BinarySearch answers).
    private int IndexOf(nint key)
    {
        int low = 0, high = _count - 1;
        while (low <= high)
        {
            int middle = low + ((high - low) >> 1);
            nuint found = (nuint)_keys[middle];
            if (found == (nuint)key)
                return middle;
            if (found < (nuint)key)
                low = middle + 1;
            else
                high = middle - 1;
        }
        return ~low;
    }

    private void Insert(int index, nint key, nint value)
    {
        if (_count == _keys.Length)
        {
            var keys = new nint[_count * 2];
            var values = new nint[_count * 2];
            Array.Copy(_keys, keys, _count);
            Array.Copy(_values, values, _count);
            _keys = keys;
            _values = values;
        }
        Array.Copy(_keys, index, _keys, index + 1, _count - index);
        Array.Copy(_values, index, _values, index + 1, _count - index);
        _keys[index] = key;
        _values[index] = value;
        _count++;
    }
}
