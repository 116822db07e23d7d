using System.IO.Compression;
using System.Reflection.PortableExecutable;

namespace Loader.Memory;

/// <summary>
/// What the Loader side runs with: by default the Loader.dll the NuGet package ships — the IL with ReadyToRun code for
/// linux-x64 compiled in (src/Loader/Loader.csproj, "ReadyToRun in the package") — so the runtime's part of the figures
/// (code paged in, code compiled) is what a user of the package pays; with <c>--jit</c> the project build's IL-only
/// Loader.dll, which the JIT compiles. The children run from a copy of this program's directory with the packed
/// Loader.dll in it.
/// </summary>
internal static class ShippedLoader
{
    /// <summary>The directory the Loader children run from, and what its Loader.dll is.</summary>
    public static (string Directory, string Description) Prepare(string work, bool jit)
    {
        string here = AppContext.BaseDirectory;
        if (jit)
            return (here, Describe(Path.Combine(here, "Loader.dll")));
        string child = Path.Combine(work, "loader-child");
        Directory.CreateDirectory(child);
        foreach (string file in Directory.GetFiles(here))
            File.Copy(file, Path.Combine(child, Path.GetFileName(file)), overwrite: true);
        string feed = Path.Combine(work, "feed");
        ChildProcess.Run("dotnet", "pack", Repository.File("src", "Loader"), "-c", "Release", "-o", feed);
        using (var package = ZipFile.OpenRead(Directory.GetFiles(feed, "Loader.*.nupkg").Single()))
        {
            var entry = package.GetEntry("lib/net10.0/Loader.dll")
                ?? throw new InvalidOperationException("the package has no lib/net10.0/Loader.dll");
            entry.ExtractToFile(Path.Combine(child, "Loader.dll"), overwrite: true);
        }
        return (child, Describe(Path.Combine(child, "Loader.dll")));
    }

    /// <summary>"ReadyToRun" when the assembly carries precompiled code (a ManagedNativeHeader), else "IL only".</summary>
    private static string Describe(string assembly)
    {
        using var stream = File.OpenRead(assembly);
        using var reader = new PEReader(stream);
        bool readyToRun = reader.PEHeaders.CorHeader is { ManagedNativeHeaderDirectory.Size: > 0 };
        return readyToRun ? "the package's Loader.dll (ReadyToRun code for linux-x64)" : "Loader.dll as IL only (the JIT compiles it)";
    }
}
