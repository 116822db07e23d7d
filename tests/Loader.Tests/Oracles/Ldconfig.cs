namespace Loader.Tests.Oracles;

/// <summary>glibc's <c>ldconfig</c> as an outside oracle for the reading of /etc/ld.so.cache.</summary>
internal static class Ldconfig
{
    /// <summary>Runs <c>/sbin/ldconfig -p</c>: (soname, flags, path) per entry in its order, and the count line.</summary>
    public static (List<(string SoName, string Flags, string Path)> Entries, int Count) Print()
    {
        var run = ChildProcess.Run("/sbin/ldconfig", "-p");
        Assert.True(run.ExitCode == 0, $"ldconfig -p exited {run.ExitCode}: {run.Stderr}");
        string output = run.Stdout;
        var entries = new List<(string, string, string)>();
        int count = -1;
        foreach (string line in output.Split('\n'))
        {
            if (line.EndsWith("found in cache `/etc/ld.so.cache'", StringComparison.Ordinal))
            {
                count = int.Parse(line.Split(' ')[0]);
                continue;
            }
            // "\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1"
            int open = line.IndexOf(" (", StringComparison.Ordinal);
            int arrow = line.IndexOf(") => ", StringComparison.Ordinal);
            if (!line.StartsWith('\t') || open < 0 || arrow < open)
                continue;
            entries.Add((line[1..open], line[(open + 2)..arrow], line[(arrow + 5)..]));
        }
        return (entries, count);
    }
}
