using Loader.Native;

namespace Loader.Linking;

/// <summary>
/// The results of the IFUNC resolvers run in one namespace, by the resolver's address: each resolver runs once, so
/// every relocation and export of that symbol gets the same address (glibc calls a resolver once per relocation;
/// the result is meant to be the same). Forgotten when the module holding the resolver unloads. A host library's
/// resolvers (libc's <c>strlen</c>) are the process's, and so are their results: kept once for every namespace, so a
/// new context neither keeps nor runs them again.
/// </summary>
internal struct IfuncResolverCache // a field of its namespace, not an object of its own
{
    private AddressMap? _results; // made at the first resolver of an image of this namespace

    private static readonly AddressMap s_hostResults = new();
    private static readonly Lock s_hostLock = new();

    /// <summary>
    /// The resolver's result, running it the first time. With <see cref="LoadOptions.RunResolvers"/> false, a
    /// resolver in an image Loader mapped is refused (host resolvers are the host's code, already running).
    /// </summary>
    /// <param name="owner">The module the resolver lies in.</param>
    /// <param name="resolver">The resolver's absolute address.</param>
    /// <param name="what">What needs it, named in the error message (<c>IFUNC 'memcpy'</c>, a relocation).</param>
    /// <param name="options">The options of the load (or of the lookup) that needs it.</param>
    /// <exception cref="RelocationException">The resolver may not run, or does not lie in executable code.</exception>
    public nint Run(Module owner, nint resolver, in ResolverUse what, LoadOptions options)
    {
        // A resolver inside an image of ours is never a host library's: only the namespace's own results can hold it.
        if (owner.IsHost ? TryGetResult(resolver, out nint cached) : _results is not null && _results.TryGetValue(resolver, out cached))
            return cached;
        // The load's own choice holds for every later lookup too (GetExport, bind), not only for its relocations.
        if ((!options.RunResolvers || !owner.ResolversAllowed) && !owner.IsHost)
            ThrowHelper.Relocation(owner.Path, $"{owner.Path}: {what} needs its resolver run, and LoadOptions.RunResolvers is false");
        if (!owner.IsExecutable(resolver))
            ThrowHelper.Relocation(owner.Path, $"{owner.Path}: {what}: the resolver 0x{resolver:x} does not lie in an executable PT_LOAD");
        nint result = NativeCalls.CallResolver(resolver);
        if (owner.IsHost)
        {
            lock (s_hostLock)
                s_hostResults.Set(resolver, result);
        }
        else
        {
            (_results ??= new AddressMap()).Set(resolver, result);
        }
        return result;
    }

    /// <summary>The result of a resolver that has run already; false when it has not.</summary>
    public bool TryGetResult(nint resolver, out nint result)
    {
        if (_results is not null && _results.TryGetValue(resolver, out result))
            return true;
        lock (s_hostLock)
            return s_hostResults.TryGetValue(resolver, out result);
    }

    /// <summary>Forgets the results of resolvers inside <paramref name="module"/> (it is unloading).</summary>
    public void Forget(Module module)
    {
        if (_results is null || module.IsHost)
            return;
        var range = module.Range;
        _results.RemoveRange(range.Start, range.End);
    }
}
