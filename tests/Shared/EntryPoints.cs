using Loader.Elf;
using Loader.Mapping;

namespace Loader.Hostile;

/// <summary>The three ways a file reaches Loader, each fed hostile input by the fuzzer and the mutation tests.</summary>
public enum EntryPoint
{
    /// <summary><see cref="ElfFile.Open"/> and every view of the parsed file.</summary>
    Open,

    /// <summary><see cref="ElfImage.Map(string, MapOptions?)"/>: reserve, overlay, RELRO, then unmap.</summary>
    Map,

    /// <summary><see cref="LoaderContext.Load(string, LoadOptions?)"/> in a fresh context, running nothing of the
    /// library (no initializers, no IFUNC resolvers), then its dependencies, scope, relocations and one lookup, then dispose.</summary>
    Load,
}

/// <summary>
/// The contract under test, shared by the test suite and the fuzzing harness (both compile this file): an input
/// is either accepted or refused with a <see cref="LoaderException"/>. Anything else escapes from
/// <see cref="Run"/> and is a bug; so is a crash or a hang, which the caller detects from outside.
/// </summary>
public static class EntryPoints
{
    /// <summary>Load options that run nothing of the library, so the process survives whatever it contains.</summary>
    public static readonly LoadOptions RunNothing = new() { RunInitializers = false, RunResolvers = false };

    /// <summary>Runs the file at <paramref name="path"/> through <paramref name="entry"/>. Returns null when it was
    /// accepted, the <see cref="LoaderException"/> when it was refused; any other exception propagates.</summary>
    public static LoaderException? Run(EntryPoint entry, string path)
    {
        try
        {
            switch (entry)
            {
                case EntryPoint.Open:
                    using (var elf = ElfFile.Open(path))
                        ElfEverything.Read(elf);
                    break;
                case EntryPoint.Map:
                    using (var image = ElfImage.Map(path))
                        GC.KeepAlive(image.MappingSteps.Count);
                    break;
                case EntryPoint.Load:
                    using (var context = new LoaderContext())
                    {
                        var library = context.Load(path, RunNothing);
                        long n = library.Dependencies.Count + library.Scope.Count + library.MappingSteps.Count;
                        foreach (var relocation in library.Relocations)
                            n += (long)relocation.Type + (relocation.Symbol?.Length ?? 0);
                        n += library.TryGetExport("no_such_symbol_anywhere", out _) ? 1 : 0;
                        GC.KeepAlive(n);
                    }
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(entry), entry, null);
            }
            return null;
        }
        catch (LoaderException refused)
        {
            return refused;
        }
    }
}
