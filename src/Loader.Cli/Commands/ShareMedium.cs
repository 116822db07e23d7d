using Loader.Mapping;
using Microsoft.Win32.SafeHandles;

namespace Loader.Cli.Commands;

/// <summary>The file <c>loader share</c> writes RELRO to: a sealed memfd (the default), a POSIX shm object (<c>--shm</c>),
/// or a new regular file (<c>--file</c>); the last two are created new and removed at the end.</summary>
/// <param name="Kind"><c>memfd</c>, <c>shm</c> or <c>file</c>.</param>
/// <param name="Name">The shm name or the file's path; null for a memfd.</param>
internal sealed record ShareMedium(string Kind, string? Name)
{
    public static ShareMedium From(string? shm, string? file) =>
        shm is not null ? new("shm", shm) : file is not null ? new("file", file) : new("memfd", null);

    /// <summary>Creates the file (never opens one that exists: someone else's content would be shared).</summary>
    public SafeFileHandle Create(string library) => Kind switch
    {
        "shm" => RelroFile.CreateShm(Name!),
        "file" => File.OpenHandle(Name!, FileMode.CreateNew, FileAccess.ReadWrite),
        _ => RelroFile.CreateMemfd("loader-relro:" + Path.GetFileName(library)),
    };

    /// <summary>Removes the name once nobody needs it (mappings keep the pages alive meanwhile), if it was created.</summary>
    public void Remove(bool created)
    {
        if (!created)
            return;
        if (Kind == "shm")
            RelroFile.UnlinkShm(Name!);
        else if (Kind == "file")
            File.Delete(Name!);
    }
}
