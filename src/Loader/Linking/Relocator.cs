using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Loader.Elf;
using Loader.Mapping;
using Loader.Native;

namespace Loader.Linking;

/// <summary>
/// Applies an image's relocations (x86_64), all at load time (bind now): DT_RELR, then DT_RELA/DT_REL and
/// DT_JMPREL in table order, then — after every other relocation, as glibc defers <c>R_X86_64_IRELATIVE</c> — the
/// ones that need a resolver (IRELATIVE, and references that bound to an <c>STT_GNU_IFUNC</c>). Every write goes
/// through <see cref="ImageMemory"/> and must land in a writable part of the image; DT_TEXTREL is applied only with
/// <see cref="LoadOptions.AllowTextRelocations"/>, through a temporary read-write (never executable) mprotect.
/// Each referenced symbol is looked up once per load (a per-symbol cache); the loop allocates nothing per entry.
/// </summary>
internal sealed partial class Relocator
{
    // Set for one load (Begin), dropped after it (End): a relocator waits between loads in its thread's slot, with its
    // per-symbol cache, so that a load allocates neither (and nothing that grows with its symbols).
    private Module _module = null!;
    private ElfImage _image = null!;
    private DynamicTables _tables = null!;
    private RelocationTableSet _relocationTables; // read once per load, as values: no object for them
    private ModuleNamespace _namespace = null!;
    private LoadOptions _options = null!;
    private ImageMemory _memory = null!;
    private ulong _base;
    private int _symbolCount;
    private DeferredRelocations _deferred; // mutated in place: not readonly

    // The per-symbol cache, one entry per dynamic symbol of the module, in native memory rather than a managed array:
    // a library with tens of thousands of symbols (libLLVM: 46k) needed a fresh array on the large-object heap per load
    // (a spare one that size, kept per thread, would hold a megabyte for good), and that was half of what a load
    // allocated. Here a large load's pages go back to the kernel at End, and a small one's stay for the next load.
    private readonly ScratchArray<Resolution> _cache = new();

    // The modules that defined something in this load; an entry's Definer is a 1-based slot here. Cleared at End, so
    // the waiting relocator keeps no module alive; the array itself is kept for the next load.
    private Module[] _definers = new Module[16];
    private int _definerCount;
    private int _lastDefiner; // the slot the previous resolution used: consecutive symbols mostly share a definer

    /// <summary>What symbol <c>i</c> resolved to in this load: 16 bytes, unmanaged (it lives in native memory), all
    /// zeros until resolved.</summary>
    private struct Resolution
    {
        public ulong Value; // the definition's address; for an STT_TLS symbol, its st_value (its offset in the block)
        public int Definer; // 1-based slot in _definers; 0 for none (symbol 0, an unresolved weak reference)
        public bool Done;
        public bool NeedsResolver;
    }

    private Relocator()
    {
    }

    private void Begin(Module module, ModuleNamespace space, LoadOptions options)
    {
        _module = module;
        _image = module.Image!;
        _tables = module.Tables!;
        _relocationTables = _tables.ReadRelocationTables();
        _namespace = space;
        _options = options;
        _memory = _image.Memory;
        _base = (ulong)module.Base;
        // One entry per symbol, in memory kept from the thread's last load: always zeros while it waits.
        _symbolCount = _tables.Symbols?.Count ?? 0;
        _cache.Use(Math.Max(_symbolCount, 1), module.Path); // symbol 0 (S = 0) has an entry even without a symbol table
    }

    /// <summary>Lets go of everything the load used (the definers are modules), so that the waiting relocator keeps
    /// nothing alive; zeroes the cache (a large one's pages go back to the kernel).</summary>
    private void End()
    {
        _cache.Clear();
        Array.Clear(_definers, 0, _definerCount);
        _definerCount = 0;
        _lastDefiner = 0;
        _deferred.Dispose();
        _tlsDeferred.Dispose();
        _module = null!;
        _image = null!;
        _tables = null!;
        _relocationTables = default;
        _namespace = null!;
        _options = null!;
        _memory = null!;
    }

    // The relocator (its definer list, its cache's mapping) between loads on this thread. A thread that exits lets it
    // go, and the cache's mapping is unmapped when it is collected (ScratchArray's finalizer).
    [ThreadStatic]
    private static Relocator? t_spare;

