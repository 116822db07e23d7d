using System.Runtime.InteropServices;

namespace Loader.Tests.Native;

/// <summary>How many pages of a mapped range are in memory, as mincore reports them.</summary>
internal static unsafe partial class ResidentPages
{
    public static int Count(nint address, ulong length)
    {
        ulong page = (ulong)Environment.SystemPageSize;
        var vector = new byte[(length + page - 1) / page];
        fixed (byte* v = vector)
            Assert.True(mincore(address, (nuint)length, v) == 0, $"mincore failed: errno {Marshal.GetLastPInvokeError()}");
        return vector.Count(b => (b & 1) != 0);
    }

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int mincore(nint address, nuint length, byte* vector);
}
