using System.Reflection;
using Loader.Native;

namespace Loader.Tests.Native;

/// <summary>Our C-named flag enums (which type the P/Invokes) carry the same values as Tmds.LibC's constants, an
/// independent binding of libc: a typo in one of ours would pass a wrong flag to the kernel.</summary>
public sealed class FlagValueTests
{
    public static TheoryData<Type> FlagEnums => [typeof(Prot), typeof(MapFlags), typeof(OpenFlags), typeof(MemfdFlags), typeof(RtldFlags)];

    [Theory]
    [MemberData(nameof(FlagEnums))]
    public void Every_flag_Tmds_LibC_also_names_has_its_value(Type flags)
    {
        int compared = 0;
        foreach (string name in Enum.GetNames(flags))
        {
            var member = (MemberInfo?)typeof(Tmds.Linux.LibC).GetProperty(name, BindingFlags.Public | BindingFlags.Static)
                ?? typeof(Tmds.Linux.LibC).GetField(name, BindingFlags.Public | BindingFlags.Static);
            if (member is null)
                continue; // not every constant is in Tmds.LibC: nothing to compare against
            object? theirs = member is PropertyInfo p ? p.GetValue(null) : ((FieldInfo)member).GetValue(null);
            long ours = Convert.ToInt64(Enum.Parse(flags, name), System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(Convert.ToInt64(theirs, System.Globalization.CultureInfo.InvariantCulture) == ours, $"{flags.Name}.{name}: ours 0x{ours:x}, Tmds.LibC {theirs}");
            compared++;
        }
        Assert.True(compared > 0, $"no member of {flags.Name} is named in Tmds.LibC: the comparison checked nothing");
    }
}
