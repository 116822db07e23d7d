using System.Runtime.InteropServices;
using Loader.Elf;
using Loader.Linking;
using Loader.Tests.Oracles;
using Xunit.Abstractions;

namespace Loader.Tests.Linking;

/// <summary>
/// The differential test against glibc: each library is loaded by Loader (in a fresh <see cref="LoaderContext"/>) and
/// by glibc's <c>dlopen(RTLD_NOW | RTLD_LOCAL)</c>; for every relocation Loader applied, in the library and in each
/// dependency Loader mapped for it, the value glibc wrote at its own copy (glibc's <c>l_addr</c> + <c>r_offset</c>)
/// must be the same, normalized as (defining module, value − that module's base): the same module — the library
/// itself, a dependency (glibc's own copy of the same file), or a host library, where the absolute address must be
/// equal — and the same offset. IRELATIVE and IFUNC-bound values come from each loader calling the resolver (the
/// fixtures' resolvers are deterministic); JUMP_SLOTs are bound now by both. Runs in the AddressSpace collection, so
/// no other test dlopens or maps at the same time.
/// </summary>
[Collection("AddressSpace")]
public sealed class GlibcDifferentialTests(ITestOutputHelper output)
{
    private const string LibZ = "/usr/lib/x86_64-linux-gnu/libz.so.1";
    [Fact]
    public void Every_relocation_Loader_applies_equals_glibcs_on_every_fixture_libz_and_libsqlite3()
    {
        long total = 0;
        var failures = new List<string>();
        foreach (var fixture in Fixtures.All.Where(f => f.IsX64))
        {
            if (fixture.Kind == FixtureKind.X64LinkFails)
            {
                // Fails to link by design: both loaders must refuse it, so there is nothing to compare.
                var refused = Assert.ThrowsAny<LoaderException>(() => new LoaderContext().Load(fixture.Path));
                nint handle = Glibc.Open(fixture.Path);
                if (handle != 0)
                    Glibc.Close(handle);
                Assert.True(handle == 0, $"{fixture.Name}: glibc's dlopen loads it, yet it is a fixture whose link must fail");
                output.WriteLine($"{fixture.Name}: not compared: both refuse it by design ({refused.Message}; glibc: {Glibc.LastError()})");
                continue;
            }
            Assert.True(fixture.IsLoadable, $"{fixture.Name}: kind {fixture.Kind} is neither loadable nor an expected refusal");
            total += Compare(fixture.Path, fixture.Name, failures);
        }
        total += Compare(LibZ, "libz.so.1", failures);
        // 1,353 R_X86_64_RELATIVE entries in a row, across .init_array, .data.rel.ro, .got and .data: the relocator's runs.
        total += Compare(SystemLibraries.Require("libsqlite3.so.0"), "libsqlite3.so.0", failures);

        output.WriteLine($"compared {total} relocations with glibc's");
        Assert.True(failures.Count == 0, $"{failures.Count} relocations differ from glibc's:\n{string.Join('\n', failures.Take(60))}");
        Assert.True(total > 300, $"only {total} relocations were compared");
    }

    [Theory]
    [InlineData("chain/libchain_a.so")]
    [InlineData("linking/libinterpose_user.so")]
    [InlineData("ifunc.so")]
    public void Dependencies_and_resolvers_are_compared_per_module(string name)
    {
        var failures = new List<string>();
        long compared = Compare(Fixtures.Path(name), name, failures);
        Assert.True(failures.Count == 0, string.Join('\n', failures));
        Assert.True(compared > 0);
    }

