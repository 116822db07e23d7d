using System.Runtime.CompilerServices;
using Loader.Native;

namespace Loader.Elf;

/// <summary>
/// A table's bytes: the <see cref="ReadOnlyMemory{T}"/> the reader was given and, when that is native memory (a
/// mapped image, a host library), its address, so that <see cref="Span"/> on the lookup and relocation paths is a
/// pointer and a length rather than a virtual call.
/// </summary>
internal readonly struct TableBytes
{
    private readonly NativeBytes _native;

    public TableBytes(ReadOnlyMemory<byte> memory)
    {
        Memory = memory;
        _native = NativeBytes.Of(memory);
    }

    public static implicit operator TableBytes(ReadOnlyMemory<byte> memory) => new(memory);

    public ReadOnlyMemory<byte> Memory { get; }

    public int Length => Memory.Length;

    public ReadOnlySpan<byte> Span
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _native.IsNative ? _native.Span : Memory.Span;
    }
}
