using System.Globalization;
using Loader.Tests.Oracles;

namespace Loader.Tests.Scripts;

/// <summary>
/// scripts/gen-scale-lib.sh, the generator of the relocation-scaling benchmark's libraries: what it claims in its
/// .counts file is what readelf finds in the library, and the library is one Loader and glibc both load.
/// </summary>
public sealed class GenScaleLibTests
{
    /// <summary>The C runtime's start files add a few relocations of their own (readelf, gcc 12: 3 RELATIVE for
    /// .init_array, .fini_array and __dso_handle; 4 GLOB_DAT for __cxa_finalize, the ITM and gmon hooks).</summary>
    private const int StartFileRelocations = 8;

    [Fact]
    public void A_library_of_2000_relocations_has_1000_relative_and_1000_symbolic_as_readelf_counts_them()
    {
        string directory = Path.Combine(Path.GetTempPath(), $"loader-scale-{Guid.NewGuid():N}");
        try
        {
            var run = ChildProcess.Run("bash", Path.Combine(Fixtures.RepositoryRoot, "scripts", "gen-scale-lib.sh"), "2000", directory);
            Assert.True(run.ExitCode == 0, $"gen-scale-lib.sh: {run.Stdout}{run.Stderr}");
            string library = Path.Combine(directory, "libscale-2000.so");
            Assert.Equal(library, run.Stdout.Trim());

            var claimed = File.ReadAllLines(Path.Combine(directory, "libscale-2000.counts"))
                .Select(line => line.Split(' '))
                .ToDictionary(parts => parts[0], parts => int.Parse(parts[1], CultureInfo.InvariantCulture));
            Assert.Equal(1000, claimed["relative"]);
            Assert.Equal(1000, claimed["symbolic"]);

            var types = Readelf.Output("-W", "-r", library).Split('\n')
                .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(fields => fields.Length >= 3 && fields[2].StartsWith("R_X86_64_", StringComparison.Ordinal))
                .GroupBy(fields => fields[2])
                .ToDictionary(group => group.Key, group => group.Count());
            int relative = types.GetValueOrDefault("R_X86_64_RELATIVE");
            int symbolic64 = types.GetValueOrDefault("R_X86_64_64");
            int total = types.Values.Sum();

            Assert.InRange(relative, claimed["relative"], claimed["relative"] + StartFileRelocations);
            Assert.Equal(claimed["symbolic"], symbolic64);
            Assert.InRange(total, 2000, 2000 + StartFileRelocations);

            // Its only DT_NEEDED is libc, so a load maps exactly one image on either side.
            var needed = Readelf.Output("-W", "-d", library).Split('\n').Where(line => line.Contains("(NEEDED)", StringComparison.Ordinal)).ToArray();
            Assert.Equal("Shared library: [libc.so.6]", Assert.Single(needed).Split(')', 2)[1].Trim());

            // Loader loads it: one relocation per entry, a libc function bound to the host libc's (dlsym's answer), an own one to the export.
            using var loaded = new LoaderContext().Load(library);
            Assert.False(loaded.IsHost);
            Assert.Equal(total, loaded.Relocations.Count);
            unsafe
            {
                var count = (delegate* unmanaged<nuint>)loaded.GetExport("scale_count");
                Assert.Equal(2000u, count());
                nint table = loaded.GetExport("scale_symbolic");
                nint strlenAddress = System.Runtime.InteropServices.NativeLibrary.GetExport(
                    System.Runtime.InteropServices.NativeLibrary.Load("libc.so.6"), "strlen");
                // Entry 7 is the first libc function (strlen); entry 0 is the library's own scale_sym_0.
                Assert.Equal(strlenAddress, ((nint*)table)[7]);
                Assert.Equal(loaded.GetExport("scale_sym_0"), ((nint*)table)[0]);
            }
        }
        finally
        {
            if (Directory.Exists(directory))
                Directory.Delete(directory, recursive: true);
        }
    }
}
