using Loader.Elf;

namespace Loader.Tests.Elf;

/// <summary>Helpers shared by the robustness tests: touch every lazily validated part, and assert a clean refusal.</summary>
public static class ElfReadAll
{
    /// <summary>Reads everything an <see cref="ElfFile"/> exposes: <see cref="Loader.Hostile.ElfEverything.Read"/>.</summary>
    public static long ReadEverything(ElfFile elf) => Loader.Hostile.ElfEverything.Read(elf);

    /// <summary>Parses and reads everything; the result is either a value or the exception thrown.</summary>
    public static Exception? ParseAndReadAll(ReadOnlyMemory<byte> bytes, string name)
    {
        try
        {
            var elf = ElfFile.Parse(bytes, name);
            ReadEverything(elf);
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    /// <summary>
    /// Asserts that parsing (and then reading everything) raises an <see cref="ElfFormatException"/> whose
    /// <c>Field</c> is <paramref name="field"/> (or one of the alternatives) and whose message names the file and the field.
    /// </summary>
    public static ElfFormatException AssertRefused(ReadOnlyMemory<byte> bytes, string name, params string[] field)
    {
        var e = ParseAndReadAll(bytes, name);
        if (e is null)
            Assert.Fail($"expected an ElfFormatException naming {string.Join(" or ", field)}, but the file parsed and read back");
        if (e is not ElfFormatException format)
            throw new Xunit.Sdk.XunitException($"expected an ElfFormatException naming {string.Join(" or ", field)}, got {e.GetType().Name}: {e.Message}\n{FirstFrames(e)}");
        Assert.Contains(format.Field, field);
        Assert.Equal(name, format.FileName);
        Assert.Contains(name, format.Message, StringComparison.Ordinal);
        Assert.Contains(format.Field, format.Message, StringComparison.Ordinal);
        return format;
    }

    /// <summary>
    /// True when <paramref name="e"/> is acceptable for bad input: null (parsed), or a LoaderException that names
    /// the file and a field. Otherwise <paramref name="why"/> describes what escaped.
    /// </summary>
    public static bool IsCleanOutcome(Exception? e, string name, out string why)
    {
        why = "";
        switch (e)
        {
            case null:
                return true;
            case ElfFormatException f when f.FileName == name && !string.IsNullOrEmpty(f.Field) && f.Message.Contains(f.Field, StringComparison.Ordinal):
                return true;
            case ElfFormatException f:
                why = $"ElfFormatException without a proper FileName/Field (FileName={f.FileName ?? "null"}, Field={f.Field ?? "null"}): {f.Message}";
                return false;
            case LoaderException:
                return true;
            default:
                why = $"{e.GetType().Name}: {e.Message}\n{FirstFrames(e)}";
                return false;
        }
    }

    private static string FirstFrames(Exception e) =>
        string.Join("\n", (e.StackTrace ?? "").Split('\n').Take(5).Select(l => l.TrimEnd()));

    /// <summary>Runs <paramref name="action"/> on a worker and fails if it does not finish within <paramref name="seconds"/>.</summary>
    public static T WithTimeout<T>(Func<T> action, int seconds, Func<string> describe)
    {
        var task = Task.Run(action);
        if (!task.Wait(TimeSpan.FromSeconds(seconds)))
            Assert.Fail($"did not finish within {seconds} s (hang?) at: {describe()}");
        return task.Result;
    }
}
