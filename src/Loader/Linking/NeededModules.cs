using System.Collections;

namespace Loader.Linking;

/// <summary>
/// The modules that satisfy a module's DT_NEEDED entries, in order (<see cref="Module.Needed"/>): a view of its edges,
/// so a module keeps one array for them rather than a list of modules beside its edges. <c>foreach</c> over it makes
/// no enumerator object.
/// </summary>
internal readonly struct NeededModules(Module.NeededEdge[] edges, int count) : IReadOnlyList<Module>
{
    public int Count => count;

    public Module this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)count, nameof(index));
            return edges[index].Module;
        }
    }

    public Enumerator GetEnumerator() => new(edges, count);

    IEnumerator<Module> IEnumerable<Module>.GetEnumerator() => GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public struct Enumerator(Module.NeededEdge[] edges, int count) : IEnumerator<Module>
    {
        private int _index = -1;

        public readonly Module Current => edges[_index].Module;

        readonly object IEnumerator.Current => Current;

        public bool MoveNext() => ++_index < count;

        public void Reset() => _index = -1;

        public readonly void Dispose()
        {
        }
    }
}
