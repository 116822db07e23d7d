using System.Runtime.InteropServices;
using Loader.Linking;
using Loader.Native;
using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// Dynamic TLS blocks Loader serves itself (<see cref="TlsServer"/>, <see cref="LoadOptions.ServeDynamicTls"/>): no
/// carrier is made, the module ID is Loader's, a slot a later module gets starts fresh in a thread that used the slot's
/// earlier module (whether its block is larger or smaller), and an exiting thread's blocks are freed. The behaviour of
/// each TLS model, served and carried, is <see cref="ThreadLocalStorageTests"/>'; the oracle for freeing is glibc's
/// carrier, run the same way in a child process.
/// </summary>
[Collection("AddressSpace")]
public sealed unsafe class TlsServerTests
{
    /// <summary>The child scenario: load PATH (SERVE true or false), have the library start 64 threads that each use
    /// the block, ROUNDS times, and print how much the resident set grew from the tenth round to the last, in KiB.</summary>
    public const string ThreadExitsScenario = "tls-thread-exits";

    [Fact]
    public void A_served_block_has_loaders_module_id_and_no_carrier()
    {
        string directory = Directory.CreateTempSubdirectory("loader-tls-served-").FullName;
        try
        {
            string path = Path.Combine(directory, "libtls_served_probe.so");
            File.Copy(Fixtures.Path("tls/libtls_gd.so"), path);
            using var library = new LoaderContext().Load(path);
            var fresh = (delegate* unmanaged<int>)library.GetExport("tls_fresh");

            Assert.Equal(TlsModel.Dynamic, library.Tls!.Model);
            Assert.True(TlsServer.IsServed(library.Tls.ModuleId), $"module ID 0x{library.Tls.ModuleId:x}");
            Assert.Equal(1, fresh());
            Assert.DoesNotContain(File.ReadLines("/proc/self/maps"), l => l.Contains("loader-tls:libtls_served_probe", StringComparison.Ordinal));
            // The server's one carrier, for the process: the static slot where each thread's table pointer is read.
            Assert.Contains(File.ReadLines("/proc/self/maps"), l => l.Contains("loader-tls:" + ServedTlsBlock.TableSlotName, StringComparison.Ordinal));
            Assert.DoesNotContain(Directory.GetFiles("/proc/self/fd").Select(f => new FileInfo(f).LinkTarget ?? ""),
                target => target.Contains("loader-tls:libtls_served_probe", StringComparison.Ordinal));

            // Asked for carriers, the same file gets one, with glibc's module ID.
            using var carried = new LoaderContext().Load(path, new LoadOptions { ServeDynamicTls = false });
            Assert.False(TlsServer.IsServed(carried.Tls!.ModuleId));
            Assert.Contains(File.ReadLines("/proc/self/maps"), l => l.Contains("loader-tls:libtls_served_probe", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [InlineData("tls/libtls_gd_small.so", "tls/libtls_gd.so")] // the thread's old block is too small: replaced
    [InlineData("tls/libtls_gd.so", "tls/libtls_gd_small.so")] // large enough: filled again in place
    [InlineData("tls/libtls_gd.so", "tls/libtls_gd.so")]
    public void A_slot_given_to_a_later_module_starts_fresh_in_a_thread_that_used_the_earlier_one(string earlier, string later)
    {
        // One thread does it all, so that its table holds a block of the earlier module when the later one gets the slot.
        // The freed slot is the next one given out unless another test serves a block in between: then try again.
        int reused = 0, freshInReusedSlot = 0;
        var thread = new Thread(() =>
        {
            for (int attempt = 0; attempt < 5 && reused == 0; attempt++)
            {
                ulong earlierId;
                using (var first = new LoaderContext().Load(Fixtures.Path(earlier)))
                {
                    earlierId = first.Tls!.ModuleId;
                    ((delegate* unmanaged<int, void>)first.GetExport("tls_set_counter"))(4242);
                    ((delegate* unmanaged<long, long>)first.GetExport("tls_local_add"))(1000);
                    nint dirty = Marshal.StringToHGlobalAnsi("dirty");
                    ((delegate* unmanaged<nint, void>)first.GetExport("tls_text_set"))(dirty);
                    Marshal.FreeHGlobal(dirty);
                }
                using var second = new LoaderContext().Load(Fixtures.Path(later));
                if (second.Tls!.ModuleId != earlierId)
                    continue;
                reused++;
                freshInReusedSlot += ((delegate* unmanaged<int>)second.GetExport("tls_fresh"))();
            }
        });
        thread.Start();
        thread.Join();
        Assert.Equal(1, reused);
        Assert.Equal(1, freshInReusedSlot);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)] // glibc's carrier: the oracle
    public void An_exiting_threads_blocks_are_freed(bool serve)
    {
        // 100 rounds of 64 threads, each with a block of 4.2 KiB: 26 MiB if exiting threads kept them.
        var run = ChildProcess.Run("dotnet", [typeof(TlsServerTests).Assembly.Location, ThreadExitsScenario,
            Fixtures.Path("tls/libtls_gd.so"), serve ? "true" : "false", "110"]);
        Assert.True(run.ExitCode == 0, $"child: exit {run.ExitCode}\n{run.Stdout}\n{run.Stderr}");
        long grewKb = long.Parse(run.Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(grewKb < 4 * 1024, $"the resident set grew by {grewKb} KiB over 6,400 threads that each used the block");
    }

    /// <summary>The child scenario: fill glibc's static TLS with initial-exec blocks until it refuses one, then serve a
    /// dynamic block — the server, made now, has no static slot for its tables and finds them through its key — and
    /// check it the way <see cref="ThreadLocalStorageTests"/> does. Prints <c>ok</c>.</summary>
    public const string WithoutStaticSlotScenario = "tls-server-without-static-slot";

    [Fact]
    public void Without_static_tls_left_the_server_finds_each_threads_table_through_its_key()
    {
        var run = ChildProcess.Run("dotnet", [typeof(TlsServerTests).Assembly.Location, WithoutStaticSlotScenario,
            Fixtures.Path("tls/libtls_ie.so"), Fixtures.Path("tls/libtls_gd.so")]);
        Assert.True(run.ExitCode == 0 && run.Stdout.Contains("ok", StringComparison.Ordinal),
            $"child: exit {run.ExitCode}\n{run.Stdout}\n{run.Stderr}");
    }

    /// <summary><see cref="WithoutStaticSlotScenario"/>, in the child.</summary>
    public static int ServeWithoutStaticSlot(string initialExec, string dynamic)
    {
        string directory = Directory.CreateTempSubdirectory("loader-tls-no-static-").FullName;
        var held = new List<ElfLibrary>();
        try
        {
            // Copies, each a block of its own in static TLS, carried (no server yet), until glibc has no room left.
            bool full = false;
            for (int i = 0; i < 500 && !full; i++)
            {
                string copy = Path.Combine(directory, $"ie{i}.so");
                File.Copy(initialExec, copy);
                try
                {
                    held.Add(new LoaderContext().Load(copy, new LoadOptions { ServeDynamicTls = false }));
                }
                catch (LoaderException e) when (e.Message.Contains("cannot allocate memory in static TLS block", StringComparison.Ordinal))
                {
                    full = true;
                }
            }
            if (!full || TlsServer.GetAddrIfMade != 0)
                return 3;
            using var library = new LoaderContext().Load(dynamic);
            if (!TlsServer.IsServed(library.Tls!.ModuleId))
                return 4;
            if (File.ReadLines("/proc/self/maps").Any(l => l.Contains("loader-tls:" + ServedTlsBlock.TableSlotName, StringComparison.Ordinal)))
                return 5; // the static slot was placed after all: this scenario tests nothing
            var fresh = (delegate* unmanaged<int>)library.GetExport("tls_fresh");
            var set = (delegate* unmanaged<int, void>)library.GetExport("tls_set_counter");
            var check = (delegate* unmanaged<int, int>)library.GetExport("tls_threads_check");
            if (fresh() != 1)
                return 6;
            set(42);
            if (check(8) != 8 || fresh() != 0)
                return 7;
            Console.WriteLine("ok");
            return 0;
        }
        finally
        {
            foreach (var library in held)
                library.Dispose();
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>The child scenario: DIRECTORY holds libinterpose_user.so, libinterpose_first.so and, as
    /// libinterpose_second.so, a TLS library that lacks what the user needs from it. Its block is served while the
    /// dependencies are relocated, then the user's relocation fails: prints the slots in use before, after a load of the
    /// TLS library alone, after its unload, and after the failed load.</summary>
    public const string RollbackScenario = "tls-server-rollback";

    [Fact]
    public void A_load_that_fails_after_a_dependency_got_its_block_gives_the_slot_back()
    {
        string directory = Directory.CreateTempSubdirectory("loader-tls-rollback-").FullName;
        try
        {
            File.Copy(Fixtures.Path("linking/libinterpose_user.so"), Path.Combine(directory, "libinterpose_user.so"));
            File.Copy(Fixtures.Path("linking/libinterpose_first.so"), Path.Combine(directory, "libinterpose_first.so"));
            File.Copy(Fixtures.Path("tls/libtls_gd.so"), Path.Combine(directory, "libinterpose_second.so")); // no second_only
            var run = ChildProcess.Run("dotnet", [typeof(TlsServerTests).Assembly.Location, RollbackScenario, directory]);
            Assert.True(run.ExitCode == 0, $"child: exit {run.ExitCode}\n{run.Stdout}\n{run.Stderr}");
            // Before, with the TLS library alone (one slot: the check is not vacuous), after its unload, after the failure.
            Assert.Equal("0 1 0 0", run.Stdout.Trim());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary><see cref="RollbackScenario"/>, in the child.</summary>
    public static int RollBack(string directory)
    {
        int before = TlsServer.SlotsInUse;
        int alone;
        using (var library = new LoaderContext().Load(Path.Combine(directory, "libinterpose_second.so")))
            alone = TlsServer.SlotsInUse;
        int unloaded = TlsServer.SlotsInUse;
        try
        {
            new LoaderContext().Load(Path.Combine(directory, "libinterpose_user.so"), new LoadOptions { LdLibraryPath = "" });
            return 3;
        }
        catch (SymbolNotFoundException e) when (e.Symbol == "second_only")
        {
        }
        Console.WriteLine($"{before} {alone} {unloaded} {TlsServer.SlotsInUse}");
        return 0;
    }

    /// <summary><see cref="ThreadExitsScenario"/>, in the child.</summary>
    public static int MeasureThreadExits(string path, bool serve, int rounds)
    {
        using var library = new LoaderContext().Load(path, new LoadOptions { ServeDynamicTls = serve });
        if (TlsServer.IsServed(library.Tls!.ModuleId) != serve)
            return 3;
        var check = (delegate* unmanaged<int, int>)library.GetExport("tls_threads_check");
        long at10 = 0;
        for (int round = 0; round < rounds; round++)
        {
            if (round == 10)
                at10 = MemoryHeldChild.ResidentBytes() / 1024;
            if (check(64) != 64)
                return 4;
        }
        Console.WriteLine(MemoryHeldChild.ResidentBytes() / 1024 - at10);
        return 0;
    }
}