    /// <summary>The mapping of this thread's waiting relocator's cache (false when no relocator waits); for tests.</summary>
    internal static bool TryGetSpareCacheMapping(out nint address, out ulong length)
    {
        address = t_spare?._cache.Address ?? 0;
        length = t_spare?._cache.MappedBytes ?? 0;
        return t_spare is not null;
    }

    /// <summary>Relocates <paramref name="module"/> against its <see cref="Module.Scope"/>; <paramref name="definers"/> is
    /// given the modules its relocations bound to other than itself and the host's (once each; an unresolved weak
    /// reference binds to none), made at the first.</summary>
    public static void Relocate(Module module, ModuleNamespace space, LoadOptions options, ref List<Module>? definers)
    {
        if (module.Tables is null)
            return;
        // Taken out of the slot while in use, so a load started on this thread meanwhile (from a resolver's code) gets its own.
        var relocator = t_spare ?? new Relocator();
        t_spare = null;
        relocator.Begin(module, space, options);
        try
        {
            relocator.Run();
            for (int i = 0; i < relocator._definerCount; i++)
                if (relocator._definers[i] is var definer && definer != module && !definer.IsHost)
                    (definers ??= []).Add(definer);
        }
        finally
        {
            relocator.End();
            t_spare = relocator;
        }
    }

    private string Name => _module.Path;

    private void Run()
    {
        var dyn = _image.Dynamic!;
        bool textRel = dyn.Has(DynamicTag.TextRel) || (dyn.Flags & DynamicFlags.TextRel) != 0;
        if (textRel && !_options.AllowTextRelocations)
            ThrowHelper.Relocation(Name, $"{Name}: has DT_TEXTREL (relocations in its read-only or executable segments); " +
                "refused unless LoadOptions.AllowTextRelocations is set");
        if (textRel)
            _image.MakeTextWritable();
        try
        {
            ApplyRelr();
            var tables = _relocationTables;
            for (int t = 0; t < tables.Count; t++)
            {
                var table = tables[t];
                if (table.IsRela64LittleEndian)
                {
                    ApplyRela64(table, (byte)(t + 1));
                    continue;
                }
                for (int i = 0; i < table.Count; i++)
                    Apply(table, (byte)(t + 1), i, deferred: false);
            }
        }
        finally
        {
            if (textRel)
                _image.RestoreTextProtection();
        }
        // The TLS block's carrier is made from the relocated image, before the TLS relocations that need its
        // module ID or static offset, and before any resolver runs (glibc copies the image into threads at once).
        SetUpTls();
        for (int d = 0; d < _tlsDeferred.Count; d++)
        {
            var (t, i) = _tlsDeferred[d];
            ApplyTls(_relocationTables[t - 1], i);
        }
        for (int d = 0; d < _deferred.Count; d++)
        {
            var (t, i) = _deferred[d];
            Apply(_relocationTables[t - 1], t, i, deferred: true);
        }
    }

    private void ApplyRelr()
    {
        if (_tables.Relr is not { } relr)
            return;
        var pass = new RelrPass(this);
        relr.ForEachAddress(ref pass);
    }