    /// <summary>
    /// Libraries whose relocations mostly name their own exports (libcrypto: about 3,000 of its 4,191 symbolic ones),
    /// which a lookup finds in the library itself once no global module can define them — where the relocator takes
    /// the referencing entry as the answer when the hash chain offers it first (SymbolLookup.FindsOwnDefinition).
    /// </summary>
    [Theory]
    [InlineData("libcrypto.so.3")]
    [InlineData("libxml2.so.2")] // (not libssl: its initializers reorder tables the relocations filled, differently in each copy)
    [InlineData("libpython3.11.so.1.0")] // 12,635 of its 13,351 symbolic entries repeat the symbol before: the relocator's runs
    public void Libraries_that_bind_to_their_own_exports_bind_as_glibc(string soname)
    {
        var failures = new List<string>();
        string path = SystemLibraries.Require(soname);
        long compared = Compare(path, soname, failures);
        Assert.True(failures.Count == 0, $"{failures.Count} relocations differ from glibc's:\n{string.Join('\n', failures.Take(60))}");
        using var library = new LoaderContext().Load(path);
        int own = library.Relocations.Count(r => r.DefinedBy is { } d && d.Path == library.Path && r.Symbol is not null);
        output.WriteLine($"{soname}: {compared} relocations compared, {own} bound to the library's own exports");
        Assert.True(own > 100, $"{soname}: only {own} relocations bind to the library's own exports");
    }

    /// <summary>Loads <paramref name="path"/> both ways and compares every relocation of it and of its dependencies
    /// that Loader mapped; returns how many were compared.</summary>
    private long Compare(string path, string name, List<string> failures)
    {
        var context = new LoaderContext();
        using var ours = context.Load(path);
        nint handle = Glibc.Open(path);
        Assert.True(handle != 0, $"{name}: glibc's dlopen failed: {Glibc.LastError()}");
        try
        {
            nint glibcBase = Glibc.LoadBias(handle);
            var glibc = Glibc.LoadedObjects();
            var byFile = glibc.GroupBy(o => o.RealPath).ToDictionary(g => g.Key, g => g.First());
            Assert.Equal(glibcBase, byFile[Glibc.RealPath(path)].Base);

            long count = CompareModule(ours, byFile, name, failures);
            var dependencies = ours.Dependencies.Where(d => d.Source != DependencySource.Host).Select(d => d.Module).Distinct();
            foreach (var dependency in dependencies)
            {
                using var handleOnIt = context.Load(dependency.Path); // the same image, one more reference
                Assert.Equal(dependency.BaseAddress, handleOnIt.BaseAddress);
                count += CompareModule(handleOnIt, byFile, $"{name} -> {dependency.Name}", failures);
            }
            output.WriteLine($"{name}: {count} relocations compared ({1 + dependencies.Count()} modules Loader mapped)");
            return count;
        }
        finally
        {
            Assert.Equal(0, Glibc.Close(handle));
        }
    }

