namespace Loader.Cli.Rendering;

/// <summary>How a column's cells line up.</summary>
internal enum Align
{
    /// <summary>Text: padded on the right.</summary>
    Left,
    /// <summary>Numbers: padded on the left, so digits line up.</summary>
    Right,
}

/// <summary>One column of a <see cref="TextTable"/>: its heading and alignment.</summary>
internal readonly record struct Column(string Heading, Align Align = Align.Left);

/// <summary>
/// A plain-text table for people: rows are collected first and written at once, each column as wide as its
/// widest cell, numbers right-aligned. Building every row before writing means a bad file fails before any of
/// its table is printed. The last column is never padded, so lines carry no trailing spaces.
/// </summary>
internal sealed class TextTable
{
    private const string Gap = "  ";
    private readonly Column[] _columns;
    private readonly List<string[]> _rows = [];

    public TextTable(params Column[] columns)
    {
        if (columns.Length == 0)
            throw new ArgumentException("A table needs at least one column.", nameof(columns));
        _columns = columns;
    }

    /// <summary>Whether the headings line is written (off for key/value listings).</summary>
    public bool ShowHeadings { get; init; } = true;

    /// <summary>Spaces written before every line.</summary>
    public int Indent { get; init; }

    /// <summary>A two-column, heading-less table of names and values, the shape of <c>readelf -h</c>.</summary>
    public static TextTable KeyValue() => new(new Column("Field"), new Column("Value")) { ShowHeadings = false };

    /// <summary>Adds a row; it must have one cell per column.</summary>
    public TextTable Add(params string[] cells)
    {
        if (cells.Length != _columns.Length)
            throw new ArgumentException($"A row of this table has {_columns.Length} cells, not {cells.Length}.", nameof(cells));
        _rows.Add(cells);
        return this;
    }

    /// <summary>Writes the headings (when shown) and every row.</summary>
    public void Write(TextWriter writer)
    {
        var widths = new int[_columns.Length];
        for (int c = 0; c < _columns.Length; c++)
            widths[c] = ShowHeadings ? _columns[c].Heading.Length : 0;
        foreach (var row in _rows)
            for (int c = 0; c < row.Length; c++)
                widths[c] = Math.Max(widths[c], row[c].Length);

        if (ShowHeadings)
            WriteLine(writer, widths, Array.ConvertAll(_columns, column => column.Heading));
        foreach (var row in _rows)
            WriteLine(writer, widths, row);
    }

    private void WriteLine(TextWriter writer, int[] widths, string[] cells)
    {
        var line = new System.Text.StringBuilder(Indent + widths.Sum() + Gap.Length * widths.Length);
        line.Append(' ', Indent);
        for (int c = 0; c < cells.Length; c++)
        {
            if (c > 0)
                line.Append(Gap);
            bool last = c == cells.Length - 1;
            if (_columns[c].Align == Align.Right)
                line.Append(cells[c].PadLeft(widths[c]));
            else
                line.Append(last ? cells[c] : cells[c].PadRight(widths[c]));
        }
        writer.WriteLine(line.ToString().TrimEnd());
    }
}
