namespace Loader.Tests.Oracles;

/// <summary>The kernel's view of which pages of this process are present in its page tables:
/// <c>/proc/self/pagemap</c>, one 64-bit entry per virtual page, bit 63 set when the page is present (readable without
/// privileges, which only hides the frame numbers).</summary>
public static class PageMap
{
    /// <summary>How many pages of <c>[start, start + length)</c> are present in this process.</summary>
    public static int PresentPages(nint start, ulong length) => Count(start, length).Present;

    /// <summary>How many pages of <c>[start, start + length)</c> are present, and how many of those are a file's own
    /// page (bit 61: mapped from the page cache, as a private mapping's page is until its first write copies it).</summary>
    public static (int Present, int FilePages) Count(nint start, ulong length)
    {
        ulong page = (ulong)Environment.SystemPageSize;
        using var pagemap = new FileStream("/proc/self/pagemap", FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1);
        byte[] entry = new byte[8];
        int present = 0, filePages = 0;
        for (ulong address = (ulong)start; address < (ulong)start + length; address += page)
        {
            pagemap.Position = (long)(address / page * 8);
            pagemap.ReadExactly(entry);
            ulong bits = BitConverter.ToUInt64(entry);
            if ((bits & (1UL << 63)) == 0)
                continue;
            present++;
            if ((bits & (1UL << 61)) != 0)
                filePages++;
        }
        return (present, filePages);
    }
}
