using Loader.Calling;
using Loader.Cli.Rendering;
using Loader.Elf;

namespace Loader.Cli.Commands;

/// <summary>
/// The export each process of <c>loader share</c> tries, to show the library works there: with <c>--call PROTO</c> (a
/// function without parameters) it is called; without, the library's first exported function is only resolved
/// (calling an arbitrary function is not safe).
/// </summary>
internal static class ShareExport
{
    /// <summary>The first defined global or weak function of the library's dynamic symbol table, or null.</summary>
    public static string? FirstFunction(string path)
    {
        using var file = ElfFile.Open(path);
        if (file.DynamicSymbols is not { } symbols)
            return null;
        for (int i = 1; i < symbols.Count; i++)
        {
            var symbol = symbols[i];
            if (!symbol.IsUndefined && symbol.Type == SymbolType.Func && symbol.Binding is SymbolBinding.Global or SymbolBinding.Weak)
                return symbols.GetName(i);
        }
        return null;
    }

    /// <summary>Resolves <paramref name="name"/> and, with a prototype, calls it: (address, result as text).</summary>
    public static (nint Address, string? Result) Run(ElfLibrary library, string name, CPrototype? call)
    {
        nint address = library.GetExport(name);
        if (call is null)
            return (address, null);
        var result = ForeignCall.Invoke(address, call, []);
        ForeignCall.FlushStandardStreams();
        return (address, CValueText.Format(call.ReturnType, result));
    }
}
