namespace Loader.Cli.Rendering;

/// <summary>
/// How wide the terminal a writer prints to is: the window's width when the writer is the console's stdout and that
/// is a terminal, else null (a pipe, a file, or a test's <see cref="StringWriter"/>: no limit).
/// </summary>
internal static class TerminalWidth
{
    /// <summary>The width to fit, or null for none.</summary>
    public static int? Of(TextWriter writer)
    {
        if (!ReferenceEquals(writer, Console.Out) || Console.IsOutputRedirected)
            return null;
        try
        {
            int width = Console.WindowWidth;
            return width > 0 ? width : null;
        }
        catch (IOException)
        {
            return null; // no terminal to ask after all
        }
    }
}
