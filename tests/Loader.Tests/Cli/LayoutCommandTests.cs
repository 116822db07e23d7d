using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Loader.Tests.Cli;

/// <summary>
/// <c>loader layout</c>: every region beside the kernel's /proc/self/maps line for it, the two agreeing on protection
/// and file offset, and rows for .bss, gaps and RELRO exactly where <c>readelf -lW</c> implies them. Runs in the
/// non-parallel AddressSpace collection: it maps images into this process and reads /proc/self/maps.
/// </summary>
[Collection("AddressSpace")]
public sealed class LayoutCommandTests
{
    public static TheoryData<string> LayoutFixtures =>
        new("basic.so", "maxpage_2m.so", "bigbss.so", "norelro.so", "dirty_bss_tail.so", "gold.so", "noseparate_code.so");

    [Theory]
    [MemberData(nameof(LayoutFixtures))]
    public void Json_regions_agree_with_the_kernel_and_readelf(string fixture)
    {
        string path = Fixtures.Path(fixture);
        var expected = MappingExpectations.FromReadelf(path);
        var result = CliHarness.Run("layout", path, "--json");

        CliHarness.AssertSuccess(result);
        using var json = JsonDocument.Parse(result.Stdout);
        var root = json.RootElement;
        ulong bias = root.GetProperty("baseAddress").GetUInt64();
        ulong start = root.GetProperty("reservedStart").GetUInt64(), end = root.GetProperty("reservedEnd").GetUInt64();
        Assert.Equal(0UL, bias % expected.Alignment);
        Assert.True(root.GetProperty("kernelAgrees").GetBoolean());

        var regions = root.GetProperty("regions").EnumerateArray().ToList();
        ulong at = start;
        foreach (var region in regions)
        {
            ulong rs = region.GetProperty("start").GetUInt64(), re = region.GetProperty("end").GetUInt64();
            Assert.Equal(at, rs); // the regions tile the reservation
            at = re;
            string prot = region.GetProperty("protection").GetString()!;
            var kernel = region.GetProperty("kernel").EnumerateArray().ToList();
            Assert.NotEmpty(kernel);
            Assert.True(region.GetProperty("kernelAgrees").GetBoolean(), region.GetProperty("disagreement").GetString());
            foreach (var k in kernel)
            {
                Assert.Equal(prot, k.GetProperty("permissions").GetString()![..3]);
                ulong ks = k.GetProperty("start").GetUInt64(), from = Math.Max(ks, rs);
                if (region.GetProperty("fileOffset").ValueKind == JsonValueKind.Number)
                {
                    ulong kernelOffset = k.GetProperty("offset").GetUInt64() + (from - ks);
                    Assert.Equal(region.GetProperty("fileOffset").GetUInt64() + (from - rs), kernelOffset);
                    Assert.EndsWith(fixture, k.GetProperty("path").GetString());
                }
                else
                {
                    Assert.Equal(0UL, k.GetProperty("inode").GetUInt64());
                }
            }
        }
        Assert.Equal(end, at);

        // Rows where readelf -lW implies them.
        List<(ulong, ulong)> Rows(string kind) => [.. regions.Where(r => r.GetProperty("kind").GetString() == kind)
            .Select(r => (r.GetProperty("start").GetUInt64() - bias, r.GetProperty("end").GetUInt64() - bias))];
        Assert.Equal(expected.Gaps, Rows("gap"));
        Assert.Equal(expected.BssPages, Rows("bss"));
        if (expected.Relro is { } relro)
            Assert.Equal([relro], Rows("relro"));
        else
            Assert.Empty(Rows("relro"));
        var bssStarts = regions.Where(r => r.GetProperty("bssStart").ValueKind == JsonValueKind.Number)
            .Select(r => r.GetProperty("bssStart").GetUInt64() - bias).ToList();
        Assert.Equal(expected.BssStarts.Where(b => b % MappingPage != 0), bssStarts);
        foreach (var (index, address, offset, prot) in expected.Overlays)
        {
            var first = regions.First(r => r.GetProperty("loadIndex").ValueKind == JsonValueKind.Number
                && r.GetProperty("loadIndex").GetInt32() == index);
            Assert.Equal(bias + address, first.GetProperty("start").GetUInt64());
            Assert.Equal(offset, first.GetProperty("fileOffset").GetUInt64());
            if (first.GetProperty("kind").GetString() != "relro")
                Assert.Equal(prot, first.GetProperty("protection").GetString());
        }
    }

    private static readonly ulong MappingPage = (ulong)Environment.SystemPageSize;

    private static readonly Regex Row = new(
        @"^\s+(?<i>\d+)\s+0x(?<s>[0-9a-f]+)-0x(?<e>[0-9a-f]+)\s+0x[0-9a-f]+\s+(?<prot>[r-][w-][x-])\s+(?<off>0x[0-9a-f]+|-)\s+(?<holds>.*)$");

