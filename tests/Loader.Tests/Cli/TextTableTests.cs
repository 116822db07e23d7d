using Loader.Cli.Rendering;

namespace Loader.Tests.Cli;

public sealed class TextTableTests
{
    [Fact]
    public void Columns_are_as_wide_as_their_widest_cell_and_numbers_align_right()
    {
        var writer = new StringWriter();
        new TextTable(new Column("Name"), new Column("Size", Align.Right), new Column("Note"))
            .Add("a", "5", "x")
            .Add("longer", "12345", "")
            .Write(writer);

        Assert.Equal(
            [
                "Name     Size  Note",
                "a           5  x",
                "longer  12345",
                "",
            ],
            writer.ToString().Split(Environment.NewLine));
    }

    [Fact]
    public void Key_value_tables_have_no_headings_and_rows_must_be_complete()
    {
        var writer = new StringWriter();
        TextTable.KeyValue().Add("Class:", "ELF64").Add("Machine:", "Intel 80386").Write(writer);

        Assert.Equal($"Class:    ELF64{Environment.NewLine}Machine:  Intel 80386{Environment.NewLine}", writer.ToString());
        Assert.Throws<ArgumentException>(() => TextTable.KeyValue().Add("only one cell"));
    }

    [Fact]
    public void A_maximum_width_cuts_the_last_column_to_no_less_than_18_and_never_a_number()
    {
        var writer = new StringWriter();
        new TextTable(new Column("Num", Align.Right), new Column("Name")) { MaxWidth = 26 }
            .Add("123456", "_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE")
            .Add("7", "short")
            .Write(writer);

        Assert.Equal(
            [
                "   Num  Name",
                "123456  _ZNSt7__cxx1112ba…",
                "     7  short",
                "",
            ],
            writer.ToString().Split(Environment.NewLine));
        Assert.All(writer.ToString().Split(Environment.NewLine), line => Assert.True(line.Length <= 26, line));
    }

    [Fact]
    public void A_maximum_width_wraps_key_value_prose_under_its_column()
    {
        var writer = new StringWriter();
        new TextTable(new Column("Field"), new Column("Value")) { ShowHeadings = false, WrapLastColumn = true, MaxWidth = 25 }
            .Add("host:", "a system runtime library taken from the process")
            .Write(writer);

        Assert.Equal(
            [
                "host:  a system runtime",
                "       library taken from",
                "       the process",
                "",
            ],
            writer.ToString().Split(Environment.NewLine));
    }

    [Fact]
    public void Without_a_terminal_a_table_keeps_its_full_width()
    {
        string name = new('x', 300);
        var writer = new StringWriter();
        new TextTable(new Column("#", Align.Right), new Column("Name")).Add("1", name).Write(writer);

        Assert.Contains("1  " + name + Environment.NewLine, writer.ToString());
    }
}
