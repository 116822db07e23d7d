using System.Buffers.Binary;
using System.CommandLine;
using System.Diagnostics;
using System.Net.Sockets;
using Loader.Calling;
using Loader.Cli.Rendering;
using Loader.Mapping;
using Microsoft.Win32.SafeHandles;

namespace Loader.Cli.Commands;

/// <summary>
/// <c>loader share FILE [--processes N] [--shm NAME] [--call PROTO] [--json]</c>: shared RELRO between processes, as
/// Android's bionic does for WebView (<c>ANDROID_DLEXT_WRITE_RELRO</c> / <c>USE_RELRO</c>). This process (the writer)
/// loads FILE into a range it reserved, writing its relocated RELRO to a sealed memfd (or a POSIX shm object); it starts N
/// <c>loader</c> processes (the users) and hands each the descriptor and the load address over a Unix socket
/// (SCM_RIGHTS); each claims that address (MAP_FIXED_NOREPLACE), loads with UseRelro and tries an export. Then each
/// process's RELRO range is read from /proc/PID/smaps.
/// </summary>
internal static class ShareCommand
{
    /// <summary>Where the writer asks for its range first: far below where the kernel places mmaps (with or without
    /// ASLR) and the .NET runtime its heaps, so the users, which claim the same address, find it free.</summary>
    private static readonly nint PreferredAddress = unchecked((nint)0x3f00_0000_0000);

    public static Command Create()
    {
        var file = CommonOptions.Path("The shared object to load in every process.");
        var processes = new Option<int>("--processes")
        {
            Description = "How many user processes to start (1 to 32).",
            DefaultValueFactory = _ => 2,
            HelpName = "N",
        };
        var shm = new Option<string?>("--shm")
        {
            Description = "Share through a POSIX shared memory object of this name (/name; created, unlinked at the end) instead of a sealed memfd.",
            HelpName = "NAME",
        };
        var onDisk = new Option<string?>("--file")
        {
            Description = "Share through a new regular file at this path (deleted at the end), as bionic shares through a file: once written and synced its pages are clean (Shared_Clean in smaps).",
            HelpName = "PATH",
        };
        var call = new Option<string?>("--call")
        {
            Description = "A function without parameters to call in every process, as a C prototype ('long OpenSSL_version_num(void)'). " +
                "Default: only resolve the library's first exported function.",
            HelpName = "PROTO",
        };
        var childSocket = new Option<string?>("--child-socket") { Hidden = true, Description = "Run as a user process (internal)." };
        var json = CommonOptions.Json();
        var command = CommonOptions.NewCommand("share",
            "Load a library in this process writing its relocated RELRO to a sealed memfd, start N processes that map the identical pages from it, and show each one's RELRO memory from /proc/PID/smaps.",
            "setarch -R loader share /usr/lib/x86_64-linux-gnu/libcrypto.so.3 --processes 3 --call 'unsigned long OpenSSL_version_num(void)'");
        command.Add(file);
        command.Add(processes);
        command.Add(shm);
        command.Add(onDisk);
        command.Add(call);
        command.Add(childSocket);
        command.Add(json);
        command.Validators.Add(result =>
        {
            int n = result.GetValue(processes);
            if (result.GetResult(processes) is { Implicit: false } && n is < 1 or > 32)
                result.AddError($"--processes {n}: between 1 and 32");
            if (result.GetValue(call) is { } text && !ParseCall(text, out _, out string? error))
                result.AddError($"--call '{text}': {error}");
            if (result.GetValue(shm) is not null && result.GetValue(onDisk) is not null)
                result.AddError("--shm and --file cannot be used together: the RELRO goes to one file");
            if (result.GetValue(shm) is { } name && (name.Length < 2 || name[0] != '/' || name.IndexOf('/', 1) >= 0))
                result.AddError($"--shm {name}: a POSIX shared memory name is '/' then a name without '/'");
        });
        command.SetAction(parseResult =>
        {
            var stdout = parseResult.InvocationConfiguration.Output;
            var stderr = parseResult.InvocationConfiguration.Error;
            string path = parseResult.GetRequiredValue(file);
            ParseCall(parseResult.GetValue(call), out var prototype, out _);
            return parseResult.GetValue(childSocket) is { } socket
                ? ShareChild.Run(stderr, path, socket, prototype, prototype?.Name ?? ShareExport.FirstFunction(path) ?? "")
                : Run(stdout, stderr, path, parseResult.GetValue(processes), ShareMedium.From(parseResult.GetValue(shm), parseResult.GetValue(onDisk)),
                    prototype, parseResult.GetValue(json));
        });
        return command;
    }

    /// <summary>A prototype without parameters (calling anything else would need arguments), or null for none.</summary>
    private static bool ParseCall(string? text, out CPrototype? prototype, out string? error)
    {
        prototype = null;
        error = null;
        if (text is null)
            return true;
        if (!CPrototype.TryParse(text, out var parsed, out error))
            return false;
        if (parsed.Parameters.Count > 0 || parsed.IsVariadic)
        {
            error = "share calls a function without parameters only";
            return false;
        }
        prototype = parsed;
        return true;
    }

