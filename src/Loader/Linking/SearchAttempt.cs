namespace Loader.Linking;

/// <summary>
/// One place a dependency was looked for, in the order <see cref="LibrarySearch"/> tried it (what glibc's
/// <c>LD_DEBUG=libs</c> prints as <c>trying file=…</c>).
/// </summary>
/// <param name="Path">The candidate path that was tried (absolute, as opened).</param>
/// <param name="Source">
/// Which rule produced it: <c>DT_RPATH of /x/liba.so</c>, <c>LD_LIBRARY_PATH</c>, <c>DT_RUNPATH of /x/liba.so</c>,
/// <c>LoadOptions.SearchPaths</c>, <c>/etc/ld.so.cache</c>, <c>default directory</c>, or <c>path in the name</c> for a
/// name that contains a '/'.
/// </param>
/// <param name="Outcome">
/// What the candidate was: <c>found</c>, <c>not found</c>, <c>permission denied</c>, <c>not a regular file</c>,
/// <c>wrong ELF class</c> or <c>wrong machine</c> (skipped, as glibc's <c>open_verify</c> skips them), or the defect that
/// stopped the search (<c>invalid ELF header</c>, …).
/// </param>
public sealed record SearchAttempt(string Path, string Source, string Outcome)
{
    /// <summary>The outcome of the candidate that was chosen.</summary>
    public const string Found = "found";

    /// <summary>The outcome of a candidate that does not exist.</summary>
    public const string NotFound = "not found";

    /// <summary>The outcome of an ELFCLASS32 candidate, skipped.</summary>
    public const string WrongClass = "wrong ELF class";

    /// <summary>The outcome of an ELF64 candidate for another machine than x86_64, skipped.</summary>
    public const string WrongMachine = "wrong machine";

    /// <summary><c>/x/libfoo.so (LD_LIBRARY_PATH: not found)</c>.</summary>
    public override string ToString() => $"{Path} ({Source}: {Outcome})";
}
