using System.Diagnostics;

namespace Loader.Memory;

/// <summary>The glibc side: <c>glibc-holder.c</c> (embedded), compiled with gcc into the work folder.</summary>
internal static class GlibcHolder
{
    public static string Build(string workDirectory)
    {
        string source = Path.Combine(workDirectory, "glibc-holder.c");
        string program = Path.Combine(workDirectory, "glibc-holder");
        using (var resource = typeof(GlibcHolder).Assembly.GetManifestResourceStream("glibc-holder.c")!)
        using (var file = File.Create(source))
            resource.CopyTo(file);
        var start = new ProcessStartInfo("gcc") { RedirectStandardError = true };
        foreach (string argument in new[] { "-O2", "-Wall", "-o", program, source })
            start.ArgumentList.Add(argument);
        using var gcc = Process.Start(start)!;
        string errors = gcc.StandardError.ReadToEnd();
        gcc.WaitForExit();
        if (gcc.ExitCode != 0)
            throw new InvalidOperationException($"gcc glibc-holder.c failed: {errors}");
        return program;
    }
}
