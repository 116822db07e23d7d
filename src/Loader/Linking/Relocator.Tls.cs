using Loader.Elf;
using Loader.Native;

namespace Loader.Linking;

/// <summary>
/// The TLS relocations (x86_64 psABI, "Thread-Local Storage"): they wait until the module's own block exists, so the
/// first pass only checks their targets and resolves their symbols; then the block's carrier is made from the
/// relocated image (<see cref="TlsCarrier"/>); then they are applied. The defining module's block is the carrier's
/// (a Loader module) or glibc's own (a host library: <see cref="HostTls"/>).
/// </summary>
internal sealed partial class Relocator
{
    private DeferredRelocations _tlsDeferred; // mutated in place: not readonly

    private static bool IsTls(X86_64RelocationType type) => type is X86_64RelocationType.DtpMod64
        or X86_64RelocationType.DtpOff64 or X86_64RelocationType.TpOff64 or X86_64RelocationType.TlsDesc;

    /// <summary>First pass: the target and the symbol are checked now, the value written once the block exists.</summary>
    private void DeferTls(in RelocationTableData table, byte tableIndex, int index, Relocation r, X86_64RelocationType type)
    {
        Target(r.Offset, table.Name, type, r.SymbolIndex);
        if (r.SymbolIndex != 0)
            Resolve(r.SymbolIndex, table.Name, r.Offset, type);
        _tlsDeferred.Add(tableIndex, index);
    }

    /// <summary>The largest PT_TLS p_align accepted (64 KiB, sixteen pages).</summary>
    private const ulong LargestTlsAlignment = 64 * 1024;

    /// <summary>
    /// The module's PT_TLS (<see cref="TlsSegment"/>) becomes a block every thread has. Static (a carrier glibc places
    /// in its static TLS area) when the module's own initial-exec code needs it (a <c>TPOFF64</c> against itself, or
    /// <c>DF_STATIC_TLS</c>); TLSDESC prefers static, and falls back to dynamic when the surplus is used up. A dynamic
    /// block is Loader's own (<see cref="ServedTlsBlock"/>) under <see cref="LoadOptions.ServeDynamicTls"/>, else, or
    /// when the server has no slot free, a carrier's.
    /// </summary>
    private void SetUpTls()
    {
        if (TlsSegment.Find(_image.ProgramHeaders) is not { } segment)
            return;
        if (segment.FileSize > segment.MemorySize)
            ThrowHelper.Format(Name, "PT_TLS", segment.Offset, $"p_filesz 0x{segment.FileSize:x} is larger than p_memsz 0x{segment.MemorySize:x}");
        // glibc takes p_align as a power of two (it masks with p_align - 1) and bionic refuses one that is not; the
        // carrier is padded to the alignment, so an unbounded one would make it as large as p_align says.
        if (segment.Alignment > 1 && (segment.Alignment & (segment.Alignment - 1)) != 0)
            ThrowHelper.Format(Name, "PT_TLS p_align", segment.Offset, $"0x{segment.Alignment:x} is not a power of two");
        if (segment.Alignment > LargestTlsAlignment)
            ThrowHelper.Format(Name, "PT_TLS p_align", segment.Offset,
                $"0x{segment.Alignment:x} is larger than the 0x{LargestTlsAlignment:x} bytes a TLS block is aligned to here (bionic allows a page)");
        if (segment.MemorySize > (ulong)_options.MaxImageSize)
            ThrowHelper.Format(Name, "PT_TLS p_memsz", segment.Offset,
                $"0x{segment.MemorySize:x} is larger than the maximum image size 0x{_options.MaxImageSize:x} (MaxImageSize)");

        bool needsStatic = (_image.Dynamic!.Flags & DynamicFlags.StaticTls) != 0, wantsStatic = false;
        for (int d = 0; d < _tlsDeferred.Count; d++)
        {
            var (t, i) = _tlsDeferred[d];
            var r = _relocationTables[t - 1][i];
            var type = (X86_64RelocationType)r.Type;
            if (type is X86_64RelocationType.TpOff64 or X86_64RelocationType.TlsDesc && DefinerOf(r, _relocationTables[t - 1].Name, type) == _module)
            {
                needsStatic |= type == X86_64RelocationType.TpOff64;
                wantsStatic |= type == X86_64RelocationType.TlsDesc;
            }
        }

        ReadOnlySpan<byte> image;
        try
        {
            image = _image.GetBytes(segment.VirtualAddress, checked((int)segment.FileSize));
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or OverflowException)
        {
            ThrowHelper.Format(Name, "PT_TLS", segment.Offset, $"[0x{segment.VirtualAddress:x}, +0x{segment.FileSize:x}) is not inside a readable PT_LOAD");
            return;
        }
        if (needsStatic)
        {
            _module.Tls = TlsCarrier.Load(Name, segment, image, staticTls: true);
            return;
        }
        if (!wantsStatic)
        {
            _module.Tls = DynamicBlock(segment, image);
            return;
        }
        try
        {
            _module.Tls = TlsCarrier.Load(Name, segment, image, staticTls: true);
        }
        catch (LoaderException)
        {
            _module.Tls = DynamicBlock(segment, image); // no room in static TLS
        }
    }

