using System.CommandLine;
using System.Text.Json;
using Loader.Calling;
using Loader.Cli.Rendering;

namespace Loader.Cli.Commands;

/// <summary>
/// <c>loader call FILE 'PROTOTYPE' [ARGS...] [--json]</c>: loads the library with Loader (dependencies, relocations,
/// initializers: <see cref="ElfLibrary"/>), looks the function up as <c>dlsym</c> would, calls it through libffi
/// (<see cref="ForeignCall"/>) with the arguments read as the prototype's types, flushes C's stdio so what the
/// function printed comes first, and prints the result. A prototype or an argument that does not fit is a usage
/// error (exit 2) naming the argument; a library that cannot be loaded, or has no such export, exits 1.
/// </summary>
internal static class CallCommand
{
    public static Command Create()
    {
        // FILE and PROTOTYPE are checked by the validator below rather than by their arity, so a missing one is named
        // once ("call: missing PROTOTYPE: …") instead of "Required argument missing" once per argument.
        var file = new Argument<string?>("FILE")
        {
            Description = "The shared object that exports the function (loaded with its dependencies).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var prototype = new Argument<string?>("PROTOTYPE")
        {
            Description = "The function's C prototype, quoted: 'int add(int, int)', 'const char *zlibVersion(void)', 'int printf(const char *, ...)'.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var arguments = new Argument<string[]>("ARGS")
        {
            Description = "The arguments, one per parameter: integers (decimal or 0x hex), reals, NULL or an address for a pointer, any text for " +
                "a char pointer (const char *, const unsigned char *, ...), buf:N for a pointer to N zeroed bytes that are printed after the call " +
                "(hex and text). Variadic ones are typed from their text as C types a literal: 42 int, 5000000000 long, 2.5 double, NULL void *, else const char *.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var json = CommonOptions.Json();
        var command = CommonOptions.NewCommand("call",
            "Load a shared object with Loader and call one of its functions by its C prototype (through libffi), then print what it returned.",
            "loader call /usr/lib/x86_64-linux-gnu/libm.so.6 'double cos(double)' 1" + Environment.NewLine +
            "Example: loader call /usr/lib/x86_64-linux-gnu/libcrypto.so.3 'unsigned char *SHA256(const unsigned char *d, size_t n, unsigned char *md)' abc 3 buf:32");
        command.Add(file);
        command.Add(prototype);
        command.Add(arguments);
        command.Add(json);
        command.Validators.Add(result =>
        {
            if (result.GetValue(file) is null)
            {
                result.AddError("call: missing FILE and PROTOTYPE: the shared object that exports the function, and its C prototype, quoted");
                return;
            }
            if (result.GetValue(prototype) is not { } text)
            {
                result.AddError("call: missing PROTOTYPE: the function's C prototype, quoted: 'int add(int, int)'");
                return;
            }
            if (!TryPrepare(text, result.GetValue(arguments) ?? [], out _, out _, out _, out string? error))
                result.AddError(error);
        });
        command.SetAction(parseResult => Run(
            parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error,
            parseResult.GetValue(file)!, parseResult.GetValue(prototype)!, parseResult.GetValue(arguments) ?? [],
            parseResult.GetValue(json)));
        return command;
    }

    /// <summary>Parses the prototype and reads the arguments as its types; false with a usage message.</summary>
    internal static bool TryPrepare(string prototypeText, IReadOnlyList<string> texts, out CPrototype? prototype,
        out List<ForeignValue> values, out List<CType> variadicTypes, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        values = [];
        variadicTypes = [];
        if (!CPrototype.TryParse(prototypeText, out prototype, out string? problem))
        {
            error = $"prototype '{prototypeText}': {problem}";
            return false;
        }
        return CallArguments.TryConvert(prototype, texts, out values, out variadicTypes, out error);
    }

    public static int Run(TextWriter stdout, TextWriter stderr, string path, string prototypeText, IReadOnlyList<string> texts, bool json)
    {
        if (!TryPrepare(prototypeText, texts, out var prototype, out var values, out var variadicTypes, out string? usage))
        {
            stderr.WriteLine(usage);
            stderr.WriteLine("Run 'loader call --help' for usage.");
            return ExitCodes.Usage;
        }

        ElfLibrary library;
        try
        {
            library = new LoaderContext().Load(ElfFileRunner.LoadablePath(path));
        }
        catch (Exception ex) when (ElfFileRunner.IsFileProblem(ex))
        {
            return ElfFileRunner.Fail(stderr, path, ex);
        }

        using (library)
        {
            if (!library.TryGetExport(prototype!.Name, out nint address))
            {
                stderr.WriteLine($"loader: {path}: no export '{prototype.Name}' in the library or its dependencies");
                return ExitCodes.BadFile;
            }
            ForeignValue result;
            try
            {
                result = ForeignCall.Invoke(address, prototype, values, variadicTypes);
            }
            catch (DllNotFoundException ex)
            {
                stderr.WriteLine($"loader: {ex.Message}");
                return ExitCodes.BadFile;
            }
            finally
            {
                // Whatever the function printed with C's stdio (fully buffered on a pipe) comes out before our output.
                ForeignCall.FlushStandardStreams();
            }

            if (json)
                WriteJson(stdout, prototype, result, library.Path, address, values);
            else
            {
                if (result.Kind != ForeignValueKind.Void)
                    stdout.WriteLine(CValueText.Format(prototype.ReturnType, result));
                WriteBuffers(stdout, prototype, values);
            }
        }
        return ExitCodes.Success;
    }

    /// <summary>One call as <c>name(arg, arg)</c> and its result, for the demo: what <c>loader call</c> does, in a line.</summary>
    internal static (string Call, string Result) Describe(ElfLibrary library, string prototypeText, params string[] texts)
    {
        if (!TryPrepare(prototypeText, texts, out var prototype, out var values, out var variadicTypes, out string? usage))
            throw new ArgumentException(usage, nameof(prototypeText));
        var result = ForeignCall.Invoke(library.GetExport(prototype!.Name), prototype, values, variadicTypes);
        ForeignCall.FlushStandardStreams();
        string arguments = string.Join(", ", texts.Select((t, i) => prototype.Parameters[i].Type.IsCharPointer ? $"\"{t}\"" : t));
        string shown = CValueText.Format(prototype.ReturnType, result);
        if (prototype.ReturnType.Kind == CTypeKind.String && result.Text is not null)
            shown = $"\"{shown}\"";
        return ($"{prototype.Name}({arguments})", shown);
    }

    /// <summary>Each <c>buf:N</c> argument after the call: which one, then its bytes as hex and as text.</summary>
    private static void WriteBuffers(TextWriter stdout, CPrototype prototype, IReadOnlyList<ForeignValue> values)
    {
        for (int i = 0; i < values.Count; i++)
        {
            if (values[i].Buffer is not { } buffer)
                continue;
            stdout.WriteLine($"argument {i + 1} ({ParameterText(prototype, i)}), {buffer.Length} bytes after the call:");
            stdout.WriteLine($"  hex   {BufferText.Hex(buffer)}");
            stdout.WriteLine($"  text  \"{BufferText.Text(buffer)}\"");
        }
    }

    private static string ParameterText(CPrototype prototype, int index) =>
        index < prototype.Parameters.Count ? prototype.Parameters[index].ToString() : "variadic void *";

    // Written with Utf8JsonWriter rather than a source-generated type: the result's JSON type depends on the C type.
    private static void WriteJson(TextWriter stdout, CPrototype prototype, ForeignValue result, string library, nint address,
        IReadOnlyList<ForeignValue> values)
    {
        using var json = new MemoryStream();
        using (var writer = new Utf8JsonWriter(json, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteString("function", prototype.Name);
            writer.WriteString("prototype", prototype.ToString());
            writer.WritePropertyName("result");
            switch (result.Kind)
            {
                case ForeignValueKind.Integer when result.Integer < 0:
                    writer.WriteNumberValue((long)result.Integer);
                    break;
                case ForeignValueKind.Integer:
                    writer.WriteNumberValue((ulong)result.Integer);
                    break;
                case ForeignValueKind.Real when double.IsFinite(result.Real):
                    writer.WriteNumberValue(result.Real);
                    break;
                case ForeignValueKind.Real:
                    writer.WriteStringValue(CValueText.Format(prototype.ReturnType, result)); // JSON has no inf or nan
                    break;
                case ForeignValueKind.Pointer:
                    writer.WriteNumberValue((ulong)result.Pointer);
                    break;
                case ForeignValueKind.String when result.Text is not null:
                    writer.WriteStringValue(result.Text);
                    break;
                default:
                    writer.WriteNullValue();
                    break;
            }
            writer.WriteString("type", prototype.ReturnType.Spelling);
            writer.WriteString("library", library);
            writer.WriteNumber("address", (ulong)address);
            writer.WriteStartArray("buffers");
            for (int i = 0; i < values.Count; i++)
            {
                if (values[i].Buffer is not { } buffer)
                    continue;
                writer.WriteStartObject();
                writer.WriteNumber("argument", i + 1);
                writer.WriteString("parameter", ParameterText(prototype, i));
                writer.WriteNumber("size", buffer.Length);
                writer.WriteString("hex", BufferText.Hex(buffer));
                writer.WriteString("text", BufferText.Text(buffer));
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        stdout.WriteLine(System.Text.Encoding.UTF8.GetString(json.ToArray()));
    }
}
