using Loader.Linking;
using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// A binding to the host's <c>__cxa_thread_atexit</c> or <c>__cxa_thread_atexit_impl</c> goes through the thread-exit
/// shim, and one to ld.so's <c>__tls_get_addr</c> to Loader's TLS server, told by the definition's symbol index
/// (<see cref="HostModule.RedirectAt"/>, found along the names' hash chains). The oracle is a scan of every symbol of
/// every host library for the three names.
/// </summary>
public sealed class RedirectedDefinitionsTests
{
    [Fact]
    public void Every_host_library_s_definitions_of_the_names_are_told_by_index_and_no_other_symbol_is()
    {
        var seen = new HashSet<string>();
        foreach (var host in HostModules.Enumerate())
        {
            if (host.Tables.Symbols is not { } symbols)
                continue;
            // Read in place: each library is pinned first, and left out when it is gone or was loaded again elsewhere.
            if (!Glibc.TryPin(host, out nint pin))
                continue;
            try
            {
                Check(host, symbols, seen);
            }
            finally
            {
                if (pin != 0)
                    Glibc.Close(pin);
            }
        }
        // glibc defines the first, libstdc++ (which the runtime loads) the second, ld.so the third: not vacuous.
        Assert.Contains("__cxa_thread_atexit_impl", seen);
        Assert.Contains("__cxa_thread_atexit", seen);
        Assert.Contains("__tls_get_addr", seen);
    }

    private static void Check(HostModule host, Loader.Elf.SymbolTable symbols, HashSet<string> seen)
    {
        for (int i = 1; i < symbols.Count; i++)
        {
            var symbol = symbols[i];
            string name = symbols.GetName(i);
            var expected = symbol.IsUndefined ? HostRedirect.None : name switch
            {
                "__cxa_thread_atexit" or "__cxa_thread_atexit_impl" => HostRedirect.ThreadAtExit,
                "__tls_get_addr" => HostRedirect.TlsGetAddr,
                _ => HostRedirect.None,
            };
            var told = host.RedirectAt(i);
            Assert.True(expected == told, $"{host.Path} #{i} {name}: told {told}, expected {expected} (defined: {!symbol.IsUndefined})");
            if (expected != HostRedirect.None)
                seen.Add(name);
        }
    }
}
