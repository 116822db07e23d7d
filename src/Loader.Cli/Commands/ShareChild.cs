using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Loader.Calling;
using Loader.Cli.Rendering;
using Loader.Mapping;
using Microsoft.Win32.SafeHandles;

namespace Loader.Cli.Commands;

/// <summary>
/// A user process of <c>loader share</c> (the hidden <c>--child-socket NAME</c> mode): connects to the writer's
/// abstract Unix socket, receives the RELRO descriptor and the writer's load address (SCM_RIGHTS), claims that address
/// with MAP_FIXED_NOREPLACE, loads the library there with <see cref="LoadOptions.UseRelro"/> (or elsewhere, without
/// sharing, when the address is taken), tries the export, reports one JSON line, and stays loaded until the writer has
/// read its /proc/PID/smaps and sends a byte.
/// </summary>
internal static class ShareChild
{
    /// <summary>The message the writer sends with the descriptor: the load address, then the image's span.</summary>
    public const int PayloadLength = 16;

    public static int Run(TextWriter stderr, string path, string socketName, CPrototype? call, string export)
    {
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint("\0" + socketName)); // abstract: no file to clean up
            var payload = new byte[PayloadLength];
            using var relro = DescriptorPassing.Receive(socket, payload);
            nint address = (nint)BinaryPrimitives.ReadUInt64LittleEndian(payload);
            ulong span = BinaryPrimitives.ReadUInt64LittleEndian(payload.AsSpan(8));

            var (library, range, report) = Load(path, relro, address, span, call, export);
            try
            {
                socket.Send(Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(report, CliJsonLines.Default.ShareChildReport) + "\n"));
                // Stay loaded (and the pages mapped) until the writer has measured every process.
                socket.Receive(new byte[1]);
            }
            finally
            {
                library?.Dispose();
                AddressReservation.Release(range);
            }
            return report.Error is null ? ExitCodes.Success : ExitCodes.BadFile;
        }
        catch (Exception ex) when (ex is SocketException or IOException)
        {
            stderr.WriteLine($"loader share: user {Environment.ProcessId}: {ex.Message}");
            return ExitCodes.BadFile;
        }
    }

    private static (ElfLibrary? Library, AddressRange Range, ShareChildReport Report) Load(
        string path, SafeFileHandle? relro, nint address, ulong span, CPrototype? call, string export)
    {
        int pid = Environment.ProcessId;
        string? whyNot = null;
        AddressRange range = default;
        bool claimed = relro is not null && AddressReservation.TryClaim(address, span, out range, out whyNot);
        if (relro is null)
            whyNot = "no descriptor came with the writer's message";
        ElfLibrary? library = null;
        try
        {
            var options = claimed ? new LoadOptions { ReservedRange = range, UseRelro = relro } : LoadOptions.Default;
            library = new LoaderContext().Load(ElfFileRunner.LoadablePath(path), options);
            var sharing = library.RelroSharing;
            var (exportAddress, result) = ShareExport.Run(library, export, call);
            var relroRange = library.Plan?.Relro is { } r
                ? ((ulong)library.BaseAddress + r.Address, (ulong)library.BaseAddress + r.Address + r.Length) : (0UL, 0UL);
            return (library, range, new ShareChildReport(pid, claimed, whyNot, (ulong)library.BaseAddress, relroRange.Item1, relroRange.Item2,
                sharing?.PagesShared ?? 0, sharing?.PagesPrivate ?? (int)((relroRange.Item2 - relroRange.Item1) / (ulong)Environment.SystemPageSize),
                sharing?.Sealed ?? false, sharing?.Note, (ulong)exportAddress, result, null));
        }
        catch (Exception ex) when (ElfFileRunner.IsFileProblem(ex) || ex is FormatException or ArgumentException)
        {
            return (library, range, new ShareChildReport(pid, claimed, whyNot, 0, 0, 0, 0, 0, false, null, null, null,
                ElfFileRunner.Describe(path, ex)));
        }
    }
}
