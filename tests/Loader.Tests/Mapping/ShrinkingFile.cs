using Loader.Mapping;

namespace Loader.Tests.Mapping;

/// <summary>A file that someone cuts short while Loader maps it (run in a child: a regression is a SIGBUS).</summary>
public static class ShrinkingFile
{
    /// <summary>Maps <paramref name="path"/>, truncating it to one page just before the first step of kind
    /// <paramref name="cutBefore"/>; returns <c>mapped</c> or <c>refused: Type: message</c>. With
    /// <paramref name="prefault"/>, a large writable overlay is mapped with MAP_POPULATE, as a load maps it.</summary>
    public static string MapWhileCutting(string path, MappingStepKind cutBefore, bool prefault = false)
    {
        bool cut = false;
        var options = new MapOptions
        {
            PrefaultWritableSegments = prefault,
            BeforeStep = step =>
            {
                if (!cut && step.Kind == cutBefore)
                {
                    cut = true;
                    using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
                    file.SetLength(Environment.SystemPageSize);
                }
            },
        };
        try
        {
            using var image = ElfImage.Map(path, options);
            return cut ? "mapped" : "mapped, never cut";
        }
        catch (LoaderException e)
        {
            return $"refused: {e.GetType().Name}: {e.Message}";
        }
    }
}