    /// <summary>
    /// DT_RELR's words, relocated in place: each target must lie in a writable range, asked of
    /// <see cref="ImageMemory"/> only when a target leaves the range the previous one lay in.
    /// </summary>
    private ref struct RelrPass(Relocator relocator) : RelrTable.IAddressVisitor
    {
        private WritableWindow _window;
        private ulong _page; // the last page made the process's own: RELR reads each target before writing it

        public void Visit(ulong offset)
        {
            var bytes = _window.At(relocator, offset, "DT_RELR", X86_64RelocationType.Relative, 0);
            // A read first would map the page and its neighbours read-only from the file, and this write would then
            // replace a present page: a TLB flush on every CPU. The first access to each page is a write instead
            // (ImageMemory.TouchForWrite; the image's dynamic section's page is made so the same way).
            ulong page = LoadPlan.PageDown(relocator._base + offset, Page);
            if (page != _page)
            {
                relocator._memory.TouchForWrite((nint)(relocator._base + offset));
                _page = page;
            }
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, BinaryPrimitives.ReadUInt64LittleEndian(bytes) + relocator._base);
        }
    }

    private static readonly ulong Page = (ulong)Environment.SystemPageSize;

    // How far ahead the symbolic path starts the memory accesses of the entries to come (PrefetchAhead): first the
    // symbol's resolution and its Elf_Sym, then, once those have arrived, its name when it still has to be looked up.
    private const int PrefetchFar = 16, PrefetchNear = 8;

    /// <summary>
    /// The symbolic entries name symbols in no order, and each first use of one is a lookup that starts with cache
    /// misses on its resolution, its Elf_Sym and its name, one after another: the entries ahead are read from the table
    /// this pass streams anyway, and their misses started now overlap the work in between. Measured a load at a time,
    /// with and without, alternating in one process: the lookups' time 3–7 % lower on libcrypto (3,205 symbols, half of
    /// its load), libpython and libsqlite3.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void PrefetchAhead(ReadOnlySpan<ulong> words, int at)
    {
        if (_tables.Symbols is not { } symbols)
            return;
        if (at + PrefetchFar * 3 + 1 < words.Length)
        {
            uint far = (uint)(words[at + PrefetchFar * 3 + 1] >> 32);
            _cache.Prefetch(far);
            symbols.PrefetchEntry(far);
        }
        if (at + PrefetchNear * 3 + 1 < words.Length)
        {
            uint near = (uint)(words[at + PrefetchNear * 3 + 1] >> 32);
            if (near != 0 && near < (uint)_symbolCount && !_cache[near].Done)
                symbols.PrefetchName(near);
        }
    }

    /// <summary>
    /// The relocator's tight pass over an Elf64_Rela table: <c>R_X86_64_RELATIVE</c> entries (most of a large
    /// library's), and the 8-byte symbol ones (<c>64</c>, <c>GLOB_DAT</c>, <c>JUMP_SLOT</c>) whose symbol resolves
    /// (once per load, <see cref="Resolve"/>) to a plain definition, are decoded and written in place; every other entry
    /// goes through <see cref="Apply"/> (which defers what needs a resolver, and refuses). The same checks as
    /// <see cref="Apply"/>: each target lies, whole, in a writable part of the image.
    /// </summary>
    private void ApplyRela64(in RelocationTableData table, byte tableIndex)
    {
        // The entries as words (r_offset, r_info, r_addend: little-endian, as the host is), three to an entry.
        var words = MemoryMarshal.Cast<byte, ulong>(table.Bytes);
        var window = new WritableWindow();
        for (int i = 0, at = 0; i < table.Count; i++, at += 3)
        {
            ulong info = words[at + 1];
            var type = (X86_64RelocationType)(uint)info;
            uint symbol = (uint)(info >> 32);
            // Every entry's symbol index, as the reader checks the other tables' (it left this one to this pass, which
            // reads each entry once, and sees one an earlier relocation rewrote).
            if (symbol >= (uint)_symbolCount && symbol != 0)
                RelocationTableData.ThrowSymbolIndexPast(Name, table, i, symbol, _symbolCount);
            if (type == X86_64RelocationType.Relative)
            {
                ulong offset = words[at];
                var bytes = window.At(this, offset, table.Name, type, symbol);
                BinaryPrimitives.WriteUInt64LittleEndian(bytes, _base + words[at + 2]); // B + A
                // The RELATIVE entries after it (a linker sorts them first: DT_RELACOUNT) whose targets lie in the same
                // writable range, in one tight loop; it stops at the first entry the checks above would treat otherwise.
                int next = window.ApplyRelativeRun(words, i + 1, table.Count, _base, (uint)_symbolCount);
                at += (next - (i + 1)) * 3;
                i = next - 1;
            }
            else if (type is X86_64RelocationType.R64 or X86_64RelocationType.GlobDat or X86_64RelocationType.JumpSlot
                && symbol != 0 && symbol < (uint)_symbolCount && !_cache[symbol].NeedsResolver) // set only once Done
            {
                PrefetchAhead(words, at);
                // S: resolved by an earlier entry, or now, after the target's check (the general path's order). One
                // whose resolver must run first goes the general way, which defers it.
                ulong offset = words[at];
                var bytes = window.At(this, offset, table.Name, type, symbol);
                ref var resolved = ref Resolve(symbol, table.Name, offset, type);
                if (resolved.NeedsResolver)
                {
                    Apply(table, tableIndex, i, deferred: false);
                    continue;
                }
                BinaryPrimitives.WriteUInt64LittleEndian(bytes, resolved.Value + words[at + 2]); // S + A
                // A linker sorts the symbolic entries by symbol (glibc's one-entry lookup cache counts on it): when the
                // next entry names the same one, it and those after it whose symbols are resolved already and whose
                // targets lie in the same writable range go through one tight loop.
                if (at + 4 >= words.Length || (uint)(words[at + 4] >> 32) != symbol)
                    continue;
                int next = window.ApplyResolvedRun(this, words, i + 1, table.Count);
                at += (next - (i + 1)) * 3;
                i = next - 1;
            }
            else
            {
                Apply(table, tableIndex, i, deferred: false);
            }
        }
    }

    /// <summary>
    /// From entry <paramref name="entry"/> on, the 8-byte symbolic entries (<c>64</c>, <c>GLOB_DAT</c>,
    /// <c>JUMP_SLOT</c>) whose symbol this load has already resolved to a plain definition and whose target lies in
    /// <paramref name="window"/> (a writable range that starts at <paramref name="windowStart"/>): S + A written in
    /// place, the resolutions read as one span. Stops at the first entry that is anything else (one the general path
    /// must check, resolve, defer or refuse); returns its index. Measured a load at a time against the path for each
    /// entry, in one process in shuffled order: libpython's relocation 10–17 % faster (12,635 of its 13,351 symbolic
    /// entries repeat the symbol before), libcrypto's and libsqlite3's the same (they enter it rarely). Not inlined,
    /// so that the path for each entry keeps its registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int ApplyResolvedRun(ReadOnlySpan<ulong> words, int entry, int count, Span<byte> window, ulong windowStart)
    {
        if (window.Length < 8 || (ulong)count * 3 > (ulong)words.Length)
            return entry;
        ReadOnlySpan<Resolution> resolutions = _cache.InUse;
        ulong last = (ulong)window.Length - 8;
        // As in ImageMemory.ApplyRelativeRun: r_offset minus the window's link-time address is the target's place in
        // the window, and one below the window wraps past `last`.
        ulong windowOffset = windowStart - _base;
        for (; entry < count; entry++)
        {
            int at = entry * 3;
            ulong info = words[at + 1];
            var type = (X86_64RelocationType)(uint)info;
            uint symbol = (uint)(info >> 32);
            if (type is not (X86_64RelocationType.R64 or X86_64RelocationType.GlobDat or X86_64RelocationType.JumpSlot)
                || symbol == 0 || symbol >= (uint)resolutions.Length)
                break;
            ref readonly var resolved = ref resolutions[(int)symbol];
            ulong place = words[at] - windowOffset;
            if (!resolved.Done || resolved.NeedsResolver || place > last)
                break;
            BinaryPrimitives.WriteUInt64LittleEndian(window.Slice((int)place, 8), resolved.Value + words[at + 2]); // S + A
        }
        return entry;
    }

    /// <summary>The writable range the last 8-byte target lay in, as the span <see cref="ImageMemory.WritableRangeAt"/>
    /// gave (checked against the reservation once, when a target first falls in it), so that the next target is
    /// usually a subtraction, a compare and the span's own bounds check away.</summary>
    private ref struct WritableWindow
    {
        private Span<byte> _range;
        private ulong _start;

        /// <summary>The 8 bytes at base + <paramref name="offset"/>, which must lie in a writable part of the image.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Span<byte> At(Relocator relocator, ulong offset, string table, X86_64RelocationType type, uint symbol)
        {
            ulong address = relocator._base + offset;
            ulong at = address - _start;
            if (address >= relocator._base && at < (ulong)_range.Length && (ulong)_range.Length - at >= 8)
                return _range.Slice((int)at, 8);
            return Move(relocator, offset, table, type, symbol);
        }

        /// <summary><see cref="ImageMemory.ApplyRelativeRun"/> over this window; the first entry it did not apply.</summary>
        public readonly int ApplyRelativeRun(ReadOnlySpan<ulong> words, int entry, int count, ulong bias, uint symbolCount) =>
            ImageMemory.ApplyRelativeRun(words, entry, count, bias, _range, _start, symbolCount);

        /// <summary><see cref="Relocator.ApplyResolvedRun"/> over this window; the first entry it did not apply.</summary>
        public readonly int ApplyResolvedRun(Relocator relocator, ReadOnlySpan<ulong> words, int entry, int count) =>
            relocator.ApplyResolvedRun(words, entry, count, _range, _start);

        /// <summary>The target left the window: the writable range that holds it becomes the window, or the
        /// relocation is refused.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        private Span<byte> Move(Relocator relocator, ulong offset, string table, X86_64RelocationType type, uint symbol)
        {
            ulong address = relocator._base + offset;
            _range = address < relocator._base ? default
                : relocator._memory.WritableRangeAt((nint)address, 8, out _start);
            if (_range.IsEmpty)
                relocator.Target(offset, table, type, symbol); // throws the relocator's one message for it
            return _range.Slice((int)(address - _start), 8);
        }
    }

    private void Apply(in RelocationTableData table, byte tableIndex, int index, bool deferred)
    {
        var r = table[index];
        var type = (X86_64RelocationType)r.Type;
        bool rela = table.Format == RelocationFormat.Rela;
        ulong value;
        switch (type)
        {
            case X86_64RelocationType.None:
                return;
            case X86_64RelocationType.Relative:
            {
                nint target = Target(r.Offset, table.Name, type, r.SymbolIndex);
                value = _base + (ulong)(rela ? r.Addend : (long)_memory.ReadUInt64(target));
                _memory.WriteUInt64(target, value);
                break;
            }
            case X86_64RelocationType.IRelative:
            {
                nint target = Target(r.Offset, table.Name, type, r.SymbolIndex);
                if (!deferred)
                {
                    _deferred.Add(tableIndex, index);
                    return;
                }
                ulong resolver = _base + (ulong)(rela ? r.Addend : (long)_memory.ReadUInt64(target));
                value = (ulong)_namespace.RunResolver(_module, (nint)resolver, ResolverUse.Irelative(r.Offset, resolver - _base), _options);
                _memory.WriteUInt64(target, value);
                break;
            }
            case X86_64RelocationType.R64 or X86_64RelocationType.GlobDat or X86_64RelocationType.JumpSlot
                or X86_64RelocationType.PC32 or X86_64RelocationType.R32 or X86_64RelocationType.R32S:
            {
                int size = X86_64Relocations.ValueSize(type);
                nint target = Target(r.Offset, table.Name, type, r.SymbolIndex);
                ref var res = ref Resolve(r.SymbolIndex, table.Name, r.Offset, type);
                if (res.NeedsResolver && !deferred)
                {
                    _deferred.Add(tableIndex, index);
                    return;
                }
                if (res.NeedsResolver)
                    ResolveIfuncNow(ref res, r.SymbolIndex, DefinerAt(res.Definer)!); // a resolver in this image, now relocated
                long addend = rela ? r.Addend
                    : type is X86_64RelocationType.GlobDat or X86_64RelocationType.JumpSlot ? 0
                    : size == 8 ? (long)_memory.ReadUInt64(target)
                    : type == X86_64RelocationType.R32 ? _memory.ReadUInt32(target) : (int)_memory.ReadUInt32(target);
                value = res.Value + (ulong)addend;
                if (size == 8)
                {
                    _memory.WriteUInt64(target, value);
                    break;
                }
                if (type == X86_64RelocationType.PC32)
                    value -= (ulong)target;
                bool fits = type == X86_64RelocationType.R32 ? value <= uint.MaxValue : (long)value == (int)value;
                if (!fits)
                    Fail(table.Name, r.Offset, type, r.SymbolIndex, $"the value 0x{value:x} does not fit in 32 bits");
                _memory.WriteUInt32(target, (uint)value);
                value &= uint.MaxValue;
                break;
            }
            case X86_64RelocationType.Copy:
                Fail(table.Name, r.Offset, type, r.SymbolIndex, "R_X86_64_COPY belongs in an executable, never in a shared object");
                return;
            case X86_64RelocationType.DtpMod64 or X86_64RelocationType.DtpOff64 or X86_64RelocationType.TpOff64
                or X86_64RelocationType.TlsDesc:
                DeferTls(table, tableIndex, index, r, type);
                return;
            case X86_64RelocationType.DtpOff32 or X86_64RelocationType.TpOff32:
                // glibc's elf_machine_rela has no case for them: _dl_reloc_bad_type refuses the object.
                Fail(table.Name, r.Offset, type, r.SymbolIndex, $"unexpected reloc type 0x{(uint)type:x} (glibc accepts no 32-bit TLS relocation in a shared object)");
                return;
            default:
                Fail(table.Name, r.Offset, type, r.SymbolIndex, "this relocation type is not supported in a shared object");
                return;
        }
    }

    /// <summary>The absolute target of a relocation, checked to lie in a writable part of the image for the whole
    /// value the type writes (before it is even read, since a REL addend is read from it).</summary>
    private nint Target(ulong offset, string table, X86_64RelocationType type, uint symbol)
    {
        int size = X86_64Relocations.ValueSize(type);
        ulong address = _base + offset;
        if (address < _base || !_memory.IsWritable((nint)address, (ulong)size))
            Fail(table, offset, type, symbol, $"the target base+0x{offset:x} ({size} bytes) does not lie in a writable part of the image");
        return (nint)address;
    }

    /// <summary>Resolves symbol <paramref name="symbolIndex"/> once per load (glibc's rules, see <see cref="SymbolLookup"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref Resolution Resolve(uint symbolIndex, string table, ulong offset, X86_64RelocationType type)
    {
        // The tables' symbol indices were checked when they were read, but a table that lies in writable memory can be
        // rewritten by an earlier relocation (a hostile file's), and a deferred entry is decoded again later.
        if (symbolIndex != 0 && symbolIndex >= (uint)_symbolCount)
            FailSymbolIndex(symbolIndex, table, offset, type);
        ref var res = ref _cache[symbolIndex];
        if (!res.Done)
            ResolveFirst(ref res, symbolIndex, table, offset, type);
        return ref res;
    }

    /// <summary>The lookup behind <see cref="Resolve"/>, out of line: its frame (the lookup's inlined structs) is
    /// zeroed on every call, which the entries whose symbol is already resolved must not pay.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ResolveFirst(ref Resolution res, uint symbolIndex, string table, ulong offset, X86_64RelocationType type)
    {
        res.Done = true;
        if (symbolIndex == 0)
            return; // no symbol: S = 0
        if (!RelocationBinding.TryFind(_module, (int)symbolIndex, _namespace, out var found))
        {
            if (_tables.Symbols![(int)symbolIndex].Binding == SymbolBinding.Weak)
            {
                res.Definer = 0; // an unresolved weak reference is 0, defined by nothing
                return;
            }
            ThrowUndefined(symbolIndex, table, offset, type);
        }
        if ((found.Symbol.Type == SymbolType.Tls) != IsTls(type))
            FailTlsMismatch(symbolIndex, table, offset, type, found.Symbol.Type == SymbolType.Tls);
        res.Definer = SlotOf(found.Module);
        res.Value = found.Symbol.Type == SymbolType.Tls ? found.Symbol.Value : found.Address;
        res.NeedsResolver = found.IsIfunc;
        if (found.Module.Host is { } host && host.RedirectAt(found.Index) is not HostRedirect.None and var redirect)
            Redirect(ref res, redirect);
        if (res.NeedsResolver && found.Module != _module && (found.Module.IsHost || found.Module.Relocated))
            ResolveIfuncNow(ref res, symbolIndex, found.Module);
    }

    /// <summary>A binding to a host definition that must not be bound directly (<see cref="RedirectedDefinitions"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Redirect(ref Resolution res, HostRedirect redirect)
    {
        if (redirect == HostRedirect.ThreadAtExit)
        {
            // A thread_local destructor's registration: through the shim, which keeps this image mapped until the
            // destructors it registered have run (glibc would pin the main program instead).
            _module.ThreadExits ??= ThreadExitShim.Track(_image.ReservedRange);
            res.Value = (ulong)ThreadExitShim.Address;
            res.NeedsResolver = false;
            return;
        }
        // __tls_get_addr: Loader's, which serves its own dynamic blocks and passes glibc's IDs on, whenever a block may
        // be served — this load's (the server is made now) or any earlier one's; otherwise glibc's, as before.
        nint served = _options.ServeDynamicTls ? ServedTlsBlock.ServerGetAddr : TlsServer.GetAddrIfMade;
        if (served != 0)
            res.Value = (ulong)served;
    }

    /// <summary>
    /// An IFUNC another module defines, one already relocated — a host library (libc's memcpy, strlen, strcmp, ... for
    /// nearly every library) or a dependency Loader relocated before this image — is resolved now, as glibc runs the
    /// resolver of another object's IFUNC while it relocates: the resolver runs on its own relocated image and reads
    /// nothing of this one. The symbol's entries then go the way of any resolved symbol (the tight passes) instead of
    /// each waiting for the end of the relocation; only a resolver in the image being relocated waits, so that it runs
    /// on a relocated image, and comes here from the second pass. A resolver that has run answers at once (the symbol's
    /// name is decoded only for a refusal's message: ResolverUse); one <see cref="LoadOptions.RunResolvers"/> forbids is
    /// refused.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ResolveIfuncNow(ref Resolution res, uint symbolIndex, Module definer)
    {
        res.Value = _namespace.TryGetResolverResult((nint)res.Value, out nint known) ? (ulong)known
            : (ulong)_namespace.RunResolver(definer, (nint)res.Value, ResolverUse.Symbol(_tables.Symbols!, (int)symbolIndex), _options);
        res.NeedsResolver = false;
    }

    /// <summary>The 1-based slot of <paramref name="module"/> among this load's definers, added if new: the last slot
    /// used first, then a scan. Once per symbol, like the lookup that just found it, which is already O(scope size) per
    /// symbol; the list holds only modules those lookups found, so the scan does not change the order of the cost.</summary>
    private int SlotOf(Module module)
    {
        if (_lastDefiner != 0 && _definers[_lastDefiner - 1] == module)
            return _lastDefiner;
        for (int i = 0; i < _definerCount; i++)
        {
            if (_definers[i] == module)
                return _lastDefiner = i + 1;
        }
        if (_definerCount == _definers.Length)
        {
            var larger = new Module[_definers.Length * 2];
            Array.Copy(_definers, larger, _definerCount);
            _definers = larger;
        }
        _definers[_definerCount++] = module;
        return _lastDefiner = _definerCount;
    }

    /// <summary>The module in definer slot <paramref name="slot"/>; null for 0 (no definer).</summary>
    private Module? DefinerAt(int slot) => slot == 0 ? null : _definers[slot - 1];

    // The refusals, out of line: their messages' formatting (interpolated strings, name decoding) would otherwise be
    // inlined into Resolve, whose frame the runtime zeroes on every call (1.5 KB of it, once per symbol).
    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowUndefined(uint symbolIndex, string table, ulong offset, X86_64RelocationType type)
    {
        string symbol = _tables.Symbols!.GetName((int)symbolIndex);
        string? versionName = VersionRequest.Relocation(_tables.GetSymbolVersion((int)symbolIndex)).Name;
        string at = versionName is null ? "" : "@" + versionName;
        ThrowHelper.SymbolNotFound(symbol, versionName, Name,
            $"{Name}: undefined symbol '{symbol}{at}' ({table} {X86_64Relocations.Name(type)} at 0x{offset:x}) is not defined by any module in scope: " +
            _module.Scope!.NamesText());
    }

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    private void FailSymbolIndex(uint symbolIndex, string table, ulong offset, X86_64RelocationType type) =>
        Fail(table, offset, type, symbolIndex, $"the symbol index {symbolIndex} is past the {_symbolCount}-entry DT_SYMTAB " +
            "(the table was checked when it was read: it lies in memory an earlier relocation wrote)");

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    private void FailTlsMismatch(uint symbolIndex, string table, ulong offset, X86_64RelocationType type, bool symbolIsTls) =>
        Fail(table, offset, type, symbolIndex, symbolIsTls
            ? "the symbol is thread-local, and this relocation type is not a TLS one"
            : "a TLS relocation names a symbol that is not thread-local (STT_TLS)");

    private string SymbolName(uint index) =>
        index == 0 ? "" : index < (uint)_symbolCount ? _tables.Symbols!.GetName((int)index) : $"#{index}";

    [DoesNotReturn]
    private void Fail(string table, ulong offset, X86_64RelocationType type, uint symbol, string why) =>
        Fail<int>(table, offset, type, symbol, why);

    [DoesNotReturn]
    private T Fail<T>(string table, ulong offset, X86_64RelocationType type, uint symbol, string why)
    {
        string against = symbol == 0 ? "" : $" against '{SymbolName(symbol)}'";
        return ThrowHelper.Relocation<T>(Name, $"{Name}: {table} {X86_64Relocations.Name(type)} at 0x{offset:x}{against}: {why}");
    }
}
