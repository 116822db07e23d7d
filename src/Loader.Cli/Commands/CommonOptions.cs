using System.CommandLine;

namespace Loader.Cli.Commands;

/// <summary>
/// The arguments and options every read-only view shares. Each call returns a new instance, so every command owns
/// its own (a parse result is read through the instance the command registered).
/// </summary>
internal static class CommonOptions
{
    /// <summary>The ELF file to read: required; a bare name is resolved by <see cref="FileArgument.Resolve"/>.</summary>
    public static Argument<string> File() => Path(
        "The ELF file to read: a shared object, an executable or an object file (a bare name such as libz.so.1 is searched for as dlopen searches).");

    /// <summary>The file a mapping command (layout, trace, deps) maps or reads: required; a bare name is resolved by
    /// <see cref="FileArgument.Resolve"/>.</summary>
    public static Argument<string> Path(string description) => new("FILE")
    {
        Description = description,
        CustomParser = result => FileArgument.Resolve(result.Tokens.Count > 0 ? result.Tokens[0].Value : ""),
    };

    /// <summary><c>--json</c>: machine-readable output instead of a table.</summary>
    public static Option<bool> Json() => new("--json")
    {
        Description = "Write JSON for scripts instead of tables for people.",
    };

    /// <summary>A command whose description ends with a one-line example, so <c>--help</c> shows how to start.</summary>
    public static Command NewCommand(string name, string description, string example) =>
        new(name, $"{description}{Environment.NewLine}Example: {example}");

    /// <summary>
    /// The shape most commands share: one required FILE and <c>--json</c>, handed to
    /// <paramref name="run"/>(stdout, stderr, path, json).
    /// </summary>
    public static Command FileCommand(string name, string description, string example, Argument<string> file,
        Func<TextWriter, TextWriter, string, bool, int> run)
    {
        var json = Json();
        var command = NewCommand(name, description, example);
        command.Add(file);
        command.Add(json);
        command.SetAction(parseResult => run(
            parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error,
            parseResult.GetRequiredValue(file), parseResult.GetValue(json)));
        return command;
    }
}
