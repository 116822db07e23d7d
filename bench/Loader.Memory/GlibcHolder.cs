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
        ChildProcess.Run("gcc", "-O2", "-Wall", "-o", program, source);
        return program;
    }
}
