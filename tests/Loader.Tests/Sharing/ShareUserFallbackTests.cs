using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Loader.Mapping;
using Loader.Tests.Cli;
using Loader.Tests.Oracles;

namespace Loader.Tests.Sharing;

/// <summary>
/// A user process that cannot claim the writer's address loads elsewhere without sharing and says why. The test plays
/// the writer: it starts <c>loader share FILE --child-socket NAME</c>, hands it a descriptor over the socket
/// (SCM_RIGHTS) with an address no process can map (in the kernel's half of the address space), and reads its report.
/// </summary>
public sealed class ShareUserFallbackTests
{
    private const ulong KernelHalf = 0xffff_8000_0000_0000;

    [Fact]
    public async Task A_user_that_cannot_claim_the_address_loads_elsewhere_says_why_and_works()
    {
        string name = $"loader-test-{Environment.ProcessId}-{Guid.NewGuid():N}";
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint("\0" + name));
        listener.Listen(1);
        using var relro = RelroFile.CreateMemfd("loader-test-fallback");
        RandomAccess.Write(relro, new byte[4096], 0);
        using var user = ChildProcess.Start("dotnet",
            [LoaderProcess.FindCliAssembly(), "share", Fixtures.Path("relro_share.so"), "--child-socket", name, "--call", "long relro_share_sum(void)"]);
        var accepting = listener.AcceptAsync();
        var first = await Task.WhenAny(accepting, user.WaitForExitAsync());
        Assert.True(first == accepting || accepting.IsCompleted, $"the user process exited with {(user.HasExited ? user.ExitCode : 0)} before connecting");
        using var connection = await accepting;

        var payload = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(payload, KernelHalf); // no process maps there, root or not
        BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(8), 0x40000);
        DescriptorPassing.Send(connection, payload, relro);
        string line = ReadLine(connection);
        connection.Send([1]);
        await user.WaitForExitAsync();

        var report = JsonDocument.Parse(line).RootElement;
        Assert.False(report.GetProperty("claimed").GetBoolean());
        Assert.Contains("MAP_FIXED_NOREPLACE", report.GetProperty("whyNot").GetString(), StringComparison.Ordinal);
        Assert.True(report.GetProperty("baseAddress").GetUInt64() < KernelHalf);
        Assert.Equal(0, report.GetProperty("pagesShared").GetInt32());
        Assert.True(report.GetProperty("pagesPrivate").GetInt32() > 0);
        Assert.Equal("22016", report.GetProperty("callResult").GetString());
        Assert.Equal(0, user.ExitCode);
    }

    [Fact]
    public void Claiming_an_address_in_use_fails_with_EEXIST_and_leaves_it_alone()
    {
        var taken = AddressReservation.Reserve(0x10000);
        try
        {
            Assert.False(AddressReservation.TryClaim(taken.Start, taken.Length, out _, out string? whyNot));
            Assert.Contains("EEXIST", whyNot, StringComparison.Ordinal);
            Assert.Single(ProcMaps.Read(), m => m.Start <= (ulong)taken.Start && m.End >= (ulong)taken.End && m.Permissions == "---p");
        }
        finally
        {
            AddressReservation.Release(taken);
        }
    }

    private static string ReadLine(Socket connection)
    {
        var bytes = new List<byte>();
        var one = new byte[1];
        while (connection.Receive(one) == 1 && one[0] != (byte)'\n')
            bytes.Add(one[0]);
        return Encoding.UTF8.GetString([.. bytes]);
    }
}
