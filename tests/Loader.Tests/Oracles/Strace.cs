using System.Globalization;
using System.Text.RegularExpressions;

namespace Loader.Tests.Oracles;

/// <summary>Reads what <c>strace -f -e trace=mmap,mprotect,munmap</c> wrote: the kernel's side of a process's mappings.</summary>
internal static class Strace
{
    /// <summary>One system call as strace printed it (an unfinished call joined with its resumption).</summary>
    public sealed record SyscallLine(int Pid, string Name, string[] Args, string Result, string Text)
    {
        public ulong Arg(int i) => ParseNumber(Args[i]);
    }

    private static readonly Regex CallLine = new(@"^(?<pid>\d+)\s+(?<name>mmap|mprotect|munmap)\((?<args>.*)\)\s+=\s+(?<result>\S+)");
    private static readonly Regex Unfinished = new(@"^(?<pid>\d+)\s+(?<text>.*) <unfinished \.\.\.>$");
    private static readonly Regex Resumed = new(@"^(?<pid>\d+)\s+<\.\.\. (?<name>\w+) resumed>(?<text>.*)$");

    /// <summary>strace's lines for mmap, mprotect and munmap, each call whole (an "unfinished" call joined with its
    /// "resumed" rest), in the order they finished or started; other lines (signals, exits) are skipped.</summary>
    public static List<SyscallLine> ParseMemoryCalls(IEnumerable<string> lines)
    {
        var pending = new Dictionary<int, string>();
        var calls = new List<SyscallLine>();
        foreach (var raw in lines)
        {
            string line = raw;
            if (Unfinished.Match(line) is { Success: true } u)
            {
                pending[int.Parse(u.Groups["pid"].Value, CultureInfo.InvariantCulture)] = u.Groups["text"].Value;
                continue;
            }
            if (Resumed.Match(line) is { Success: true } res)
            {
                int pid = int.Parse(res.Groups["pid"].Value, CultureInfo.InvariantCulture);
                if (!pending.Remove(pid, out var head))
                    continue;
                line = $"{pid} {head}{res.Groups["text"].Value}";
            }
            if (CallLine.Match(line) is not { Success: true } m)
                continue;
            var args = m.Groups["args"].Value.Split(", ");
            calls.Add(new SyscallLine(int.Parse(m.Groups["pid"].Value, CultureInfo.InvariantCulture), m.Groups["name"].Value, args,
                m.Groups["result"].Value, line));
        }
        return calls;
    }

    /// <summary>strace writes addresses and mmap offsets in hex (0x…), lengths in decimal, NULL for 0.</summary>
    public static ulong ParseNumber(string s) =>
        s == "NULL" ? 0
        : s.StartsWith("0x", StringComparison.Ordinal) ? ulong.Parse(s.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)
        : ulong.Parse(s, CultureInfo.InvariantCulture);
}
