using System.IO.Compression;
using System.Reflection.PortableExecutable;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Loader.Tests.Oracles;

namespace Loader.Tests.Cli;

/// <summary>
/// The tool as a user installs it: both packages packed from this build, the tool installed from the local package
/// into a private tool path (and a private NuGet cache, so an older package of the same version cannot answer), then
/// run. Also --version against git itself.
/// </summary>
public sealed partial class PackagingTests
{
    [Fact]
    public void Both_packages_pack_and_the_installed_tool_runs_loader_version_and_a_call_by_bare_name()
    {
        string work = Path.Combine(Path.GetTempPath(), $"loader-pack-{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        try
        {
            string feed = Path.Combine(work, "feed");
            foreach (string project in new[] { "src/Loader", "src/Loader.Cli" })
            {
                var pack = ChildProcess.Run("dotnet", "pack", Path.Combine(Fixtures.RepositoryRoot, project), "-c", "Release", "--no-build", "-o", feed);
                Assert.True(pack.ExitCode == 0, $"dotnet pack {project}: {pack.Stdout}{pack.Stderr}");
            }
            Assert.True(File.Exists(Path.Combine(feed, "Loader.0.1.0.nupkg")), "the library package is missing");
            Assert.True(File.Exists(Path.Combine(feed, "Loader.Tool.0.1.0.nupkg")), "the tool package is missing");

            string tools = Path.Combine(work, "tools");
            var install = ChildProcess.Run("dotnet", ["tool", "install", "Loader.Tool", "--tool-path", tools, "--add-source", feed, "--version", "0.1.0"],
                new Dictionary<string, string?> { ["NUGET_PACKAGES"] = Path.Combine(work, "packages"), ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1" });
            Assert.True(install.ExitCode == 0, $"dotnet tool install: {install.Stdout}{install.Stderr}");
            string loader = Path.Combine(tools, "loader");

            var version = ChildProcess.Run(loader, "--version");
            Assert.Equal(0, version.ExitCode);
            Assert.Equal($"loader 0.1.0 (commit {GitHead()})", version.Stdout.Trim());

            var call = ChildProcess.Run(loader, "call", "libz.so.1", "const char *zlibVersion(void)");
            Assert.True(call.ExitCode == 0, $"loader call: {call.Stdout}{call.Stderr}");
            Assert.Equal(ZlibVersionThroughGlibc(), call.Stdout.Trim());
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>The library package ships ReadyToRun code for linux-x64 (src/Loader/Loader.csproj, PackReadyToRun): its
    /// Loader.dll has a ReadyToRun header and the IL beside it, where the plain build's has neither the header nor the
    /// native machine type; and with it, a process's first load compiles nothing of Loader's with the JIT.</summary>
    [Fact]
    public void The_library_package_holds_a_ReadyToRun_Loader_dll_for_linux_x64_with_its_IL_and_a_first_load_needs_no_JIT()
    {
        string work = Path.Combine(Path.GetTempPath(), $"loader-pack-r2r-{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        try
        {
            var pack = ChildProcess.Run("dotnet", "pack", Path.Combine(Fixtures.RepositoryRoot, "src/Loader"), "-c", "Release", "--no-build", "-o", work);
            Assert.True(pack.ExitCode == 0, $"dotnet pack src/Loader: {pack.Stdout}{pack.Stderr}");
            using var package = ZipFile.OpenRead(Path.Combine(work, "Loader.0.1.0.nupkg"));
            var entry = package.GetEntry("lib/net10.0/Loader.dll");
            Assert.NotNull(entry);
            using var packed = new MemoryStream();
            using (var stream = entry.Open())
                stream.CopyTo(packed);
            packed.Position = 0;
            using var reader = new PEReader(packed);
            var cor = reader.PEHeaders.CorHeader;
            Assert.NotNull(cor);
            Assert.True(cor.ManagedNativeHeaderDirectory.Size > 0, "the packed Loader.dll has no ReadyToRun header");
            Assert.True((cor.Flags & CorFlags.ILLibrary) != 0, $"the packed Loader.dll is not an IL library with native code (flags {cor.Flags})");
            // crossgen2 marks a ReadyToRun image for Linux by XOR-ing the machine with 0x7B79: AMD64 (0x8664) becomes 0xFD1D.
            Assert.Equal((Machine)(0x8664 ^ 0x7B79), reader.PEHeaders.CoffHeader.Machine);
            // The IL is all there (any platform can JIT it): the same type definitions as the plain build's.
            var metadata = System.Reflection.Metadata.PEReaderExtensions.GetMetadataReader(reader);
            using var plainReader = new PEReader(File.OpenRead(typeof(LoaderContext).Assembly.Location));
            var plain = System.Reflection.Metadata.PEReaderExtensions.GetMetadataReader(plainReader);
            Assert.Equal(plain.TypeDefinitions.Count, metadata.TypeDefinitions.Count);
            Assert.Equal(plain.MethodDefinitions.Count, metadata.MethodDefinitions.Count);
            Assert.Equal(0, plainReader.PEHeaders.CorHeader!.ManagedNativeHeaderDirectory.Size);

            AssertFirstLoadLeavesTheJitNothingOfLoaders(work, packed.ToArray());
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>
    /// The first load of libz in a fresh process, a lookup that finds an export and one that does not, and the unload,
    /// with the packed Loader.dll in a copy of this assembly's directory:
    /// the JIT's own list of what it compiled (DOTNET_JitDisasmSummary), between two marker methods, names no method of
    /// Loader's and no framework generic over one of its types. Such a method is not in the ReadyToRun image, and the
    /// JIT compiling it on a user's first load costs about half a millisecond each (ArrayPool of the program headers'
    /// struct cost nine of them, about 4 ms, until session 18); nor the runtime's cache of generic types made by
    /// reflection (session 18: a default comparer over <c>Module</c>, and <c>File.ReadAllBytes</c>'s handle). What is left
    /// is the runtime's own helper for thread statics.
    /// </summary>
    private static void AssertFirstLoadLeavesTheJitNothingOfLoaders(string work, byte[] packedLoader)
    {
        string app = Path.Combine(work, "app");
        Directory.CreateDirectory(app);
        string tests = Path.GetDirectoryName(typeof(PackagingTests).Assembly.Location)!;
        foreach (string file in Directory.GetFiles(tests))
            File.Copy(file, Path.Combine(app, Path.GetFileName(file)));
        File.WriteAllBytes(Path.Combine(app, "Loader.dll"), packedLoader);
        string list = Path.Combine(work, "jit.txt");
        var run = ChildProcess.Run("dotnet", [Path.Combine(app, Path.GetFileName(typeof(PackagingTests).Assembly.Location)),
            ChildEntryPoint.FirstLoad, "/usr/lib/x86_64-linux-gnu/libz.so.1", "zlibVersion"],
            new Dictionary<string, string?>
            {
                ["DOTNET_JitStdOutFile"] = list, ["DOTNET_JitDisasmSummary"] = "1",
                ["DOTNET_ReadyToRun"] = null, ["DOTNET_TieredCompilation"] = null, ["DOTNET_TC_QuickJit"] = null,
            });
        // The child also fails (3) when the load made one of the framework's event sources: ArrayPool<byte>.Shared's first
        // use does (its EventSource, buckets and trimming: about 0.6-1 ms and 90 KB), which SpareBuffers avoids.
        Assert.True(run.ExitCode == 0, $"first load: {run.Stdout}{run.Stderr}");
        var compiled = File.ReadAllLines(list);
        int begin = Array.FindIndex(compiled, l => l.Contains(nameof(ChildEntryPoint.BeforeFirstLoad), StringComparison.Ordinal));
        int end = Array.FindIndex(compiled, l => l.Contains(nameof(ChildEntryPoint.AfterFirstLoad), StringComparison.Ordinal));
        Assert.True(begin >= 0 && end > begin, $"the markers are not in the JIT's list:\n{string.Join('\n', compiled)}");
        // Only what ran without ReadyToRun code: a Tier1 recompilation of a hot method on the runtime's background thread
        // may land in the window too, and is every method's fate in a long-running process.
        var duringLoad = compiled[(begin + 1)..end].Where(l => !l.Contains("Tier1", StringComparison.Ordinal)).ToArray();
        var loaders = duringLoad.Where(l => l.Contains("Loader.", StringComparison.Ordinal)).ToArray();
        Assert.True(loaders.Length == 0,
            $"the first load compiled {loaders.Length} of Loader's methods with the JIT:\n{string.Join('\n', loaders)}");
        // The runtime's generic cache compiled means something made a generic type by reflection: a default comparer over
        // one of Loader's classes (List.Contains, Array.IndexOf, SequenceEqual), or an Activator (File's SafeFileHandle).
        var reflection = duringLoad.Where(l => l.Contains("IGenericCacheEntry", StringComparison.Ordinal)
            || l.Contains("ActivatorCache", StringComparison.Ordinal)).ToArray();
        Assert.True(reflection.Length == 0,
            $"the first load made generic types by reflection:\n{string.Join('\n', duringLoad)}");
        // A plain (IL-only) Loader.dll in the same place would compile hundreds: the list is the JIT's, not empty by accident.
        Assert.True(duringLoad.Length < 20, $"the first load compiled {duringLoad.Length} methods:\n{string.Join('\n', duringLoad)}");
    }

    [Fact]
    public void Version_names_the_commit_git_says_this_checkout_is_at()
    {
        var result = CliHarness.Run("--version");

        CliHarness.AssertSuccess(result);
        Assert.Matches(VersionLine(), result.Stdout.Trim());
        Assert.Equal($"loader 0.1.0 (commit {GitHead()})", result.Stdout.Trim());
    }

    private static string GitHead()
    {
        var git = ChildProcess.Run("git", "-C", Fixtures.RepositoryRoot, "rev-parse", "HEAD");
        Assert.Equal(0, git.ExitCode);
        return git.Stdout.Trim();
    }

    /// <summary>zlibVersion() as glibc's dlopen gives it (NativeLibrary), the oracle for the tool's call.</summary>
    private static unsafe string ZlibVersionThroughGlibc()
    {
        nint handle = NativeLibrary.Load("libz.so.1");
        try
        {
            var zlibVersion = (delegate* unmanaged<nint>)NativeLibrary.GetExport(handle, "zlibVersion");
            return Marshal.PtrToStringUTF8(zlibVersion())!;
        }
        finally
        {
            NativeLibrary.Free(handle);
        }
    }

    [GeneratedRegex(@"^loader \d+\.\d+\.\d+ \(commit [0-9a-f]{40}\)$")]
    private static partial Regex VersionLine();
}
