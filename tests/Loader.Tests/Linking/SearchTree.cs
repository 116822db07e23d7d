using Loader.Tests.Oracles;

namespace Loader.Tests.Linking;

/// <summary>
/// Tiny libraries built with gcc once per test class, in a temporary directory:
/// <code>
/// leafdir/libleaf.so   alt/libleaf.so (a copy)   middir/libmid.so (needs libleaf.so, no paths)
/// top/libtop_rpath.so    needs libmid.so, DT_RPATH   $ORIGIN/../middir:$ORIGIN/../leafdir (--disable-new-dtags)
/// top/libtop_runpath.so  needs libmid.so, DT_RUNPATH $ORIGIN/../middir:$ORIGIN/../leafdir
/// midrun/libmid.so     needs libleaf.so, DT_RUNPATH $ORIGIN/../nothing
/// top2/libtop.so       needs libmid.so, DT_RPATH   $ORIGIN/../midrun:$ORIGIN/../leafdir
/// dst/libdst.so        needs libleaf.so, DT_RUNPATH with $ORIGIN, ${ORIGIN}, $LIB, $PLATFORM, $ORIGINAL
/// bad32/libleaf.so     the 32-bit fixture under the needed name;  arm/libleaf.so: libleaf.so with e_machine EM_AARCH64
/// text/libleaf.so      a text file (over 64 bytes);  short/libleaf.so: a 14-byte text file
/// </code>
/// </summary>
public sealed class SearchTree : IDisposable
{
    public SearchTree()
    {
        Root = Directory.CreateTempSubdirectory("loader-search-").FullName;
        string src = Dir("src");
        File.WriteAllText(Path.Join(src, "leaf.c"), "int leaf(void) { return 7; }\n");
        File.WriteAllText(Path.Join(src, "mid.c"), "extern int leaf(void);\nint mid(void) { return leaf() + 1; }\n");
        File.WriteAllText(Path.Join(src, "top.c"), "extern int mid(void);\nint top(void) { return mid() + 1; }\n");
        File.WriteAllText(Path.Join(src, "dst.c"), "extern int leaf(void);\nint dst(void) { return leaf(); }\n");

        Gcc("leafdir/libleaf.so", "leaf.c", "-Wl,-soname,libleaf.so");
        Directory.CreateDirectory(Dir("alt"));
        File.Copy(Path.Join(Root, "leafdir/libleaf.so"), Path.Join(Root, "alt/libleaf.so"));
        Gcc("middir/libmid.so", "mid.c", "-Wl,-soname,libmid.so", $"-L{Root}/leafdir", "-lleaf");
        Gcc("top/libtop_rpath.so", "top.c", "-Wl,-soname,libtop_rpath.so", $"-L{Root}/middir", "-lmid",
            "-Wl,--disable-new-dtags,-rpath,$ORIGIN/../middir:$ORIGIN/../leafdir");
        Gcc("top/libtop_runpath.so", "top.c", "-Wl,-soname,libtop_runpath.so", $"-L{Root}/middir", "-lmid",
            "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../middir:$ORIGIN/../leafdir");
        Gcc("midrun/libmid.so", "mid.c", "-Wl,-soname,libmid.so", $"-L{Root}/leafdir", "-lleaf",
            "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../nothing");
        Gcc("top2/libtop.so", "top.c", "-Wl,-soname,libtop.so", $"-L{Root}/midrun", "-lmid",
            "-Wl,--disable-new-dtags,-rpath,$ORIGIN/../midrun:$ORIGIN/../leafdir");
        Gcc("dst/libdst.so", "dst.c", "-Wl,-soname,libdst.so", $"-L{Root}/leafdir", "-lleaf",
            "-Wl,--enable-new-dtags,-rpath,$ORIGIN/o:${ORIGIN}/p/:$LIB/l:$PLATFORM/q:$ORIGINAL/r");

        File.Copy(Fixtures.Path("elf32_i386.so"), Path.Join(Dir("bad32"), "libleaf.so"));
        byte[] arm = File.ReadAllBytes(Path.Join(Root, "leafdir/libleaf.so"));
        arm[18] = 183; // e_machine = EM_AARCH64
        arm[19] = 0;
        File.WriteAllBytes(Path.Join(Dir("arm"), "libleaf.so"), arm);
        File.WriteAllText(Path.Join(Dir("text"), "libleaf.so"), "/* GNU ld script: not an ELF object, but longer than an Elf64_Ehdr */\nINPUT(-lleaf)\n");
        File.WriteAllText(Path.Join(Dir("short"), "libleaf.so"), "INPUT(-lleaf)\n");
    }

    public string Root { get; }

    public string P(string relative) => Path.Join(Root, relative);

    private string Dir(string relative) => Directory.CreateDirectory(Path.Join(Root, relative)).FullName;

    private void Gcc(string output, string source, params string[] extra)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(P(output))!);
        var (code, _, err) = ChildProcess.Run("gcc", ["-shared", "-fPIC", "-O1", "-Wl,--no-as-needed", "-o", P(output), P("src/" + source), .. extra]);
        Assert.True(code == 0, $"gcc {output}: {err}");
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
