using System.Text.Json;
using Loader.Tests.Cli;
using Loader.Tests.Oracles;

namespace Loader.Tests.Sharing;

/// <summary>
/// Shared RELRO between processes: <c>loader share FILE --processes N --json</c> run as a real process (the writer),
/// which starts N more (the users) and reads each one's /proc/PID/smaps over its RELRO. The kernel is the oracle: in a
/// user, every page the loader reports shared is resident in a MAP_SHARED mapping and counted as shared (Shared_Clean
/// or Shared_Dirty: tmpfs pages written with pwrite stay dirty), and every page it kept private (its relocated bytes
/// differ from the writer's) is Private_Dirty.
/// </summary>
public sealed class ShareCommandProcessTests
{
    private const string Crypto = "/usr/lib/x86_64-linux-gnu/libcrypto.so.3";
    private const string Python = "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0";

    [Fact]
    public void The_fixture_is_shared_except_the_page_of_libc_pointers_under_ASLR()
    {
        var report = Share(aslrOff: false, Fixtures.Path("relro_share.so"), "--processes", "2", "--call", "long relro_share_sum(void)");
        Assert.False(report.GetProperty("aslrDisabled").GetBoolean());
        var users = AssertEveryProcessAgreesWithSmaps(report, expectedCall: "22016");
        foreach (var user in users)
        {
            // libc lies elsewhere in each process: the page of strlen pointers differs, and stays private.
            Assert.True(user.GetProperty("pagesPrivate").GetInt32() >= 1, $"user {user.GetProperty("pid")} kept no page private");
            Assert.True(user.GetProperty("pagesShared").GetInt32() >= 8, $"user {user.GetProperty("pid")}: the 8 pages of self pointers are not all shared");
        }
    }

    [Fact]
    public void With_ASLR_off_in_both_processes_libcrypto_shares_at_least_95_percent_of_its_RELRO()
    {
        var report = Share(aslrOff: true, Crypto, "--processes", "2", "--call", "unsigned long OpenSSL_version_num(void)");
        Assert.True(report.GetProperty("aslrDisabled").GetBoolean(), "setarch -R did not turn ASLR off in the writer");
        ulong relro = report.GetProperty("relroSize").GetUInt64();
        foreach (var user in AssertEveryProcessAgreesWithSmaps(report, expectedCall: null))
        {
            ulong shared = user.GetProperty("memory").GetProperty("sharedMappingRss").GetUInt64();
            Assert.True(shared * 100 >= relro * 95, $"user {user.GetProperty("pid")} shares 0x{shared:x} of 0x{relro:x} RELRO bytes (< 95%)");
        }
    }

    [Fact]
    public void Libcrypto_under_ASLR_shares_what_does_not_point_into_libc()
    {
        var report = Share(aslrOff: false, Crypto, "--processes", "2", "--call", "unsigned long OpenSSL_version_num(void)");
        foreach (var user in AssertEveryProcessAgreesWithSmaps(report, expectedCall: null))
            Assert.True(user.GetProperty("pagesShared").GetInt32() > user.GetProperty("pagesPrivate").GetInt32());
    }

    [Fact]
    public void Libpython_through_a_POSIX_shared_memory_object_and_the_name_is_unlinked_after()
    {
        string name = $"/loader-share-test-{Environment.ProcessId}";
        var report = Share(aslrOff: false, Python, "--processes", "2", "--shm", name, "--call", "const char *Py_GetVersion(void)");
        Assert.Equal("shm", report.GetProperty("medium").GetString());
        var users = AssertEveryProcessAgreesWithSmaps(report, expectedCall: null);
        foreach (var process in report.GetProperty("processes").EnumerateArray())
            Assert.StartsWith("3.11.", process.GetProperty("callResult").GetString(), StringComparison.Ordinal);
        Assert.All(users, u => Assert.True(u.GetProperty("pagesShared").GetInt32() > 0));
        Assert.False(File.Exists("/dev/shm" + name), $"/dev/shm{name} was left behind");
    }

    [Fact]
    public void Through_a_file_on_disk_the_shared_pages_are_Shared_Clean_and_the_file_is_removed_after()
    {
        // Beside the test assembly: on the disk the tests were built on, not a tmpfs /tmp.
        string file = Path.Combine(AppContext.BaseDirectory, $"loader-relro-{Environment.ProcessId}-{Guid.NewGuid():N}");
        var report = Share(aslrOff: false, Fixtures.Path("relro_share.so"), "--processes", "2", "--file", file, "--call", "long relro_share_sum(void)");
        Assert.Equal("file", report.GetProperty("medium").GetString());
        ulong page = report.GetProperty("pageSize").GetUInt64();
        foreach (var user in AssertEveryProcessAgreesWithSmaps(report, expectedCall: "22016"))
        {
            // Written, then fdatasync'ed: clean pages, one copy in the page cache for every process.
            ulong shared = (ulong)user.GetProperty("pagesShared").GetInt32() * page;
            Assert.Equal(shared, user.GetProperty("memory").GetProperty("sharedClean").GetUInt64());
            Assert.Equal(0UL, user.GetProperty("memory").GetProperty("sharedDirty").GetUInt64());
        }
        Assert.False(File.Exists(file), $"{file} was left behind");
    }

