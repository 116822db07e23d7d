using System.Runtime.Intrinsics.X86;

namespace Loader.Linking;

/// <summary>
/// What glibc 2.36 derives from the CPU for the library search: <c>$PLATFORM</c> and the hardware-capability
/// subdirectories (<c>glibc-hwcaps/x86-64-v3</c>, the legacy <c>tls/haswell/x86_64</c> names) it tries in every
/// search directory before the directory itself.
/// </summary>
internal static class HardwareCapabilities
{
    /// <summary>
    /// <c>$PLATFORM</c>: glibc 2.36 on x86_64 replaces the kernel's AT_PLATFORM ("x86_64") with "xeon_phi" or
    /// "haswell" on Intel CPUs that have the features (sysdeps/x86/cpu-features.c).
    /// </summary>
    public static string Platform => Capabilities.Value.Platform;

    /// <summary>
    /// The subdirectories glibc 2.36 tries in each search directory, best first, "" (the directory itself) last:
    /// <c>glibc-hwcaps/x86-64-v4</c>, <c>-v3</c>, <c>-v2</c> as supported, then the power set of the legacy names
    /// ("tls", the platform, "avx512_1" when set, "x86_64") from the full combination down to none
    /// (elf/dl-hwcaps.c, <c>_dl_important_hwcaps</c>; <c>ld.so --help</c> lists them).
    /// </summary>
    public static IReadOnlyList<string> Subdirectories => Capabilities.Value.Subdirectories;

    private static readonly Lazy<(string Platform, string[] Subdirectories)> Capabilities = new(ComputeCapabilities);

    private static (string, string[]) ComputeCapabilities()
    {
        string platform = "x86_64";
        var subdirectories = new List<string>();
        var legacy = new List<string> { "tls" };
        bool avx512_1 = false;
        if (X86Base.IsSupported)
        {
            var cpu = new CpuFeatures();
            // x86-64-vN (sysdeps/x86_64/dl-hwcaps-subdirs.c): each level needs the one below.
            bool v2 = cpu.Cx16 && cpu.Lahf && cpu.Popcnt && cpu.Sse3 && cpu.Sse41 && cpu.Sse42 && cpu.Ssse3;
            bool v3 = v2 && cpu.Avx && cpu.Avx2 && cpu.Bmi1 && cpu.Bmi2 && cpu.F16c && cpu.Fma && cpu.Lzcnt && cpu.Movbe && cpu.OsXsave;
            bool v4 = v3 && cpu.Avx512F && cpu.Avx512BW && cpu.Avx512CD && cpu.Avx512DQ && cpu.Avx512VL;
            if (v4) subdirectories.Add("glibc-hwcaps/x86-64-v4");
            if (v3) subdirectories.Add("glibc-hwcaps/x86-64-v3");
            if (v2) subdirectories.Add("glibc-hwcaps/x86-64-v2");

            if (cpu.Intel)
            {
                string? intelPlatform = null;
                if (cpu.Avx512CD)
                {
                    if (cpu.Avx512ER)
                    {
                        if (cpu.Avx512PF)
                            intelPlatform = "xeon_phi";
                    }
                    else if (cpu.Avx512BW && cpu.Avx512DQ && cpu.Avx512VL)
                    {
                        avx512_1 = true;
                    }
                }
                if (intelPlatform is null && cpu.Avx2 && cpu.Fma && cpu.Bmi1 && cpu.Bmi2 && cpu.Lzcnt && cpu.Movbe && cpu.Popcnt)
                    intelPlatform = "haswell";
                platform = intelPlatform ?? platform;
            }
        }
        // Components in the order glibc prints them: tls, platform, then the hwcap bits from the highest down.
        legacy.Add(platform);
        if (avx512_1)
            legacy.Add("avx512_1");
        legacy.Add("x86_64");
        int n = legacy.Count;
        for (int mask = (1 << n) - 1; mask >= 0; mask--)
        {
            var parts = new List<string>();
            for (int i = 0; i < n; i++)
            {
                if ((mask & (1 << (n - 1 - i))) != 0)
                    parts.Add(legacy[i]);
            }
            subdirectories.Add(string.Join('/', parts));
        }
        return (platform, subdirectories.ToArray());
    }

    /// <summary>The CPUID bits glibc's <c>CPU_FEATURE_USABLE</c> tests, with .NET's ISA support standing in for the
    /// OS-state (XCR0) checks of AVX and AVX-512.</summary>
    private readonly struct CpuFeatures
    {
        public CpuFeatures()
        {
            var (_, vendorB, vendorC, vendorD) = X86Base.CpuId(0, 0);
            Intel = vendorB == 0x756e6547 && vendorD == 0x49656e69 && vendorC == 0x6c65746e; // "GenuineIntel"
            var (_, _, c1, _) = X86Base.CpuId(1, 0);
            var (_, b7, _, _) = X86Base.CpuId(7, 0);
            var (_, _, cExt, _) = X86Base.CpuId(unchecked((int)0x80000001), 0);
            bool avxState = System.Runtime.Intrinsics.X86.Avx.IsSupported;           // the OS saves YMM state
            bool avx512State = System.Runtime.Intrinsics.X86.Avx512F.IsSupported;    // the OS saves ZMM/opmask state
            Sse3 = Bit(c1, 0); Ssse3 = Bit(c1, 9); Fma = Bit(c1, 12) && avxState; Cx16 = Bit(c1, 13);
            Sse41 = Bit(c1, 19); Sse42 = Bit(c1, 20); Movbe = Bit(c1, 22); Popcnt = Bit(c1, 23);
            OsXsave = Bit(c1, 27); Avx = Bit(c1, 28) && avxState; F16c = Bit(c1, 29) && avxState;
            Bmi1 = Bit(b7, 3); Avx2 = Bit(b7, 5) && avxState; Bmi2 = Bit(b7, 8);
            Avx512F = Bit(b7, 16) && avx512State; Avx512DQ = Bit(b7, 17) && avx512State;
            Avx512PF = Bit(b7, 26) && avx512State; Avx512ER = Bit(b7, 27) && avx512State;
            Avx512CD = Bit(b7, 28) && avx512State; Avx512BW = Bit(b7, 30) && avx512State; Avx512VL = Bit(b7, 31) && avx512State;
            Lahf = Bit(cExt, 0); Lzcnt = Bit(cExt, 5);
        }

        private static bool Bit(int value, int bit) => (value & (1 << bit)) != 0;

        public bool Intel { get; }
        public bool Sse3 { get; }
        public bool Ssse3 { get; }
        public bool Fma { get; }
        public bool Cx16 { get; }
        public bool Sse41 { get; }
        public bool Sse42 { get; }
        public bool Movbe { get; }
        public bool Popcnt { get; }
        public bool OsXsave { get; }
        public bool Avx { get; }
        public bool F16c { get; }
        public bool Bmi1 { get; }
        public bool Avx2 { get; }
        public bool Bmi2 { get; }
        public bool Avx512F { get; }
        public bool Avx512DQ { get; }
        public bool Avx512PF { get; }
        public bool Avx512ER { get; }
        public bool Avx512CD { get; }
        public bool Avx512BW { get; }
        public bool Avx512VL { get; }
        public bool Lahf { get; }
        public bool Lzcnt { get; }
    }
}
