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
}
