namespace Loader.Cli.Rendering;

/// <summary>How a column's cells line up.</summary>
internal enum Align
{
    /// <summary>Text: padded on the right.</summary>
    Left,
    /// <summary>Numbers: padded on the left, so digits line up.</summary>
    Right,
}

/// <summary>
/// One column of a <see cref="TextTable"/>: its heading, its alignment, and whether its cells may be cut (with
/// <c>…</c>) to fit the terminal. The last column may always be cut unless it holds numbers; a number is never cut.
/// </summary>
internal readonly record struct Column(string Heading, Align Align = Align.Left, bool Shrinks = false);

/// <summary>
/// A plain-text table for people: rows are collected first and written at once, each column as wide as its
/// widest cell, numbers right-aligned. Building every row before writing means a bad file fails before any of
/// its table is printed. The last column is never padded, so lines carry no trailing spaces. On a terminal a table
/// fits the window: the last column (and any marked <see cref="Column.Shrinks"/>) is cut with <c>…</c>; written to a
/// pipe or a file it keeps its full width, so scripts and <c>grep</c> see every character.
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

    /// <summary>
    /// The widest a line may be, or null for no limit. Unset, it is the terminal's width when the table is written to
    /// the console's stdout and that is a terminal (<see cref="TerminalWidth.Of"/>), else no limit.
    /// </summary>
    public int? MaxWidth { get; init; }

    /// <summary>The narrowest a cut column becomes: readelf cuts section names to 17 characters and a mark.</summary>
    private const int MinimumCutWidth = 18;

    /// <summary>
    /// Whether a last-column cell too wide for <see cref="MaxWidth"/> wraps onto more lines at spaces (prose) rather
    /// than being cut with <c>…</c> (names).
    /// </summary>
    public bool WrapLastColumn { get; init; }

    /// <summary>A two-column, heading-less table of names and values, the shape of <c>readelf -h</c>; long values wrap.</summary>
    public static TextTable KeyValue() => new(new Column("Field"), new Column("Value")) { ShowHeadings = false, WrapLastColumn = true };

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

        if ((MaxWidth ?? TerminalWidth.Of(writer)) is { } maxWidth)
            FitTo(widths, maxWidth);

        if (ShowHeadings)
            WriteLine(writer, widths, Array.ConvertAll(_columns, column => column.Heading));
        foreach (var row in _rows)
            WriteLine(writer, widths, row);
    }

    // Narrows the columns that may be cut, the last first, until a line fits in maxWidth or none can give more.
    private void FitTo(int[] widths, int maxWidth)
    {
        int excess = Indent + widths.Sum() + Gap.Length * (widths.Length - 1) - maxWidth;
        for (int c = _columns.Length - 1; c >= 0 && excess > 0; c--)
        {
            bool last = c == _columns.Length - 1;
            if (_columns[c].Align == Align.Right || !(last || _columns[c].Shrinks))
                continue;
            int floor = Math.Max(MinimumCutWidth, ShowHeadings ? _columns[c].Heading.Length : 0);
            int give = Math.Min(excess, widths[c] - floor);
            if (give <= 0)
                continue;
            widths[c] -= give;
            excess -= give;
        }
    }

    private static string Cut(string cell, int width) =>
        cell.Length <= width ? cell : string.Concat(cell.AsSpan(0, Math.Max(width - 1, 0)), "…");

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
            else if (last && WrapLastColumn && cells[c].Length > widths[c])
            {
                // The first piece on this line, the rest on lines of their own under the same column.
                int column = line.Length;
                var pieces = Wrap(cells[c], widths[c]);
                line.Append(pieces[0]);
                foreach (string piece in pieces.Skip(1))
                {
                    writer.WriteLine(line.ToString().TrimEnd());
                    line.Clear().Append(' ', column).Append(piece);
                }
            }
            else
            {
                string cell = Cut(cells[c], widths[c]);
                line.Append(last ? cell : cell.PadRight(widths[c]));
            }
        }
        writer.WriteLine(line.ToString().TrimEnd());
    }

    /// <summary>Splits <paramref name="text"/> at spaces into pieces of at most <paramref name="width"/> (a longer word is cut).</summary>
    internal static List<string> Wrap(string text, int width)
    {
        var pieces = new List<string>();
        var piece = new System.Text.StringBuilder();
        foreach (string word in text.Split(' '))
        {
            if (piece.Length > 0 && piece.Length + 1 + word.Length > width)
            {
                pieces.Add(piece.ToString());
                piece.Clear();
            }
            if (piece.Length > 0)
                piece.Append(' ');
            piece.Append(word.Length > width ? Cut(word, width) : word);
        }
        pieces.Add(piece.ToString());
        return pieces;
    }
}