    [Fact]
    public void The_text_table_names_every_process_and_the_memory_saved()
    {
        var result = LoaderProcess.Run("share", Fixtures.Path("relro_share.so"), "--processes", "1");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("writer", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("user 1", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("Shared_Dirty", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("saved: ", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void A_prototype_with_parameters_is_a_usage_error()
    {
        var result = LoaderProcess.Run("share", Fixtures.Path("basic.so"), "--call", "int add(int a, int b)");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("without parameters", result.Stderr, StringComparison.Ordinal);
    }

    /// <summary>Runs <c>loader share ... --json</c> (under <c>setarch -R</c> when asked) and returns the report.</summary>
    private static JsonElement Share(bool aslrOff, params string[] arguments)
    {
        string[] share = ["share", .. arguments, "--json"];
        var result = aslrOff
            ? ChildProcess.Run("setarch", ["-R", "dotnet", LoaderProcess.FindCliAssembly(), .. share])
            : LoaderProcess.Run(share);
        Assert.True(result.ExitCode == 0, $"loader share exited with {result.ExitCode}: {result.Stderr}\n{result.Stdout}");
        return JsonDocument.Parse(result.Stdout).RootElement.Clone();
    }

    /// <summary>
    /// Every user claimed the writer's address and works; /proc/PID/smaps over its RELRO agrees with what Loader
    /// reports: the resident MAP_SHARED pages are exactly the shared pages, the kernel counts them shared, and the
    /// private pages are Private_Dirty. Returns the users.
    /// </summary>
    private static List<JsonElement> AssertEveryProcessAgreesWithSmaps(JsonElement report, string? expectedCall)
    {
        ulong page = report.GetProperty("pageSize").GetUInt64(), relro = report.GetProperty("relroSize").GetUInt64();
        var processes = report.GetProperty("processes").EnumerateArray().ToList();
        var writer = processes[0];
        Assert.Equal("writer", writer.GetProperty("role").GetString());
        Assert.Equal((int)(relro / page), writer.GetProperty("pagesShared").GetInt32());
        var users = processes.Skip(1).ToList();
        Assert.NotEmpty(users);
        ulong saved = 0;
        foreach (var p in processes)
        {
            string who = $"{p.GetProperty("role").GetString()} {p.GetProperty("pid")}";
            Assert.True(p.GetProperty("error").ValueKind == JsonValueKind.Null, $"{who}: {p.GetProperty("error")}");
            Assert.True(p.GetProperty("claimed").GetBoolean(), $"{who} did not claim the address: {p.GetProperty("whyNot")}");
            Assert.Equal(writer.GetProperty("baseAddress").GetUInt64(), p.GetProperty("baseAddress").GetUInt64());
            Assert.NotEqual(0UL, p.GetProperty("exportAddress").GetUInt64());
            if (expectedCall is not null)
                Assert.Equal(expectedCall, p.GetProperty("callResult").GetString());
            if (p.GetProperty("role").GetString() != "user")
                continue;
            ulong shared = (ulong)p.GetProperty("pagesShared").GetInt32() * page, kept = (ulong)p.GetProperty("pagesPrivate").GetInt32() * page;
            Assert.Equal(relro, shared + kept);
            var memory = p.GetProperty("memory");
            Assert.True(memory.GetProperty("rss").GetUInt64() == relro, $"{who}: Rss {memory.GetProperty("rss")} over a RELRO of {relro}");
            Assert.True(memory.GetProperty("sharedMappingRss").GetUInt64() == shared, $"{who}: the MAP_SHARED pages' Rss is not the {shared} bytes shared");
            ulong kernelShared = memory.GetProperty("sharedClean").GetUInt64() + memory.GetProperty("sharedDirty").GetUInt64();
            Assert.True(kernelShared == shared, $"{who}: smaps counts {kernelShared} bytes shared, Loader mapped {shared} from the file");
            Assert.True(memory.GetProperty("privateDirty").GetUInt64() == kept, $"{who}: Private_Dirty {memory.GetProperty("privateDirty")}, {kept} bytes kept private");
            saved += memory.GetProperty("sharedMappingRss").GetUInt64();
        }
        Assert.Equal(saved, report.GetProperty("savedBytes").GetUInt64());
        return users;
    }
}
