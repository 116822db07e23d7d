namespace Loader.Elf;

/// <summary>What a file that is not an ELF object is, judged from its first bytes (<see cref="NotElfFileException.Kind"/>).</summary>
public enum FileKind
{
    /// <summary>None of the kinds below: binary data with some other magic number.</summary>
    Unknown,
    /// <summary>Text (UTF-8, no control characters but whitespace) that is not a linker script.</summary>
    Text,
    /// <summary>
    /// A GNU ld linker script, as <c>/usr/lib/x86_64-linux-gnu/libc.so</c> is: the link editor reads it to find the
    /// real library (<c>GROUP ( /lib/x86_64-linux-gnu/libc.so.6 … )</c>); a loader cannot.
    /// </summary>
    LinkerScript,
    /// <summary>An <c>ar</c> archive (<c>!&lt;arch&gt;</c> or a thin <c>!&lt;thin&gt;</c> one): a static library.</summary>
    ArArchive,
}
