using System.IO.Hashing;
using Loader.Linking;
using Loader.Tests.Mapping;
using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>Real, ordinary C libraries of the system, loaded by Loader (not by the host) and used from C#.</summary>
[Collection("AddressSpace")]
public sealed unsafe class SystemLibraryTests
{
    private const string Zlib = "/usr/lib/x86_64-linux-gnu/libz.so.1";

    [Fact]
    public void ZlibIsLoadedByLoaderNotTakenFromTheHost()
    {
        using var zlib = new LoaderContext().Load(Zlib);
        Assert.False(zlib.IsHost);
        Assert.Equal(ModuleOrigin.Loaded, zlib.Module.Origin);
        Assert.Equal("libz.so.1", zlib.SoName);
        // The base is inside our own reservation, and the kernel shows libz's file mapped there.
        Assert.True(zlib.ReservedRange.Overlaps(zlib.BaseAddress + (nint)zlib.Plan!.StartAddress, zlib.BaseAddress + (nint)zlib.Plan.StartAddress + 1));
        var text = zlib.Plan.Overlays.First(o => o.Length > 0);
        ulong at = (ulong)zlib.BaseAddress + text.Address;
        var entry = Assert.Single(ProcMaps.Read(), m => m.Start <= at && at < m.End);
        Assert.Equal(new FileInfo(Zlib).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? Zlib, entry.Path);
        var export = zlib.GetExport("zlibVersion");
        Assert.InRange((ulong)export, (ulong)zlib.ReservedRange.Start, (ulong)zlib.ReservedRange.End - 1);
        Assert.Equal("1.2.13", Native.String(((delegate* unmanaged<nint>)export)()));
        var libc = Assert.Single(zlib.Dependencies);
        Assert.Equal(DependencySource.Host, libc.Source);
    }

    [Fact]
    public void ZlibCompressesAndDecompressesOneMebibyteAndItsCrc32MatchesSystemIoHashing()
    {
        using var zlib = new LoaderContext().Load(Zlib);
        var compressBound = (delegate* unmanaged<nuint, nuint>)zlib.GetExport("compressBound");
        var compress2 = (delegate* unmanaged<byte*, nuint*, byte*, nuint, int, int>)zlib.GetExport("compress2");
        var uncompress = (delegate* unmanaged<byte*, nuint*, byte*, nuint, int>)zlib.GetExport("uncompress");
        var crc32 = (delegate* unmanaged<nuint, byte*, uint, nuint>)zlib.GetExport("crc32");

        var input = new byte[1 << 20];
        var random = new Random(1234);
        for (int i = 0; i < input.Length; i++)
            input[i] = (byte)(i % 251 < 128 ? random.Next(16) : i % 7); // compressible but not trivial
        var compressed = new byte[(int)compressBound((nuint)input.Length)];
        var output = new byte[input.Length];
        nuint compressedLength = (nuint)compressed.Length, outputLength = (nuint)output.Length;
        fixed (byte* pin = input, pc = compressed, pout = output)
        {
            Assert.Equal(0, compress2(pc, &compressedLength, pin, (nuint)input.Length, 9)); // Z_OK
            Assert.True(compressedLength < (nuint)input.Length / 2, $"compressed to {compressedLength} bytes");
            Assert.Equal(0, uncompress(pout, &outputLength, pc, compressedLength));
            Assert.Equal((nuint)input.Length, outputLength);
            Assert.True(input.AsSpan().SequenceEqual(output));
            uint ours = (uint)crc32(crc32(0, null, 0), pin, (uint)input.Length);
            Assert.Equal(Crc32.HashToUInt32(input), ours);
        }
    }

    /// <summary>Other ordinary C libraries whose DT_NEEDED entries are all system runtime libraries, and a version
    /// function of each (name, export, expected prefix of the string it returns).</summary>
    public static TheoryData<string, string> OtherLibraries() => new()
    {
        { "libbz2.so.1.0", "BZ2_bzlibVersion" },
        { "liblzma.so.5", "lzma_version_string" },
        { "libzstd.so.1", "ZSTD_versionString" },
        { "liblz4.so.1", "LZ4_versionString" },
        { "libexpat.so.1", "XML_ExpatVersion" },
        { "libsqlite3.so.0", "sqlite3_libversion" },
    };

    [Theory]
    [MemberData(nameof(OtherLibraries))]
    public void AnOrdinarySystemLibraryLoadsAndAnswersItsVersion(string soname, string versionFunction)
    {
        string path = SystemLibraries.Require(soname);
        using var lib = new LoaderContext().Load(path);
        Assert.False(lib.IsHost);
        Assert.All(lib.Dependencies, d => Assert.Equal(DependencySource.Host, d.Source));
        string? version = Native.String(((delegate* unmanaged<nint>)lib.GetExport(versionFunction))());
        Assert.False(string.IsNullOrEmpty(version));
        Assert.Matches(@"\d+\.\d+", version);
    }

    [Fact]
    public void SqliteRunsAQueryThroughTheHostsLibm()
    {
        string path = SystemLibraries.Require("libsqlite3.so.0");
        using var lib = new LoaderContext().Load(path);
        Assert.Contains(lib.Dependencies, d => d.Needed == "libm.so.6" && d.Source == DependencySource.Host);
        var open = (delegate* unmanaged<nint, nint*, int>)lib.GetExport("sqlite3_open");
        var exec = (delegate* unmanaged<nint, nint, delegate* unmanaged<nint, int, nint*, nint*, int>, nint, nint*, int>)lib.GetExport("sqlite3_exec");
        var close = (delegate* unmanaged<nint, int>)lib.GetExport("sqlite3_close");
        nint name = Native.CString(":memory:");
        nint sql = Native.CString("create table t(x real); insert into t values (2.0), (7.0); select sqrt(sum(x*x)) from t;");
        nint db = 0;
        try
        {
            Assert.Equal(0, open(name, &db));
            Assert.Equal(0, exec(db, sql, null, 0, null));
            Assert.Equal(0, close(db));
        }
        finally
        {
            Native.Free(name);
            Native.Free(sql);
        }
    }
}
