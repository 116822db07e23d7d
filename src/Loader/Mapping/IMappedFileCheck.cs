namespace Loader.Mapping;

/// <summary>
/// Asked by the mapper once it has identified the file it maps (the load's one fstat, made after the first overlay
/// so the descriptor is opened and examined once): true when the caller already has that file loaded, and the
/// mapping is to be rolled back rather than finished.
/// </summary>
internal interface IMappedFileCheck
{
    bool IsAlreadyLoaded(FileIdentity file);
}