    private long CompareModule(ElfLibrary library, Dictionary<string, Glibc.LoadedObject> glibc, string name, List<string> failures)
    {
        if (!glibc.TryGetValue(Glibc.RealPath(library.Path), out var theirs))
        {
            failures.Add($"{name}: glibc has no copy of {library.Path}");
            return 0;
        }
        long count = 0;
        foreach (var r in library.Relocations)
        {
            if (r.Type == X86_64RelocationType.None)
                continue;
            count++;
            bool narrow = r.Type is X86_64RelocationType.PC32 or X86_64RelocationType.R32 or X86_64RelocationType.R32S;
            nint slot = theirs.Base + (nint)r.Offset;
            ulong theirValue = narrow ? (uint)Marshal.ReadInt32(slot) : (ulong)Marshal.ReadInt64(slot);
            ulong ourValue = r.Value;
            // A PC-relative value is S + A − P: add each copy's own P back before normalizing.
            bool pcRelative = r.Type is X86_64RelocationType.PC32 or X86_64RelocationType.PC64;
            if (pcRelative)
            {
                ourValue += (ulong)r.Address;
                theirValue += (ulong)slot;
            }
            string what = $"{name}: {r.Table} {r.Type} at 0x{r.Offset:x} ({r.Symbol ?? "no symbol"}{(r.Version is null ? "" : "@" + r.Version)})";
            if (r.Symbol is "__cxa_thread_atexit" or "__cxa_thread_atexit_impl")
            {
                // By design: Loader binds a thread_local destructor's registration to its shim, glibc to libstdc++.
                if (ourValue != (ulong)Loader.Native.ThreadExitShim.Address)
                    failures.Add($"{what}: Loader wrote 0x{ourValue:x}, not its thread-exit shim");
                continue;
            }
            if (r.Symbol is "__tls_get_addr")
            {
                // By design: Loader binds it to its TLS server, which passes glibc's module IDs on to glibc's, the one
                // glibc binds (LoadOptions.ServeDynamicTls).
                nint glibcs = Loader.Native.DynamicLinker.Symbol(0, "__tls_get_addr", out _);
                if (ourValue != (ulong)Loader.Native.TlsServer.GetAddrIfMade || theirValue != (ulong)glibcs)
                    failures.Add($"{what}: Loader wrote 0x{ourValue:x}, not its TLS server's 0x{Loader.Native.TlsServer.GetAddrIfMade:x}; glibc 0x{theirValue:x}, not its own 0x{glibcs:x}");
                continue;
            }
            if (TlsRelocations.IsTls(r.Type))
            {
                if (TlsRelocations.Compare(library, r, slot, glibc) is { } difference)
                    failures.Add($"{what}: {difference}");
                continue;
            }
            if (r.DefinedBy is null || r.DefinedBy.IsHost)
            {
                // Unresolved weak (0 + addend) or a host library's definition: the same process-wide address.
                if (Truncate(ourValue, narrow) != Truncate(theirValue, narrow))
                    failures.Add($"{what}: Loader wrote 0x{ourValue:x} ({r.DefinedBy?.Name ?? "unresolved"}), glibc 0x{theirValue:x}");
                continue;
            }
            if (!glibc.TryGetValue(Glibc.RealPath(r.DefinedBy.Path), out var definer))
            {
                failures.Add($"{what}: defined by {r.DefinedBy.Name} in Loader, but glibc has no copy of {r.DefinedBy.Path}");
                continue;
            }
            ulong ourOffset = ourValue - (ulong)r.DefinedBy.BaseAddress;
            ulong theirOffset = theirValue - (ulong)definer.Base;
            // The same module: glibc's value must lie in glibc's copy of the definer (or one past its end), so two
            // dependencies built alike (interposition) cannot pass for each other by having equal offsets.
            bool inDefiner = narrow || (theirValue >= definer.Start && theirValue <= definer.End);
            if (Truncate(ourOffset, narrow) != Truncate(theirOffset, narrow) || !inDefiner)
            {
                // STB_GNU_UNIQUE: glibc keeps one definition per name for the whole process (and makes its owner
                // NODELETE), so a unique symbol another fixture defined earlier in this test run wins in glibc, while a
                // fresh LoaderContext starts its own table. Both must still be a definition of that same unique symbol.
                if (r.Symbol is { } unique && IsUniqueDefinition(r.DefinedBy.Path, unique, ourOffset)
                    && glibc.Values.FirstOrDefault(o => theirValue >= o.Start && theirValue < o.End) is { } holder
                    && IsUniqueDefinition(holder.RealPath, unique, theirValue - (ulong)holder.Base))
                {
                    output.WriteLine($"{what}: STB_GNU_UNIQUE: Loader {r.DefinedBy.Name}+0x{ourOffset:x} (its context's first), glibc the process's first, {Path.GetFileName(holder.RealPath)}: accepted");
                    continue;
                }
                string theirModule = glibc.Values.FirstOrDefault(o => theirValue >= o.Start && theirValue < o.End)?.RealPath ?? "no module";
                failures.Add($"{what}: Loader {r.DefinedBy.Name}+0x{ourOffset:x}, glibc {theirModule} (0x{theirValue:x}; {Path.GetFileName(definer.RealPath)}+0x{theirOffset:x})");
            }
        }
        return count;
    }

    /// <summary>True when <paramref name="path"/> defines <paramref name="symbol"/> as STB_GNU_UNIQUE at st_value <paramref name="offset"/>.</summary>
    private static bool IsUniqueDefinition(string path, string symbol, ulong offset)
    {
        using var file = ElfFile.Open(path);
        var symbols = file.DynamicSymbols;
        for (int i = 1; i < (symbols?.Count ?? 0); i++)
        {
            var sym = symbols![i];
            if (sym.Binding == SymbolBinding.GnuUnique && sym.Value == offset && symbols.GetName(i) == symbol)
                return true;
        }
        return false;
    }

    private static ulong Truncate(ulong value, bool narrow) => narrow ? value & 0xffff_ffff : value;
}
