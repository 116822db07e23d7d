using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// The binding rules of tests/fixtures/binding (see its README section): interposition and what stops it
/// (DT_SYMBOLIC, -Bsymbolic, STV_PROTECTED), STB_GNU_UNIQUE, undefined weak and strong references, hidden
/// definitions. glibc is the oracle: <see cref="BindingProbe"/> runs the same script of loads and calls with
/// Loader (a fresh <see cref="LoaderContext"/>) and in a child process with glibc's <c>dlopen(RTLD_NOW|RTLD_LOCAL)</c>,
/// and the two transcripts must be equal. No expected value is hard-coded; a few checks only make sure a fixture
/// really exercises its rule (glibc itself gives different answers with and without it).
/// </summary>
public sealed class SymbolBindingRulesTests
{
    private static string B(string name) => Fixtures.Path("binding/" + name);

    public static TheoryData<string> WhoVariants() => new() { "plain", "bsym", "dtsym", "prot" };

    /// <summary>The root defines who/shared_value and comes before its dependency in the local scope; the
    /// dependency uses the same names. plain: the root interposes. bsym: ld bound them (-Bsymbolic, no relocation
    /// left). dtsym: DF_SYMBOLIC with the relocations kept. prot: the definitions made STV_PROTECTED, relocations
    /// kept. See tests/fixtures/README.md, 16a.</summary>
    [Theory]
    [MemberData(nameof(WhoVariants))]
    public void A_dependencys_own_references_bind_as_glibc_binds_them(string variant)
    {
        string[] script = ["open", "0", B($"libbind_{variant}_root.so"), "call", "0", "probe_call", "call", "0", "probe_data"];
        BindingProbe.AssertSameAsGlibc(script);
    }

    [Fact]
    public void The_fixtures_make_interposition_observable()
    {
        // Under glibc the plain build is interposed and the three others are not: otherwise the theory above would
        // compare nothing interesting.
        var plain = BindingProbe.Glibc(["open", "0", B("libbind_plain_root.so"), "call", "0", "probe_call", "call", "0", "probe_data"]);
        foreach (string variant in new[] { "bsym", "dtsym", "prot" })
        {
            var other = BindingProbe.Glibc(["open", "0", B($"libbind_{variant}_root.so"), "call", "0", "probe_call", "call", "0", "probe_data"]);
            Assert.NotEqual(plain.Transcript, other.Transcript);
        }
    }

    [Fact]
    public void Unique_symbols_of_two_independent_loads_bind_to_one_copy()
    {
        string[] script = ["open", "0", B("libbind_unique_a.so"), "open", "1", B("libbind_unique_b.so"),
            "ptr", "0", "0", "unique_a_addr", "ptr", "1", "1", "unique_b_addr", "same", "0", "1", "where", "1"];
        var glibc = BindingProbe.AssertSameAsGlibc(script);
        Assert.Contains("same 0 1 = yes", glibc.Transcript, StringComparison.Ordinal);
    }

    [Fact]
    public void Looking_up_a_unique_name_returns_the_copy_the_unique_table_holds()
    {
        // dlsym(b, name) goes through glibc's unique table, which a's load filled first: a's copy, not b's own.
        string[] script = ["open", "0", B("libbind_unique_a.so"), "open", "1", B("libbind_unique_b.so"),
            "ptr", "0", "0", "unique_a_addr", "sym", "1", "1", "_ZN7CounterIiE5valueE", "same", "0", "1", "where", "1"];
        BindingProbe.AssertSameAsGlibc(script);
    }

    [Fact]
    public void A_new_context_has_its_own_unique_symbols_as_a_new_glibc_namespace_has()
    {
        // glibc keeps its unique-symbol table per namespace (dlmopen LM_ID_NEWLM); Loader per LoaderContext.
        string[] script = ["open", "0", B("libbind_unique_a.so"), "nsopen", "1", B("libbind_unique_b.so"),
            "ptr", "0", "0", "unique_a_addr", "ptr", "1", "1", "unique_b_addr", "same", "0", "1"];
        BindingProbe.AssertSameAsGlibc(script);
    }

    /// <summary>The root and its -Bsymbolic dependency both define Counter&lt;int&gt;::value (UNIQUE) and refer to it
    /// through the GOT. The dependency is relocated first and, being DT_SYMBOLIC, finds its own definition first: as
    /// a unique symbol that copy is entered in the table, and the root's reference then gets it too. dlsym of the
    /// name goes through the same table.</summary>
    [Fact]
    public void A_symbolic_librarys_unique_definition_still_goes_through_the_unique_table()
    {
        string[] script = ["open", "0", B("libbind_unique_root.so"),
            "ptr", "0", "0", "unique_root_addr", "ptr", "1", "0", "unique_symdep_addr", "sym", "2", "0", "_ZN7CounterIiE5valueE",
            "same", "0", "1", "same", "0", "2", "where", "0", "where", "1", "where", "2"];
        var glibc = BindingProbe.AssertSameAsGlibc(script);
        Assert.Contains("same 0 1 = yes", glibc.Transcript, StringComparison.Ordinal);
    }

    [Fact]
    public void Weak_references_nobody_defines_are_zero_versioned_or_not()
    {
        string[] script = ["open", "0", B("libbind_missing_weak.so"), "ptr", "0", "0", "weak_absent_address",
            "ptr", "1", "0", "weak_absent_data_address", "call", "0", "call_present"];
        var glibc = BindingProbe.AssertSameAsGlibc(script);
        Assert.Contains("weak_absent_address null", glibc.Transcript, StringComparison.Ordinal);
    }

    [Fact]
    public void A_strong_reference_nobody_defines_fails_naming_symbol_version_and_library()
    {
        string[] script = ["open", "0", B("libbind_missing_strong.so")];
        var (loader, glibc) = BindingProbe.Compare(script);
        Assert.Equal(glibc.Transcript, loader.Transcript);
        BindingProbe.AssertSameUndefinedSymbol(glibc, loader);
    }

    [Fact]
    public void A_hidden_definition_is_never_found_by_a_dependent()
    {
        string[] script = ["open", "0", B("libbind_hidden_user.so")];
        var (loader, glibc) = BindingProbe.Compare(script);
        Assert.Equal(glibc.Transcript, loader.Transcript);
        BindingProbe.AssertSameUndefinedSymbol(glibc, loader);
    }

    [Fact]
    public void A_hidden_definition_is_not_an_export_either()
    {
        string[] script = ["open", "0", B("libbind_hidden_dep.so"), "sym", "0", "0", "secret_value", "call", "0", "public_value"];
        BindingProbe.AssertSameAsGlibc(script);
    }
}