    /// <summary>A dynamic block: served by Loader from the image's own <c>.tdata</c> (relocated by now, and mapped until
    /// the block is given back at unmap), or carried by glibc.</summary>
    private TlsBlockOwner DynamicBlock(ProgramHeader segment, ReadOnlySpan<byte> image)
    {
        if (_options.ServeDynamicTls
            && ServedTlsBlock.TryServe((nint)((ulong)_image.BaseAddress + segment.VirtualAddress), segment) is { } served)
            return served;
        return TlsCarrier.Load(Name, segment, image, staticTls: false);
    }

    /// <summary>Second pass: one TLS relocation, now that every block it can name exists.</summary>
    private void ApplyTls(in RelocationTableData table, int index)
    {
        var r = table[index];
        var type = (X86_64RelocationType)r.Type;
        var definer = DefinerOf(r, table.Name, type);
        if (definer is null)
            return; // an unresolved weak reference: glibc leaves the target as it is
        nint target = Target(r.Offset, table.Name, type, r.SymbolIndex); // decoded again: checked again
        ulong symbolValue = r.SymbolIndex == 0 ? 0 : Resolve(r.SymbolIndex, table.Name, r.Offset, type).Value;
        bool rela = table.Format == RelocationFormat.Rela;
        switch (type)
        {
            case X86_64RelocationType.DtpMod64:
                _memory.WriteUInt64(target, ModuleIdOf(definer, table, r, type));
                break;
            case X86_64RelocationType.DtpOff64:
            {
                long addend = rela ? r.Addend : (long)_memory.ReadUInt64(target);
                _memory.WriteUInt64(target, symbolValue + (ulong)addend);
                break;
            }
            case X86_64RelocationType.TpOff64:
            {
                long addend = rela ? r.Addend : (long)_memory.ReadUInt64(target);
                _memory.WriteUInt64(target, (ulong)StaticOffsetOf(definer, table, r, type) + symbolValue + (ulong)addend);
                break;
            }
            case X86_64RelocationType.TlsDesc:
            {
                // The descriptor's second word holds a REL addend; the resolver returns the argument in %rax.
                long addend = rela ? r.Addend : (long)_memory.ReadUInt64(target + 8);
                long? offset = definer.IsHost ? HostTls.StaticOffset(definer.Host!) : definer.Tls?.Block.StaticOffset;
                if (offset is { } start)
                {
                    _memory.WriteUInt64(target, (ulong)TlsDescriptorResolver.Static);
                    _memory.WriteUInt64(target + 8, (ulong)start + symbolValue + (ulong)addend);
                    break;
                }
                // A dynamic block: the argument is a tls_index the dynamic resolver hands to __tls_get_addr.
                _module.TlsIndexes ??= new TlsIndexTable(_tlsDeferred.Count);
                nint tlsIndex = _module.TlsIndexes.Add(ModuleIdOf(definer, table, r, type), symbolValue + (ulong)addend);
                _memory.WriteUInt64(target, (ulong)TlsDescriptorResolver.Dynamic(static () => ServedTlsBlock.ServerGetAddr));
                _memory.WriteUInt64(target + 8, (ulong)tlsIndex);
                break;
            }
        }
    }

    /// <summary>The module whose block a TLS relocation names: the one that defines <paramref name="r"/>'s symbol
    /// (resolved in the first pass; a deferred entry is decoded again, so its index is checked again), the module itself
    /// for symbol 0, null for an unresolved weak one.</summary>
    private Module? DefinerOf(Relocation r, string table, X86_64RelocationType type) =>
        r.SymbolIndex == 0 ? _module : DefinerAt(Resolve(r.SymbolIndex, table, r.Offset, type).Definer);

    private ulong ModuleIdOf(Module definer, in RelocationTableData table, Relocation r, X86_64RelocationType type)
    {
        ulong id = definer.IsHost ? HostTls.ModuleId(definer.Host!) : definer.Tls?.Block.ModuleId ?? 0;
        if (id == 0)
            Fail(table.Name, r.Offset, type, r.SymbolIndex, $"{definer.Name} has no TLS block (no PT_TLS with a non-zero p_memsz)");
        return id;
    }

    private long StaticOffsetOf(Module definer, in RelocationTableData table, Relocation r, X86_64RelocationType type)
    {
        if (definer.IsHost)
        {
            // glibc would try to move the host block into static TLS (CHECK_STATIC_TLS); a block it already serves
            // dynamically cannot move, and glibc says:
            return HostTls.StaticOffset(definer.Host!)
                ?? Fail<long>(table.Name, r.Offset, type, r.SymbolIndex, $"cannot allocate memory in static TLS block: {definer.Name}'s TLS block is not in static TLS");
        }
        return definer.Tls?.Block.StaticOffset
            ?? Fail<long>(table.Name, r.Offset, type, r.SymbolIndex, $"{definer.Name}'s TLS block is not in static TLS (initial-exec code of one module against another's dynamic block)");
    }
}
