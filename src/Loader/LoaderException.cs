namespace Loader;

/// <summary>The base of every error the loader reports for something it refuses to load or read.</summary>
public class LoaderException : Exception
{
    /// <summary>Creates an exception with a message that names the file and what was wrong.</summary>
    public LoaderException(string message) : base(message) { }

    /// <summary>Creates an exception that wraps the cause.</summary>
    public LoaderException(string message, Exception? inner) : base(message, inner) { }
}
