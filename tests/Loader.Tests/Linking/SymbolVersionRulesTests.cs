using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// glibc's <c>check_match</c> for a relocation that carries no version (its library was linked against an
/// unversioned build of the dependency) meeting a versioned library at run time: the base or oldest definition
/// (version index ≤ 2) wins; failing that, the only non-hidden version; a symbol that exists only as a hidden
/// (non-default) version is not found. <c>dlsym</c>/<c>GetExport</c> of the same name takes the default version
/// instead. Compared with glibc through <see cref="BindingProbe"/>; fixtures: tests/fixtures/README.md, 16c.
/// </summary>
public sealed class SymbolVersionRulesTests
{
    private static string B(string name) => Fixtures.Path("binding/" + name);

    /// <summary>two: vfunc@VERS_1 (index 2) and vfunc@@VERS_2; one: only vfunc@@VERS_2.</summary>
    [Theory]
    [InlineData("two")]
    [InlineData("one")]
    public void An_unversioned_reference_binds_as_glibcs_check_match(string variant)
    {
        string[] script = ["open", "0", B($"libbind_vuser_{variant}.so"), "call", "0", "call_vfunc", "call", "0", "vfunc"];
        BindingProbe.AssertSameAsGlibc(script);
    }

    [Fact]
    public void The_oldest_version_and_the_default_differ_under_glibc()
    {
        // The relocation (call_vfunc) and dlsym (vfunc) must disagree in the two-version fixture, or the theory above
        // would not tell the index ≤ 2 rule from "take the default".
        var glibc = BindingProbe.Glibc(["open", "0", B("libbind_vuser_two.so"), "call", "0", "call_vfunc", "call", "0", "vfunc"]);
        var lines = glibc.Transcript.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.NotEqual(lines[1].Split(" = ")[1], lines[2].Split(" = ")[1]);
    }

    [Fact]
    public void An_unversioned_reference_does_not_take_a_hidden_version()
    {
        string[] script = ["open", "0", B("libbind_vuser_hiddenonly.so")];
        var (loader, glibc) = BindingProbe.Compare(script);
        Assert.Equal(glibc.Transcript, loader.Transcript);
        BindingProbe.AssertSameUndefinedSymbol(glibc, loader);
    }

    [Theory]
    [InlineData("two")]
    [InlineData("one")]
    [InlineData("hiddenonly")]
    public void Exports_of_the_versioned_dependency_match_dlsym(string variant)
    {
        string[] script = ["open", "0", B($"libbind_vdep_{variant}.so"), "call", "0", "vfunc", "call", "0", "vdep_v1", "call", "0", "vdep_v2"];
        BindingProbe.AssertSameAsGlibc(script);
    }
}
