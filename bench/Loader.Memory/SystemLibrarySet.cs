using System.Diagnostics;

namespace Loader.Memory;

/// <summary>
/// "Every shared object in /usr/lib/x86_64-linux-gnu that Loader loads": the folder's regular files named <c>*.so*</c>
/// (symbolic links skipped, so each file once), each tried in a child process (<c>probe LIST</c>: its own
/// <see cref="LoaderContext"/>, default options, loaded then unloaded — what <c>loader try --initializers</c> does).
/// A file whose load ends the child (libasan's initializer does) or hangs it is left out and the probe goes on
/// after it.
/// </summary>
internal static class SystemLibrarySet
{
    public const string Folder = "/usr/lib/x86_64-linux-gnu";

    public static List<string> Decide(string workDirectory)
    {
        var candidates = Directory.EnumerateFiles(Folder, "*.so*", SearchOption.TopDirectoryOnly)
            .Where(p => (File.GetAttributes(p) & FileAttributes.ReparsePoint) == 0)
            .Order(StringComparer.Ordinal)
            .ToList();
        var loadable = new List<string>();
        int next = 0;
        while (next < candidates.Count)
        {
            string list = Path.Combine(workDirectory, "probe-list.txt");
            File.WriteAllLines(list, candidates.Skip(next));
            string? pending = RunProbe(list, loadable);
            if (pending is null)
                break;
            Console.Error.WriteLine($"probe: {pending} ended or hung the probe; left out");
            next = candidates.IndexOf(pending) + 1;
        }
        Console.Error.WriteLine($"probe: {loadable.Count} of {candidates.Count} files load through Loader");
        return loadable;
    }

    /// <summary>Runs one probe child over <paramref name="list"/>; returns the file it was on when it died, or null.</summary>
    private static string? RunProbe(string list, List<string> loadable)
    {
        var (self, arguments) = SelfCommand.With("probe", list);
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        string? pending = null;
        while (true)
        {
            var read = process.StandardOutput.ReadLineAsync();
            if (!read.Wait(TimeSpan.FromSeconds(60)))
            {
                process.Kill(entireProcessTree: true);
                return pending;
            }
            string? line = read.Result;
            if (line is null)
            {
                process.WaitForExit();
                return process.ExitCode == 0 ? null : pending;
            }
            if (line.StartsWith("try ", StringComparison.Ordinal))
                pending = line[4..];
            else if (line.StartsWith("ok ", StringComparison.Ordinal))
            {
                loadable.Add(line[3..]);
                pending = null;
            }
            else if (line.StartsWith("refused ", StringComparison.Ordinal))
                pending = null;
        }
    }

    /// <summary>The probe child: one line before each try, one after, flushed, so a crash names its file.</summary>
    public static int Probe(string listFile)
    {
        foreach (string path in File.ReadLines(listFile))
        {
            Console.WriteLine("try " + path);
            Console.Out.Flush();
            bool ok;
            try
            {
                using var context = new LoaderContext();
                using var library = context.Load(path);
                ok = true;
            }
            catch (LoaderException)
            {
                ok = false;
            }
            Console.WriteLine((ok ? "ok " : "refused ") + path);
            Console.Out.Flush();
        }
        return 0;
    }
}
