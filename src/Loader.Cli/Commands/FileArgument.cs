using Loader.Linking;

namespace Loader.Cli.Commands;

/// <summary>
/// How every command that reads or maps a file turns its FILE into a path: a path (with a '/') as given; a bare name
/// that names a file in the current directory, that file (as readelf reads it); any other bare name, the library
/// of that name found where a load would find it (LD_LIBRARY_PATH, /etc/ld.so.cache, the default directories), so
/// <c>loader info libz.so.1</c> reads what <c>dlopen("libz.so.1")</c> maps. A name found nowhere stays as it is, and
/// the command says "no such file".
/// </summary>
internal static class FileArgument
{
    public static string Resolve(string file)
    {
        string loadable = ElfFileRunner.LoadablePath(file);
        if (loadable != file || file.Length == 0 || file.Contains('/'))
            return loadable;
        try
        {
            return new LibraryLocator().Find(file, null, []) ?? file;
        }
        catch (LoaderException)
        {
            return file; // a candidate the search stops at: reading the name itself gives the one wording of the problem
        }
    }
}
