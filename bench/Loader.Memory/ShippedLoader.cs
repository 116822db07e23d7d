using System.IO.Compression;
using System.Reflection.PortableExecutable;

namespace Loader.Memory;

/// <summary>
/// What the Loader side runs with: by default the Loader.dll the NuGet package ships — the IL with ReadyToRun code for
/// linux-x64 compiled in (src/Loader/Loader.csproj, "ReadyToRun in the package") — so the runtime's part of the figures
/// (code paged in, code compiled) is what a user of the package pays; with <c>--jit</c> the project build's IL-only
/// Loader.dll, which the JIT compiles; with <c>--aot</c> this program published with NativeAOT (Loader compiled ahead of
/// time into the holder's executable, as into a NativeAOT application's: no runtime metadata or ReadyToRun tables to page
/// in, nothing to compile). The children run from a copy of this program's directory with the packed Loader.dll in it,
/// or from the publication.
/// </summary>
internal static class ShippedLoader
{
    /// <summary>How the Loader side is run.</summary>
    public enum Host { Package, Jit, NativeAot }

    /// <summary>How to start a Loader child with the given arguments, and what runs in it.</summary>
    public static (Func<string[], (string FileName, List<string> Arguments)> Command, string Description) Prepare(string work, Host host)
    {
        string here = AppContext.BaseDirectory;
        if (host == Host.Jit)
            return (arguments => SelfCommand.From(here, arguments), Describe(Path.Combine(here, "Loader.dll")));
        if (host == Host.NativeAot)
        {
            string published = Path.Combine(work, "loader-aot");
            ChildProcess.Run("dotnet", "publish", Repository.File("bench", "Loader.Memory"), "-c", "Release", "-r", "linux-x64",
                "-p:PublishAot=true", "-o", published);
            return (arguments => SelfCommand.Native(published, arguments),
                "this tool published with NativeAOT (Loader compiled ahead of time into the holder's executable)");
        }
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
        return (arguments => SelfCommand.From(child, arguments), Describe(Path.Combine(child, "Loader.dll")));
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