    private static readonly Regex KernelLine = new(
        @"^\s+kernel\s+(?<s>[0-9a-f]+)-(?<e>[0-9a-f]+) (?<perms>\S{4}) (?<off>[0-9a-f]+) \S+ (?<inode>\d+)(?<rest>.*)$");

    [Theory]
    [MemberData(nameof(LayoutFixtures))]
    public void Text_prints_each_region_next_to_an_agreeing_kernel_line(string fixture)
    {
        string path = Fixtures.Path(fixture);
        var expected = MappingExpectations.FromReadelf(path);
        var result = CliHarness.Run("layout", path);

        CliHarness.AssertSuccess(result);
        var lines = result.Stdout.Split('\n');
        var rows = new List<(string Prot, string Offset, string Holds, Match Kernel)>();
        for (int i = 0; i < lines.Length; i++)
        {
            var row = Row.Match(lines[i]);
            if (!row.Success)
                continue;
            int k = i + 1;
            while (k < lines.Length && !KernelLine.IsMatch(lines[k]))
            {
                Assert.DoesNotMatch(Row, lines[k]); // every row has its kernel line before the next row
                k++;
            }
            var kernel = KernelLine.Match(lines[k]);
            rows.Add((row.Groups["prot"].Value, row.Groups["off"].Value, row.Groups["holds"].Value, kernel));
            // The kernel's line covers the row's start (it may be wider: the kernel merges like neighbours).
            Assert.True(ulong.Parse(kernel.Groups["s"].Value, NumberStyles.HexNumber) <= ulong.Parse(row.Groups["s"].Value, NumberStyles.HexNumber));
            Assert.True(ulong.Parse(kernel.Groups["e"].Value, NumberStyles.HexNumber) > ulong.Parse(row.Groups["s"].Value, NumberStyles.HexNumber));
            Assert.Contains("✓ agrees", lines[k]);
        }
        Assert.NotEmpty(rows);
        foreach (var (prot, offset, holds, kernel) in rows)
        {
            Assert.Equal(prot, kernel.Groups["perms"].Value[..3]);
            if (offset == "-")
                Assert.Equal("0", kernel.Groups["inode"].Value);
            else
                Assert.Equal(Convert.ToUInt64(offset[2..], 16), ulong.Parse(kernel.Groups["off"].Value, NumberStyles.HexNumber));
        }
        Assert.Equal(expected.Gaps.Count, rows.Count(r => r.Holds.StartsWith("gap", StringComparison.Ordinal)));
        Assert.Equal(expected.BssPages.Count, rows.Count(r => r.Holds.StartsWith("bss", StringComparison.Ordinal)));
        Assert.Equal(expected.Relro is null ? 0 : 1, rows.Count(r => r.Holds.StartsWith("relro", StringComparison.Ordinal)));
        Assert.Equal(expected.BssStarts.Count(b => b % MappingPage != 0), rows.Count(r => r.Holds.Contains(".bss begins at")));
        Assert.Contains($"All {rows.Count} regions agree with /proc/self/maps", result.Stdout);
        if (expected.Relro is null)
            Assert.Contains("RELRO     none", result.Stdout);
    }

    [Fact]
    public void A_host_runtime_library_is_laid_out_but_said_to_be_taken_from_the_host()
    {
        const string libm = "/usr/lib/x86_64-linux-gnu/libm.so.6";
        var text = CliHarness.Run("layout", libm);
        var json = CliHarness.Run("layout", libm, "--json");
        CliHarness.AssertSuccess(text);
        CliHarness.AssertSuccess(json);

        // The oracle: where the kernel shows the process's own libm mapped at file offset 0.
        var ownCopy = File.ReadLines("/proc/self/maps")
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .First(f => f.Length >= 6 && f[5].EndsWith("/libm.so.6", StringComparison.Ordinal) && f[2] == "00000000");
        ulong ownBase = Convert.ToUInt64(ownCopy[0].Split('-')[0], 16);

        Assert.Contains($"take the process's own copy at 0x{ownBase:x}", text.Stdout);
        using var doc = System.Text.Json.JsonDocument.Parse(json.Stdout);
        Assert.Equal(ownBase, doc.RootElement.GetProperty("hostCopyBase").GetUInt64());
        Assert.NotEqual(ownBase, doc.RootElement.GetProperty("baseAddress").GetUInt64());

        // An ordinary library carries no such note.
        using var plain = System.Text.Json.JsonDocument.Parse(CliHarness.Run("layout", Fixtures.Path("basic.so"), "--json").Stdout);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, plain.RootElement.GetProperty("hostCopyBase").ValueKind);
    }

    [Fact]
    public void A_file_that_cannot_be_mapped_exits_1_with_one_line()
    {
        var result = CliHarness.Run("layout", Fixtures.Path("elf32_i386.so"));

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Stdout);
        string line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("loader: ", line);
        Assert.Contains("ELFCLASS", line);
    }
}
