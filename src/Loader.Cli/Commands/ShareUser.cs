using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Loader.Cli.Rendering;
using Loader.Mapping;
using Microsoft.Win32.SafeHandles;

namespace Loader.Cli.Commands;

/// <summary>One user process of <c>loader share</c>, seen from the writer: started, connected, handed the descriptor,
/// its report read; kept loaded until <see cref="Finish"/>.</summary>
internal sealed class ShareUser
{
    private readonly Process _process;
    private readonly Socket? _connection;
    private readonly ShareChildReport? _report;
    private readonly StringBuilder _errors;

    private ShareUser(Process process, Socket? connection, ShareChildReport? report, StringBuilder errors)
    {
        _process = process;
        _connection = connection;
        _report = report;
        _errors = errors;
    }

    /// <summary>Starts the process and waits for it to connect (or to die first), then sends it the descriptor with
    /// <paramref name="payload"/> and reads its one-line report.</summary>
    public static ShareUser Start(Socket listener, ProcessStartInfo start, byte[] payload, SafeFileHandle relro)
    {
        var errors = new StringBuilder();
        var process = new Process { StartInfo = start };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                lock (errors)
                    errors.AppendLine(e.Data);
        };
        process.OutputDataReceived += (_, _) => { }; // whatever the library prints stays out of the table
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();

        using var giveUp = new CancellationTokenSource();
        var accepting = listener.AcceptAsync(giveUp.Token).AsTask();
        if (Task.WaitAny(accepting, process.WaitForExitAsync()) == 1 && !accepting.IsCompleted)
        {
            // It died before connecting: withdraw the accept, so the next user's connection is not taken by it.
            giveUp.Cancel();
            try
            {
                accepting.GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
            }
            return new ShareUser(process, null, null, errors);
        }
        var connection = accepting.GetAwaiter().GetResult();
        try
        {
            DescriptorPassing.Send(connection, payload, relro);
            string? line = ReadLine(connection);
            var report = line is null ? null : JsonSerializer.Deserialize(line, CliJsonLines.Default.ShareChildReport);
            return new ShareUser(process, connection, report, errors);
        }
        catch (Exception ex) when (ex is IOException or SocketException or JsonException)
        {
            lock (errors)
                errors.AppendLine(ex.Message); // it went away mid-conversation: its row says so
            return new ShareUser(process, connection, null, errors);
        }
    }

    /// <summary>The table row: what the process reported, and its /proc/PID/smaps over its RELRO range, read now.</summary>
    public ShareProcess Row()
    {
        if (_report is not { } r)
            return new ShareProcess("user", _process.Id, false, null, 0, 0, 0, 0, 0, false, null, null, null, Failure(), null);
        return new ShareProcess("user", r.Pid, r.Claimed, r.WhyNot, r.BaseAddress, r.RelroStart, r.RelroEnd, r.PagesShared, r.PagesPrivate,
            r.Sealed, r.Note, r.ExportAddress, r.CallResult, r.Error, ShareCommand.Measure(r.Pid, r.RelroStart, r.RelroEnd));
    }

    /// <summary>Tells the process to unload and exit, and waits for it (killed after a minute: a user that hangs must
    /// not hang the writer).</summary>
    public void Finish(TextWriter stderr)
    {
        try
        {
            _connection?.Send(new byte[] { 1 });
        }
        catch (SocketException)
        {
            // Already gone: its exit code says how.
        }
        _connection?.Dispose();
        if (!_process.WaitForExit(TimeSpan.FromMinutes(1)))
        {
            _process.Kill();
            stderr.WriteLine($"loader share: user {_process.Id} did not exit; killed");
        }
        _process.WaitForExit(); // drains the redirected streams
        _process.Dispose();
    }

    private string Failure()
    {
        string text;
        lock (_errors)
            text = _errors.ToString().Trim();
        string exit = _process.HasExited ? $"exited with {_process.ExitCode}" : "sent no report";
        return text.Length == 0 ? $"the user process {exit}" : $"the user process {exit}: {text}";
    }

    private static string? ReadLine(Socket connection)
    {
        var bytes = new List<byte>();
        var one = new byte[1];
        while (connection.Receive(one) == 1)
        {
            if (one[0] == (byte)'\n')
                return Encoding.UTF8.GetString([.. bytes]);
            bytes.Add(one[0]);
        }
        return null;
    }
}
