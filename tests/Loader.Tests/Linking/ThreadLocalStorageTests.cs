using System.Runtime.InteropServices;
using Loader.Linking;
using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// Thread-local storage in every model glibc accepts (general and local dynamic, initial exec, TLSDESC) and
/// references to the host's own TLS: each thread — .NET's, present and future, and the library's own pthreads —
/// has its own copy, initialized from the image; two contexts hold independent blocks; a block that cannot fit
/// static TLS is refused in glibc's words with nothing left behind. Oracles: glibc's errno through the runtime,
/// glibc's <c>dlsym</c> of a host TLS symbol (the calling thread's address), and glibc's own <c>dlopen</c>.
/// </summary>
[Collection("AddressSpace")]
public sealed unsafe class ThreadLocalStorageTests
{
    private static readonly string[] ModelFixtures = ["tls/libtls_gd.so", "tls/libtls_ld.so", "tls/libtls_ie.so", "tls/libtls_desc.so",
        "tls/libtls_desc_dynamic.so", "linking/libtls.so"];

    /// <summary>Each model's fixture, its dynamic block served by Loader (true) and carried by glibc (false).</summary>
    public static TheoryData<string, bool> Models
    {
        get
        {
            var data = new TheoryData<string, bool>();
            foreach (string fixture in ModelFixtures)
            {
                data.Add(fixture, true);
                data.Add(fixture, false);
            }
            return data;
        }
    }

    private static LoadOptions Serving(bool serve) => new() { ServeDynamicTls = serve };

