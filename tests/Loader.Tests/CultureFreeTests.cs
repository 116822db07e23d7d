using System.Globalization;
using Loader.Elf;
using Loader.Tests.Elf;
using Loader.Tests.Oracles;

namespace Loader.Tests;

/// <summary>
/// Loading a library must not load ICU into its host. A .NET process not in invariant mode (the default for an
/// application) loads libicuuc, libicui18n and their data the first time anything asks for a culture — the current
/// one, the invariant one, or any <see cref="NumberFormatInfo"/> — about 3 MB resident and tens of milliseconds of a
/// first load (the test project itself runs in invariant mode, so no other test would notice). A child of this
/// assembly, run with a copy of its runtime configuration that turns invariant mode off and a Turkish locale, does
/// what a user does — loads (from a file and from memory, a TLS library, a C++ one that throws inside), looks up,
/// inspects every list and text the API gives, reads a file whole, fails in six ways — and reads its own
/// <c>/proc/self/maps</c> after each step. Then it asks for the current culture itself: ICU must be mapped after
/// that, or the child was not the process the test meant (the oracle's control).
/// </summary>
public sealed class CultureFreeTests
{
    public const string Scenario = "culture-free";

    [Fact]
    public void Loading_looking_up_inspecting_and_failing_leave_ICU_unloaded_in_a_host_not_in_invariant_mode()
    {
        string dir = Directory.CreateTempSubdirectory("loader-culture-").FullName;
        try
        {
            string assembly = typeof(CultureFreeTests).Assembly.Location;
            string config = Path.Combine(dir, "not-invariant.runtimeconfig.json");
            File.WriteAllText(config, File.ReadAllText(Path.ChangeExtension(assembly, ".runtimeconfig.json"))
                .Replace("\"System.Globalization.Invariant\": true", "\"System.Globalization.Invariant\": false", StringComparison.Ordinal)
                .Replace("\"System.Globalization.PredefinedCulturesOnly\": true", "\"System.Globalization.PredefinedCulturesOnly\": false", StringComparison.Ordinal));
            Assert.Contains("\"System.Globalization.Invariant\": false", File.ReadAllText(config), StringComparison.Ordinal);

            var run = ChildProcess.Run("dotnet", ["exec", "--runtimeconfig", config, assembly, Scenario, dir],
                new Dictionary<string, string?> { ["LC_ALL"] = "tr_TR.UTF-8", ["LANG"] = "tr_TR.UTF-8" });
            Assert.True(run.ExitCode == 0, $"child exited {run.ExitCode}\n{run.Stdout}\n{run.Stderr}");

            var lines = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            string all = run.Stdout;
            var steps = lines.Where(l => l.StartsWith("step ", StringComparison.Ordinal)).ToList();
            Assert.True(steps.Count == StepNames.Length, all);
            foreach (string step in steps)
                Assert.True(step.EndsWith(" icu no", StringComparison.Ordinal), $"ICU was mapped after a step:\n{all}");
            foreach (string step in StepNames.Where(n => !n.StartsWith("fail-", StringComparison.Ordinal)))
                Assert.True(lines.Contains($"step {step} ok icu no"), $"step {step} did not succeed:\n{all}");
            // The failures failed as a user would see them (so their messages were made).
            foreach (var (step, exception) in ExpectedFailures)
                Assert.True(lines.Contains($"step {step} threw {exception} icu no"), $"step {step} did not throw {exception}:\n{all}");
            Assert.True(lines.Contains("control icu yes"), $"the child's own culture lookup did not map ICU:\n{all}");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static readonly (string Step, string Exception)[] ExpectedFailures =
    [
        ("fail-missing-file", nameof(ImageLoadException)),
        ("fail-not-found-by-name", nameof(LibraryNotFoundException)),
        ("fail-text-file", nameof(NotElfFileException)),
        ("fail-truncated", nameof(ElfFormatException)),
        ("fail-32-bit", nameof(UnsupportedElfException)),
        ("fail-missing-symbol", nameof(SymbolNotFoundException)),
    ];

    private static readonly string[] StepNames =
    [
        "load", "load-shared-context", "exports", "inspect", "read-whole-file", "load-from-memory", "tls", "cxx-throw",
        "fail-missing-file", "fail-not-found-by-name", "fail-text-file", "fail-truncated", "fail-32-bit",
        "fail-missing-symbol", "unload",
    ];

    [Fact]
    public void Signed_numbers_are_written_as_the_invariant_culture_writes_them()
    {
        Int128[] edges = [0, 1, -1, 9, -10, long.MinValue, long.MaxValue, ulong.MaxValue, Int128.MinValue, Int128.MaxValue];
        foreach (var value in edges)
            Assert.Equal(value.ToString(CultureInfo.InvariantCulture), CultureFreeText.Decimal(value));
        var random = new Random(11);
        for (int i = 0; i < 10_000; i++)
        {
            var value = new Int128((ulong)random.NextInt64() ^ ((ulong)random.Next() << 40), (ulong)random.NextInt64());
            value >>= random.Next(128);
            if (random.Next(2) == 0)
                value = -value;
            Assert.Equal(value.ToString(CultureInfo.InvariantCulture), CultureFreeText.Decimal(value));
        }
    }

    [Fact]
    public void Ascii_case_changes_touch_ASCII_letters_only()
    {
        Assert.Equal("em_x86_64 [az]", CultureFreeText.AsciiLower("EM_X86_64 [AZ]"));
        Assert.Equal("EM_X86_64 `{@", CultureFreeText.AsciiUpper("em_x86_64 `{@"));
        Assert.Equal("ıİäÄ", CultureFreeText.AsciiLower("ıİäÄ"));
        Assert.Equal("ıİäÄ", CultureFreeText.AsciiUpper("ıİäÄ"));
        for (int c = 0; c < 128; c++)
        {
            string one = ((char)c).ToString();
            Assert.Equal(one.ToLowerInvariant(), CultureFreeText.AsciiLower(one));
            Assert.Equal(one.ToUpperInvariant(), CultureFreeText.AsciiUpper(one));
        }
    }

    /// <summary>The child: each step, then whether ICU is mapped; nothing printed before the end (the console's
    /// encoding lookup would itself ask for a culture).</summary>
    internal static unsafe int RunChild(string dir)
    {
        string libz = "/usr/lib/x86_64-linux-gnu/libz.so.1";
        var results = new List<string>();
        if (IcuMapped())
        {
            Console.WriteLine("ICU was mapped before the first step");
            return 1;
        }
        var context = new LoaderContext();
        ElfLibrary? shared = null;
        var steps = new (string Name, Action Run)[]
        {
            ("load", () => new LoaderContext().Load(libz).Dispose()),
            ("load-shared-context", () => shared = context.Load(Fixtures.Path("basic.so"))),
            ("exports", () =>
            {
                var zlib = context.Load(libz);
                _ = zlib.GetExport("compress");
                _ = zlib.GetExport("deflateTune", "ZLIB_1.2.2.3");
                _ = zlib.TryGetExport("not_in_zlib", out _);
                _ = zlib.TryGetExport("malloc", out _);
            }),
            ("inspect", () =>
            {
                var library = shared!;
                var text = new System.Text.StringBuilder();
                text.Append(library).Append(library.Module).Append(library.Plan).Append(library.ReservedRange);
                foreach (var relocation in library.Relocations)
                    text.Append(relocation);
                foreach (var step in library.MappingSteps)
                    text.Append(step).Append(step.Reason);
                foreach (var segment in library.Segments)
                    text.Append(segment);
                foreach (var dependency in library.Dependencies)
                    text.Append(dependency);
                foreach (var module in library.Scope)
                    text.Append(module);
                foreach (var state in context.LoadedLibraries)
                    text.Append(state);
                foreach (var module in context.GetGlobalScope())
                    text.Append(module);
                text.Append(library.Explain("malloc")).Append(library.Explain("not_anywhere"));
                text.Append(library.UnwindTable).Append(library.RelroSharing);
                if (text.Length == 0)
                    throw new InvalidOperationException("nothing to inspect");
            }),
            ("read-whole-file", () =>
            {
                using var elf = ElfFile.Open(libz);
                _ = ElfReadAll.ReadEverything(elf);
                _ = elf.ToString();
            }),
            ("load-from-memory", () => new LoaderContext().Load(File.ReadAllBytes(Fixtures.Path("basic.so")), "basic-from-memory.so").Dispose()),
            ("tls", () => context.Load(Fixtures.Path("tls/libtls_gd.so")).Dispose()),
            ("cxx-throw", () =>
            {
                using var thrower = context.Load(Fixtures.Path("cxx/libcxx_thrower.so"));
                if (((delegate* unmanaged<int, int, int>)thrower.GetExport("thrower_catch_inside"))(5, 4) != 9)
                    throw new InvalidOperationException("thrower_catch_inside");
            }),
            ("fail-missing-file", () => context.Load(Path.Combine(dir, "libnot-here.so"))),
            ("fail-not-found-by-name", () => context.Load("libnot-here-at-all.so.9")),
            ("fail-text-file", () => context.Load(WriteFile(dir, "text.so", "INPUT(-lc)\n"u8.ToArray()))),
            ("fail-truncated", () => context.Load(WriteFile(dir, "truncated.so", File.ReadAllBytes(Fixtures.Path("basic.so"))[..200]))),
            ("fail-32-bit", () => context.Load(Fixtures.Path("elf32_i386.so"))),
            ("fail-missing-symbol", () => shared!.GetExport("not_in_basic")),
            ("unload", () =>
            {
                shared!.Dispose();
                context.Dispose();
            }),
        };
        foreach (var (name, run) in steps)
        {
            string outcome = "ok";
            try
            {
                run();
            }
            catch (Exception e)
            {
                _ = e.Message; // a failure's message is part of the step
                outcome = "threw " + e.GetType().Name;
            }
            results.Add($"step {name} {outcome} icu {(IcuMapped() ? "yes" : "no")}");
        }
        _ = CultureInfo.CurrentCulture.CompareInfo.IndexOf("DIŞ", "diş", CompareOptions.IgnoreCase);
        results.Add($"control icu {(IcuMapped() ? "yes" : "no")}");
        foreach (string line in results)
            Console.WriteLine(line);
        return 0;
    }

    private static string WriteFile(string dir, string name, byte[] bytes)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static bool IcuMapped() => File.ReadAllText("/proc/self/maps").Contains("/libicu", StringComparison.Ordinal);
}