    public static int Run(TextWriter stdout, TextWriter stderr, string path, int processes, ShareMedium medium, CPrototype? call, bool json)
    {
        string export;
        ulong span, alignment;
        try
        {
            export = call?.Name ?? ShareExport.FirstFunction(path)
                ?? throw new LoaderException($"{path}: exports no function to resolve");
            using (var probe = ElfImage.Map(path)) // the span and alignment the users must claim too
                (span, alignment) = (probe.Size, probe.Plan.Alignment);
        }
        catch (Exception ex) when (ElfFileRunner.IsFileProblem(ex))
        {
            return ElfFileRunner.Fail(stderr, path, ex);
        }

        var range = AddressReservation.TryClaim(PreferredAddress, span, out var claimed, out _)
            ? claimed : AddressReservation.Reserve(span, alignment);
        SafeFileHandle? relro = null;
        ElfLibrary? library = null;
        var users = new List<ShareUser>();
        try
        {
            relro = medium.Create(path);
            library = new LoaderContext().Load(ElfFileRunner.LoadablePath(path), new LoadOptions { ReservedRange = range, WriteRelro = relro });
            var (exportAddress, result) = ShareExport.Run(library, export, call);
            var writer = Writer(library, (ulong)exportAddress, result);

            string socketName = $"loader-share-{Environment.ProcessId}-{Guid.NewGuid():N}";
            using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint("\0" + socketName));
            listener.Listen(processes);
            var payload = new byte[ShareChild.PayloadLength];
            BinaryPrimitives.WriteUInt64LittleEndian(payload, (ulong)range.Start);
            BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(8), span);
            for (int i = 0; i < processes; i++)
                users.Add(ShareUser.Start(listener, UserArguments(path, socketName, call), payload, relro));

            // Every process is loaded and waiting: the kernel's counts now include every mapper of each page.
            var rows = new List<ShareProcess> { writer with { Memory = Measure(Environment.ProcessId, writer.RelroStart, writer.RelroEnd) } };
            foreach (var user in users)
                rows.Add(user.Row());
            var report = Summarize(library, path, medium, rows, export);
            if (json)
                CliJsonContext.Write(stdout, report, CliJsonContext.Default.ShareReport);
            else
                ShareText.Write(stdout, report);
            return rows.All(r => r.Error is null) ? ExitCodes.Success : ExitCodes.BadFile;
        }
        catch (Exception ex) when (ElfFileRunner.IsFileProblem(ex) || ex is SocketException)
        {
            return ElfFileRunner.Fail(stderr, path, ex);
        }
        finally
        {
            foreach (var user in users)
                user.Finish(stderr);
            library?.Dispose();
            AddressReservation.Release(range);
            relro?.Dispose();
            medium.Remove(relro is not null);
        }
    }

    /// <summary>This same tool in user mode: the executable itself, or <c>dotnet Loader.Cli.dll</c> when run by dotnet.</summary>
    private static ProcessStartInfo UserArguments(string path, string socketName, CPrototype? call)
    {
        string executable = Environment.ProcessPath ?? throw new InvalidOperationException("the path of this executable is unknown");
        var start = new ProcessStartInfo(executable) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        if (Path.GetFileNameWithoutExtension(executable) == "dotnet")
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, typeof(ShareCommand).Assembly.GetName().Name + ".dll"));
        foreach (string argument in (string[])["share", path, "--child-socket", socketName])
            start.ArgumentList.Add(argument);
        if (call is not null)
        {
            start.ArgumentList.Add("--call");
            start.ArgumentList.Add(call.ToString());
        }
        return start;
    }

    private static ShareProcess Writer(ElfLibrary library, ulong exportAddress, string? result)
    {
        var sharing = library.RelroSharing!;
        return new ShareProcess("writer", Environment.ProcessId, true, null, (ulong)library.BaseAddress,
            (ulong)sharing.Relro.Start, (ulong)sharing.Relro.End, sharing.PagesShared, sharing.PagesPrivate, sharing.Sealed, sharing.Note,
            exportAddress, result, null, null);
    }

    /// <summary>/proc/PID/smaps over the range, or null when it cannot be read (the process is gone).</summary>
    internal static ShareMemory? Measure(int pid, ulong start, ulong end)
    {
        if (end <= start)
            return null;
        try
        {
            var m = KernelSmaps.Read(pid, start, end);
            return new ShareMemory(m.Rss, m.SharedClean, m.SharedDirty, m.PrivateClean, m.PrivateDirty, m.SharedMappingRss);
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static ShareReport Summarize(ElfLibrary library, string path, ShareMedium medium, List<ShareProcess> rows, string export)
    {
        var relro = library.RelroSharing!;
        var userRows = rows.Where(r => r.Role == "user").ToList();
        ulong saved = (ulong)userRows.Sum(r => (long)(r.Memory?.SharedMappingRss ?? 0));
        bool aslrOff = (Personality() & 0x0040000) != 0; // ADDR_NO_RANDOMIZE (sys/personality.h)
        return new ShareReport(path, library.SoName, medium.Kind, medium.Name, relro.Relro.Length, relro.PageSize,
            aslrOff, export, rows, saved, userRows.Count == 0 ? 0 : saved / (ulong)userRows.Count);
    }

    /// <summary>The persona of this process, from /proc/self/personality (hex), as <c>setarch</c> left it.</summary>
    private static uint Personality() =>
        uint.TryParse(File.ReadAllText("/proc/self/personality").Trim(), System.Globalization.NumberStyles.HexNumber, null, out uint value) ? value : 0;
}
