namespace Loader.Native;

/// <summary>
/// Calls into code of a loaded image (or of a host library): IFUNC resolvers, initializers and finalizers. The
/// callers have checked that the address lies in an executable part of a module; from here on it is native code,
/// and a fault in it is the library's, not a managed exception.
/// </summary>
internal static unsafe class NativeCalls
{
    /// <summary>Calls an IFUNC resolver: on x86_64 glibc calls it with no arguments (<c>elf_ifunc_invoke</c>) and
    /// uses the address it returns.</summary>
    public static nint CallResolver(nint resolver) => ((delegate* unmanaged<nint>)resolver)();

    /// <summary>Calls a DT_INIT or DT_INIT_ARRAY function as glibc's <c>call_init</c> does: <c>(argc, argv, envp)</c>.</summary>
    public static void CallInitializer(nint function, int argc, nint argv, nint envp) =>
        ((delegate* unmanaged<int, nint, nint, void>)function)(argc, argv, envp);

    /// <summary>Calls a DT_FINI or DT_FINI_ARRAY function (no arguments, as glibc's <c>_dl_fini</c>).</summary>
    public static void CallFinalizer(nint function) => ((delegate* unmanaged<void>)function)();
}
