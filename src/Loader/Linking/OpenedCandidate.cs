using Loader.Mapping;
using Loader.Native;

namespace Loader.Linking;

/// <summary>
/// The file a library search settled on, still open, with the first page its check read: the load maps from these
/// (<see cref="Mapper.MapOpened"/>) instead of opening and reading the file a second time — glibc's
/// <c>_dl_map_object_from_fd</c> maps from <c>open_verify</c>'s descriptor and buffer the same way. Disposing it before
/// <see cref="Take"/> closes the descriptor and gives the buffer back; after, the mapper owns both.
/// </summary>
internal sealed class OpenedCandidate : IDisposable
{
    private FileDescriptor? _file;
    private readonly FirstPage _firstPage;

    public OpenedCandidate(FileDescriptor file, FirstPage firstPage)
    {
        _file = file;
        _firstPage = firstPage;
    }

    /// <summary>The descriptor and the first page, handed over once.</summary>
    public (FileDescriptor File, FirstPage FirstPage) Take()
    {
        var file = _file ?? throw new InvalidOperationException("the candidate was taken or disposed already");
        _file = null;
        return (file, _firstPage);
    }

    public void Dispose()
    {
        if (_file is null)
            return;
        _file.Dispose();
        _file = null;
        _firstPage.Return();
    }
}