    [Theory]
    [MemberData(nameof(Models))]
    public void Each_thread_has_its_own_copy_initialized_from_the_image(string fixture, bool serve)
    {
        using var library = new LoaderContext().Load(Fixtures.Path(fixture), Serving(serve));
        var bump = (delegate* unmanaged<int>)library.GetExport("tls_bump");
        var get = (delegate* unmanaged<int>)library.GetExport(fixture == "linking/libtls.so" ? "tls_bump" : "tls_get_counter");
        Assert.NotNull(library.Tls);

        // Eight .NET threads, started after the load: each sees 5 first, then only its own increments.
        const int Threads = 8;
        var seen = new int[Threads];
        var after = new int[Threads];
        using var barrier = new Barrier(Threads);
        var threads = Enumerable.Range(0, Threads).Select(i => new Thread(() =>
        {
            seen[i] = fixture == "linking/libtls.so" ? bump() - 1 : get();
            barrier.SignalAndWait();
            int value = 0;
            for (int n = 0; n <= i * 10; n++)
                value = bump();
            barrier.SignalAndWait();
            after[i] = fixture == "linking/libtls.so" ? bump() - 1 : get();
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        Assert.All(seen, v => Assert.Equal(5, v));
        var expected = Enumerable.Range(0, Threads).Select(i => (fixture == "linking/libtls.so" ? 5 + 1 : 5) + i * 10 + 1).ToArray();
        Assert.Equal(expected, after);
    }

    [Theory]
    [InlineData("tls/libtls_gd.so", true)]
    [InlineData("tls/libtls_gd.so", false)]
    [InlineData("tls/libtls_ld.so", true)]
    [InlineData("tls/libtls_ld.so", false)]
    [InlineData("tls/libtls_ie.so", true)]
    [InlineData("tls/libtls_desc.so", true)]
    [InlineData("tls/libtls_desc_dynamic.so", true)]
    [InlineData("tls/libtls_desc_dynamic.so", false)]
    public void Threads_the_library_creates_itself_start_fresh_and_leave_the_callers_copy(string fixture, bool serve)
    {
        using var library = new LoaderContext().Load(Fixtures.Path(fixture), Serving(serve));
        var fresh = (delegate* unmanaged<int>)library.GetExport("tls_fresh");
        var set = (delegate* unmanaged<int, void>)library.GetExport("tls_set_counter");
        var check = (delegate* unmanaged<int, int>)library.GetExport("tls_threads_check");

        Assert.Equal(1, fresh()); // this thread existed before the load: its copy was initialized too
        set(42);
        Assert.Equal(8, check(8));
        Assert.Equal(0, fresh()); // our counter is still 42
    }

    [Fact]
    public void The_block_is_described_and_each_model_gets_what_its_code_needs()
    {
        using var gd = new LoaderContext().Load(Fixtures.Path("tls/libtls_gd.so"));
        using var ie = new LoaderContext().Load(Fixtures.Path("tls/libtls_ie.so"));
        using var desc = new LoaderContext().Load(Fixtures.Path("tls/libtls_desc.so"));
        using var elf = Loader.Elf.ElfFile.Open(Fixtures.Path("tls/libtls_gd.so"));
        var tls = elf.ProgramHeaders.Last(p => p.Type == Loader.Elf.SegmentType.Tls);

        Assert.Equal(TlsModel.Dynamic, gd.Tls!.Model);
        Assert.Null(gd.Tls.StaticOffset);
        Assert.Equal(tls.MemorySize, gd.Tls.Size);
        Assert.Equal(tls.FileSize, gd.Tls.ImageSize);
        Assert.Equal(64ul, gd.Tls.Alignment);
        Assert.Equal(TlsModel.Static, ie.Tls!.Model);
        Assert.Equal(TlsModel.Static, desc.Tls!.Model);
        Assert.True(ie.Tls.StaticOffset < 0, "x86_64 static TLS lies below the thread pointer");
        Assert.NotEqual(gd.Tls.ModuleId, ie.Tls.ModuleId);

        // The module's own code agrees: &tls_counter is the block's address plus the symbol's offset.
        var address = (delegate* unmanaged<nint>)ie.GetExport("tls_counter_address");
        ulong value = SymbolValue("tls/libtls_ie.so", "tls_counter");
        Assert.Equal(Glibc.ThreadPointer() + (nint)ie.Tls.StaticOffset!.Value + (nint)value, address());
    }

    [Theory]
    [InlineData("tls/libtls_desc.so", TlsModel.Static, true)]
    [InlineData("tls/libtls_desc_dynamic.so", TlsModel.Dynamic, true)]
    [InlineData("tls/libtls_desc_dynamic.so", TlsModel.Dynamic, false)]
    public void A_tlsdesc_call_keeps_every_vector_register(string fixture, TlsModel model, bool serve)
    {
        using var library = new LoaderContext().Load(Fixtures.Path(fixture), Serving(serve));
        Assert.Equal(model, library.Tls!.Model);
        var here = (delegate* unmanaged<int>)library.GetExport("tls_vectors_survive");
        var fresh = (delegate* unmanaged<int>)library.GetExport("tls_vectors_survive_in_new_thread");
        // A new thread's first access takes the resolver's slow path (__tls_get_addr allocates the block).
        Assert.Equal(1, fresh());
        Assert.Equal(1, here());
        int fromNewDotnetThread = 0;
        var thread = new Thread(() => fromNewDotnetThread = here());
        thread.Start();
        thread.Join();
        Assert.Equal(1, fromNewDotnetThread);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Two_contexts_hold_independent_blocks(bool serve)
    {
        using var a = new LoaderContext().Load(Fixtures.Path("tls/libtls_gd.so"), Serving(serve));
        using var b = new LoaderContext().Load(Fixtures.Path("tls/libtls_gd.so"), Serving(serve));
        var setA = (delegate* unmanaged<int, void>)a.GetExport("tls_set_counter");
        var getB = (delegate* unmanaged<int>)b.GetExport("tls_get_counter");
        var addressA = (delegate* unmanaged<nint>)a.GetExport("tls_counter_address");
        var addressB = (delegate* unmanaged<nint>)b.GetExport("tls_counter_address");

        setA(99);
        Assert.Equal(5, getB());
        Assert.NotEqual(addressA(), addressB());
        Assert.NotEqual(a.Tls!.ModuleId, b.Tls!.ModuleId);
    }

    [Fact]
    public void References_to_the_hosts_tls_reach_the_hosts_own_variables()
    {
        using var library = new LoaderContext().Load(Fixtures.Path("tls/libtls_host.so"));
        var setErrno = (delegate* unmanaged<int, void>)library.GetExport("host_errno_set");
        var errnoAddress = (delegate* unmanaged<nint>)library.GetExport("host_errno_address");
        var onceCallable = (delegate* unmanaged<nint>)library.GetExport("host_once_callable_address");
        Assert.Null(library.Tls); // it has no PT_TLS of its own

        // errno (static TLS, TPOFF64): what the library writes is this thread's errno, as the runtime reads it.
        setErrno(4321);
        Assert.Equal(4321, Marshal.GetLastSystemError());
        // libstdc++'s std::__once_callable (DTPMOD64/DTPOFF64): glibc's dlsym gives the calling thread's address.
        nint libstdcxx = Glibc.OpenLoaded("libstdc++.so.6");
        Assert.True(libstdcxx != 0, "libstdc++.so.6 is in the test process");
        try
        {
            Assert.Equal(Glibc.Symbol(libstdcxx, "_ZSt15__once_callable"), onceCallable());
        }
        finally
        {
            Glibc.Close(libstdcxx);
        }

        // Another thread: its own errno, its own __once_callable.
        nint here = errnoAddress(), there = 0;
        var thread = new Thread(() => there = errnoAddress());
        thread.Start();
        thread.Join();
        Assert.NotEqual(here, there);
    }

    [Fact]
    public void An_initial_exec_block_too_large_for_static_tls_is_refused_in_glibcs_words()
    {
        var context = new LoaderContext();
        var e = Assert.ThrowsAny<LoaderException>(() => context.Load(Fixtures.Path("tls/libtls_ie_huge.so")));
        Assert.Contains("cannot allocate memory in static TLS block", e.Message, StringComparison.Ordinal);
        Assert.Contains("libtls_ie_huge.so", e.Message, StringComparison.Ordinal);
        Assert.Empty(context.LoadedLibraries);
        // The carrier offered to glibc is gone with its memfd.
        Assert.DoesNotContain(Directory.GetFiles("/proc/self/fd").Select(f => new FileInfo(f).LinkTarget ?? ""),
            target => target.Contains("loader-tls:libtls_ie_huge.so", StringComparison.Ordinal));

        // glibc, asked the same, says the same. (dlerror is called once first: the runtime binds it on its first call,
        // and the dlsym that binding takes would clear the message.)
        Glibc.LastError();
        nint handle = Glibc.Open(Fixtures.Path("tls/libtls_ie_huge.so"));
        Assert.Equal(0, handle);
        Assert.Contains("cannot allocate memory in static TLS block", Glibc.LastError(), StringComparison.Ordinal);
    }

    [Fact]
    public void Glibc_writes_nothing_into_a_dynamic_blocks_carrier_and_only_the_slots_page_of_a_static_ones() // dynamic: carried on request
    {
        // Private copies: the carriers' memfds are named after the module's file, so smaps finds exactly these two.
        string directory = Directory.CreateTempSubdirectory("loader-tls-carrier-pages-").FullName;
        try
        {
            string dynamicPath = Path.Combine(directory, "libtls_gd_carrier_pages.so");
            string staticPath = Path.Combine(directory, "libtls_ie_carrier_pages.so");
            File.Copy(Fixtures.Path("tls/libtls_gd.so"), dynamicPath);
            File.Copy(Fixtures.Path("tls/libtls_ie.so"), staticPath);
            using var dynamicBlock = new LoaderContext().Load(dynamicPath, Serving(false));
            using var staticBlock = new LoaderContext().Load(staticPath);
            Assert.Equal(TlsModel.Dynamic, dynamicBlock.Tls!.Model);
            Assert.Equal(TlsModel.Static, staticBlock.Tls!.Model);

            // The kernel's account of each carrier's mapping: resident pages (glibc read them), and the private
            // copies made when something wrote to them ("Anonymous"; a memfd's own pages count as dirty, so
            // Private_Dirty says nothing here). A writable PT_DYNAMIC would have glibc write the load bias into its
            // entries: a copied page in each.
            var dynamicPages = CarrierPages("libtls_gd_carrier_pages.so");
            var staticPages = CarrierPages("libtls_ie_carrier_pages.so");
            Assert.True(dynamicPages.RssKb > 0, "glibc read the dynamic block's carrier");
            Assert.Equal(0, dynamicPages.AnonymousKb);
            Assert.Equal(Environment.SystemPageSize / 1024, staticPages.AnonymousKb); // the TPOFF64 slot's page, once
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    // Sums smaps' fields over the mappings of the memfd glibc loaded as the carrier of the module file named.
    private static (long RssKb, long AnonymousKb) CarrierPages(string moduleFileName)
    {
        string label = "/memfd:loader-tls:" + moduleFileName;
        long rss = 0, anonymous = 0;
        bool inCarrier = false, found = false;
        foreach (string line in File.ReadLines("/proc/self/smaps"))
        {
            string[] field = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (!field[0].EndsWith(':')) // a mapping's first line, "start-end perms offset dev inode path"; then "Name: value"
            {
                inCarrier = line.Contains(label, StringComparison.Ordinal);
                found |= inCarrier;
                continue;
            }
            if (!inCarrier)
                continue;
            long kb() => long.Parse(field[1], System.Globalization.CultureInfo.InvariantCulture);
            switch (field[0])
            {
                case "Rss:": rss += kb(); break;
                case "Anonymous:": anonymous += kb(); break;
            }
        }
        Assert.True(found, $"no mapping of {label} in /proc/self/smaps");
        return (rss, anonymous);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_thousand_loads_and_unloads_with_threads_using_the_block_stay_bounded(bool serve)
    {
        // A private copy: other tests read or map the fixture itself at the same time, and /proc/self/maps is checked.
        string directory = Directory.CreateTempSubdirectory("loader-tls-cycles-").FullName;
        string path = Path.Combine(directory, "libtls_cycles.so");
        File.Copy(Fixtures.Path("tls/libtls_gd.so"), path);
        const int Workers = 4, Warmup = 100, Cycles = 1000;
        delegate* unmanaged<int> bump = null;
        using var start = new Barrier(Workers + 1);
        using var done = new Barrier(Workers + 1);
        bool stop = false;
        var workers = Enumerable.Range(0, Workers).Select(_ => new Thread(() =>
        {
            for (start.SignalAndWait(); !Volatile.Read(ref stop); start.SignalAndWait())
            {
                bump(); // this thread's block of this load's module: made now; served, it is filled again next cycle
                done.SignalAndWait();
            }
        })).ToList();
        workers.ForEach(t => t.Start());

        (long Rss, int Fds, int Maps) Measure()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            long rss = MemoryHeldChild.ResidentBytes() / 1024;
            return (rss, Directory.GetFiles("/proc/self/fd").Length, File.ReadLines("/proc/self/maps").Count());
        }

        (long Rss, int Fds, int Maps) before = default, middle = default;
        for (int cycle = 0; cycle < Warmup + Cycles; cycle++)
        {
            if (cycle == Warmup)
                before = Measure();
            if (cycle == Warmup + Cycles / 2)
                middle = Measure();
            using (var library = new LoaderContext().Load(path, Serving(serve)))
            {
                bump = (delegate* unmanaged<int>)library.GetExport("tls_bump");
                Assert.Equal(6, bump());
                start.SignalAndWait();
                done.SignalAndWait();
            }
        }
        Volatile.Write(ref stop, true);
        start.SignalAndWait();
        workers.ForEach(t => t.Join());
        var after = Measure();

        Assert.Equal(before.Fds, after.Fds); // every carrier's memfd closed
        // No image or carrier left mapped, and no growth from the middle to the end (the runtime's own arenas and code
        // heaps settle during the first half).
        Assert.DoesNotContain(File.ReadLines("/proc/self/maps"), l => l.Contains(path, StringComparison.Ordinal) || l.Contains("loader-tls:libtls_cycles", StringComparison.Ordinal));
        Directory.Delete(directory, recursive: true);
        Assert.True(after.Maps - middle.Maps <= 4, $"mappings: {before.Maps} after warm-up, {middle.Maps} half-way, {after.Maps} at the end");
        Assert.True(after.Rss - middle.Rss < 8 * 1024, $"RSS: {before.Rss} KiB after warm-up, {middle.Rss} half-way, {after.Rss} at the end");
    }

    private static ulong SymbolValue(string fixture, string name)
    {
        using var file = Loader.Elf.ElfFile.Open(Fixtures.Path(fixture));
        var symbols = file.DynamicSymbols!;
        for (int i = 1; i < symbols.Count; i++)
            if (symbols.GetName(i) == name)
                return symbols[i].Value;
        throw new InvalidOperationException($"{fixture} has no symbol {name}");
    }
}
