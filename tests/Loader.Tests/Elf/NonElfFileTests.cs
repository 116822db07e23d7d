using Loader.Elf;
using Loader.Mapping;
using Loader.Tests.Oracles;

namespace Loader.Tests.Elf;

/// <summary>
/// A file that is not ELF is named for what it is, the same way by every entry point (<see cref="ElfFile.Open"/>,
/// <see cref="ElfImage.Map(string, MapOptions?)"/>, <see cref="LoaderContext.Load(string, LoadOptions?)"/>): a GNU ld
/// linker script with the files it names, an ar archive, a text file, or other data with its magic number. The kinds
/// are checked against file(1)'s verdict on the same bytes.
/// </summary>
[Collection("AddressSpace")]
public sealed class NonElfFileTests : IDisposable
{
    private const string SystemLibcScript = "/usr/lib/x86_64-linux-gnu/libc.so";
    private readonly string _directory = Directory.CreateTempSubdirectory("loader-nonelf-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string Write(string name, string text) => Write(name, System.Text.Encoding.UTF8.GetBytes(text));

    /// <summary>The same refusal from the reader, the mapper and a load, which must agree word for word.</summary>
    private static NotElfFileException RefusedEverywhere(string path)
    {
        var read = Assert.Throws<NotElfFileException>(() => ElfFile.Open(path));
        var mapped = Assert.Throws<NotElfFileException>(() => ElfImage.Map(path));
        var loaded = Assert.Throws<NotElfFileException>(() => new LoaderContext().Load(path));
        Assert.Equal(read.Message, mapped.Message);
        Assert.Equal(read.Message, loaded.Message);
        Assert.Equal(path, read.FileName);
        return read;
    }

    private static string FileVerdict(string path) => ChildProcess.Run("file", "-b", path).Stdout.Trim();

    [Fact]
    public void A_linker_script_names_the_library_its_GROUP_names_first_and_the_other_files()
    {
        string path = Write("libfoo.so", """
            /* GNU ld script
               Use the shared library, but some functions are only in
               the static library, so try that secondarily.  */
            OUTPUT_FORMAT(elf64-x86-64)
            GROUP ( /lib/x86_64-linux-gnu/libfoo.so.6 /usr/lib/x86_64-linux-gnu/libfoo_nonshared.a  AS_NEEDED ( /lib64/ld-linux-x86-64.so.2 ) )
            """);

        var e = RefusedEverywhere(path);

        Assert.Equal("ASCII text", FileVerdict(path));
        Assert.Equal(FileKind.LinkerScript, e.Kind);
        Assert.Equal(["/lib/x86_64-linux-gnu/libfoo.so.6", "/usr/lib/x86_64-linux-gnu/libfoo_nonshared.a", "/lib64/ld-linux-x86-64.so.2"], e.NamedFiles);
        Assert.Equal("/lib/x86_64-linux-gnu/libfoo.so.6", e.NamedLibrary);
        Assert.Equal($"{path}: a GNU ld linker script, not an ELF file; the library it names is /lib/x86_64-linux-gnu/libfoo.so.6 " +
            "(it also names /usr/lib/x86_64-linux-gnu/libfoo_nonshared.a, /lib64/ld-linux-x86-64.so.2)", e.Message);
    }

    [Fact]
    public void An_INPUT_script_with_a_dash_l_name_lists_it_as_written()
    {
        string path = Write("libncurses.so", "INPUT(libncurses.so.6 -ltinfo)\n");

        var e = RefusedEverywhere(path);

        Assert.Equal(["libncurses.so.6", "-ltinfo"], e.NamedFiles);
        Assert.Equal($"{path}: a GNU ld linker script, not an ELF file; the library it names is libncurses.so.6 (it also names -ltinfo)", e.Message);
    }

    [Fact]
    public void The_systems_libc_so_script_names_a_library_whose_SONAME_is_libc_so_6()
    {
        Assert.True(File.Exists(SystemLibcScript), $"{SystemLibcScript} is missing (libc6-dev)");

        var e = RefusedEverywhere(SystemLibcScript);

        Assert.Equal(FileKind.LinkerScript, e.Kind);
        Assert.StartsWith($"{SystemLibcScript}: a GNU ld linker script, not an ELF file; the library it names is {e.NamedLibrary}", e.Message);
        // The library it names is the real libc, as readelf reads its dynamic section.
        Assert.Matches(@"\(SONAME\)\s+Library soname: \[libc\.so\.6\]", Readelf.Output("-d", e.NamedLibrary!));
    }

    [Fact]
    public void An_ar_archive_made_by_ar_is_named_a_static_library()
    {
        string member = Write("member.txt", "x\n");
        string path = Path.Combine(_directory, "libfoo.a");
        var ar = ChildProcess.Run("ar", "rc", path, member);
        Assert.True(ar.ExitCode == 0, ar.Stderr);

        var e = RefusedEverywhere(path);

        Assert.Equal("current ar archive", FileVerdict(path));
        Assert.Equal(FileKind.ArArchive, e.Kind);
        Assert.Empty(e.NamedFiles);
        Assert.Null(e.NamedLibrary);
        Assert.Equal($"{path}: an ar archive (a static library), not an ELF file: a static library is linked into a program by ld, not loaded", e.Message);
    }

    [Fact]
    public void A_text_file_is_named_text_with_its_first_line()
    {
        string path = Write("notes.so", "hello world\nsecond line\n");

        var e = RefusedEverywhere(path);

        Assert.Equal("ASCII text", FileVerdict(path));
        Assert.Equal(FileKind.Text, e.Kind);
        Assert.Equal($"{path}: a text file, not an ELF file (it begins \"hello world\")", e.Message);
    }

    [Fact]
    public void Other_data_is_named_by_its_magic_number()
    {
        string path = Write("data.so", [0x00, 0x01, 0x62, 0x69, 0xff, 0x00, 0x10]);

        var e = RefusedEverywhere(path);

        Assert.Equal(FileKind.Unknown, e.Kind);
        Assert.Equal($"{path}: not an ELF file (magic 0x00016269)", e.Message);
    }

    [Fact]
    public void A_short_prefix_of_the_ELF_magic_and_an_empty_file_stay_truncated_ELF()
    {
        string prefix = Write("cut.so", [0x7f, (byte)'E', (byte)'L']);
        string empty = Write("empty.so", []);

        var cut = Assert.Throws<ElfFormatException>(() => ElfFile.Open(prefix));
        var nothing = Assert.Throws<ElfFormatException>(() => ElfFile.Open(empty));

        Assert.Equal("e_ident", cut.Field);
        Assert.Equal($"{prefix}: e_ident at offset 0x0: file is 3 bytes, shorter than the 16-byte ELF identification", cut.Message);
        Assert.Equal($"{empty}: e_ident at offset 0x0: the file is empty (0 bytes), shorter than the 16-byte ELF identification", nothing.Message);
    }
}
