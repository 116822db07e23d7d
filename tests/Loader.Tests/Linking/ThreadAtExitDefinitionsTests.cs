using Loader.Linking;

namespace Loader.Tests.Linking;

/// <summary>
/// A binding to the host's <c>__cxa_thread_atexit</c> or <c>__cxa_thread_atexit_impl</c> goes through the thread-exit
/// shim, told by the definition's symbol index (<see cref="HostModule.DefinesThreadAtExitAt"/>, found along the two
/// names' hash chains). The oracle is a scan of every symbol of every host library for the two names.
/// </summary>
public sealed class ThreadAtExitDefinitionsTests
{
    [Fact]
    public void Every_host_library_s_definitions_of_the_two_names_are_told_by_index_and_no_other_symbol_is()
    {
        var seen = new HashSet<string>();
        foreach (var host in HostModules.Enumerate())
        {
            if (host.Tables.Symbols is not { } symbols)
                continue;
            for (int i = 1; i < symbols.Count; i++)
            {
                var symbol = symbols[i];
                string name = symbols.GetName(i);
                bool expected = !symbol.IsUndefined && name is "__cxa_thread_atexit" or "__cxa_thread_atexit_impl";
                Assert.True(expected == host.DefinesThreadAtExitAt(i),
                    $"{host.Path} #{i} {name}: told {!expected} (defined: {!symbol.IsUndefined})");
                if (expected)
                    seen.Add(name);
            }
        }
        // glibc defines the first, libstdc++ (which the runtime loads) the second: the check is not vacuous.
        Assert.Contains("__cxa_thread_atexit_impl", seen);
        Assert.Contains("__cxa_thread_atexit", seen);
    }
}
