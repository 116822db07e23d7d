using Loader.Linking;

namespace Loader;

/// <summary>
/// A <c>DT_NEEDED</c> (or a name given to the search) was not found anywhere glibc would look. The message lists
/// every candidate tried, in order, with the rule that produced it and why it was not taken:
/// <c>libfoo.so.1 (needed by /x/liba.so) not found; looked in: /a/libfoo.so.1 (DT_RUNPATH of /x/liba.so: not found), …</c>.
/// </summary>
public sealed class LibraryNotFoundException : LoaderException
{
    /// <summary>Creates the exception for <paramref name="name"/>, needed by <paramref name="requesterPath"/>.</summary>
    /// <param name="name">The name that was searched for, as written in <c>DT_NEEDED</c>.</param>
    /// <param name="requesterPath">The library that needs it, or null when it was asked for directly.</param>
    /// <param name="attempts">Every candidate tried, in order.</param>
    public LibraryNotFoundException(string name, string? requesterPath, IReadOnlyList<SearchAttempt> attempts)
        : base(FormatMessage(name, requesterPath, attempts), name, inner: null)
    {
        Name = name;
        RequesterPath = requesterPath;
        Attempts = attempts;
    }

    /// <summary>The name that was searched for, as written in <c>DT_NEEDED</c> (also <see cref="LoaderException.FileName"/>).</summary>
    public string Name { get; }

    /// <summary>The library that needs it, or null when it was asked for directly.</summary>
    public string? RequesterPath { get; }

    /// <summary>Every candidate tried, in the order tried.</summary>
    public IReadOnlyList<SearchAttempt> Attempts { get; }

    private static string FormatMessage(string name, string? requesterPath, IReadOnlyList<SearchAttempt> attempts)
    {
        ArgumentNullException.ThrowIfNull(attempts);
        string who = requesterPath is null ? name : $"{name} (needed by {requesterPath})";
        if (attempts.Count == 0)
            return $"{who} not found; there was nowhere to look";
        string message = $"{who} not found; looked in: {string.Join(", ", attempts)}";
        // glibc says "wrong ELF class: ELFCLASS32" when the only candidates were of the other class.
        if (attempts.Any(a => a.Outcome == SearchAttempt.WrongClass))
            message += " (a file of the wrong ELF class was skipped: only ELFCLASS64 x86_64 objects load here)";
        return message;
    }
}
