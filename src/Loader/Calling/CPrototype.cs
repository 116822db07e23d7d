using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Loader.Calling;

/// <summary>One parameter of a prototype.</summary>
/// <param name="Type">Its type.</param>
/// <param name="Name">Its name when the prototype gives one (<c>size_t n</c>), else null.</param>
public sealed record CParameter(CType Type, string? Name)
{
    /// <summary><c>size_t n</c>, or the type alone.</summary>
    public override string ToString() => Name is null ? Type.Spelling : Type.Spelling.EndsWith('*') ? Type.Spelling + Name : $"{Type.Spelling} {Name}";
}

/// <summary>
/// A C function prototype as a C programmer writes it — <c>int add(int, int)</c>, <c>double cos(double)</c>,
/// <c>const char *zlibVersion(void)</c>, <c>int printf(const char *fmt, ...)</c> — parsed into what a call needs:
/// the return type, the name, the parameters and whether it is variadic. Types: <c>void</c>, every integer type
/// (<c>char</c>, <c>signed</c>/<c>unsigned</c> <c>char</c>/<c>short</c>/<c>int</c>/<c>long</c>/<c>long long</c>,
/// <c>_Bool</c>/<c>bool</c>, <c>int8_t</c>…<c>uint64_t</c>, <c>size_t</c>, <c>ssize_t</c>, <c>intptr_t</c>,
/// <c>uintptr_t</c>, <c>ptrdiff_t</c>), <c>float</c>, <c>double</c>, enums (as <c>int</c>), and pointers to any of
/// them or to a struct/union; <c>const char *</c> is a string. Not supported: structs and unions by value,
/// <c>long double</c>, arrays and function-pointer parameters (pass a function pointer as <c>void *</c>).
/// </summary>
/// <remarks>
/// The parser lives in the library, beside <see cref="ForeignCall"/>, because a prototype is the type description a
/// foreign call needs: any .NET caller can call an export by prototype, and the CLI stays a shell that parses its
/// arguments and renders.
/// </remarks>
public sealed class CPrototype
{
    private static readonly Dictionary<string, CType> Typedefs = new(StringComparer.Ordinal)
    {
        ["int8_t"] = new(CTypeKind.SignedChar, "int8_t"),
        ["uint8_t"] = new(CTypeKind.UnsignedChar, "uint8_t"),
        ["int16_t"] = new(CTypeKind.Short, "int16_t"),
        ["uint16_t"] = new(CTypeKind.UnsignedShort, "uint16_t"),
        ["int32_t"] = new(CTypeKind.Int, "int32_t"),
        ["uint32_t"] = new(CTypeKind.UnsignedInt, "uint32_t"),
        ["int64_t"] = new(CTypeKind.Long, "int64_t"),
        ["uint64_t"] = new(CTypeKind.UnsignedLong, "uint64_t"),
        ["size_t"] = new(CTypeKind.UnsignedLong, "size_t"),
        ["ssize_t"] = new(CTypeKind.Long, "ssize_t"),
        ["intptr_t"] = new(CTypeKind.Long, "intptr_t"),
        ["uintptr_t"] = new(CTypeKind.UnsignedLong, "uintptr_t"),
        ["ptrdiff_t"] = new(CTypeKind.Long, "ptrdiff_t"),
        ["bool"] = new(CTypeKind.Bool, "bool"),
        ["_Bool"] = new(CTypeKind.Bool, "_Bool"),
    };

    private static readonly HashSet<string> Qualifiers = new(StringComparer.Ordinal) { "const", "volatile", "restrict", "__restrict", "extern", "static", "inline" };
    private static readonly HashSet<string> Specifiers = new(StringComparer.Ordinal) { "void", "char", "short", "int", "long", "float", "double", "signed", "unsigned" };

    private CPrototype(string text, CType returnType, string name, IReadOnlyList<CParameter> parameters, bool isVariadic)
    {
        Text = text;
        ReturnType = returnType;
        Name = name;
        Parameters = parameters;
        IsVariadic = isVariadic;
    }

    /// <summary>The text parsed.</summary>
    public string Text { get; }

    /// <summary>The return type (<see cref="CType.Void"/> for none).</summary>
    public CType ReturnType { get; }

    /// <summary>The function's name: the symbol to look up.</summary>
    public string Name { get; }

    /// <summary>The fixed parameters, in order (empty for <c>(void)</c>).</summary>
    public IReadOnlyList<CParameter> Parameters { get; }

    /// <summary>True when the parameter list ends with <c>, ...</c>.</summary>
    public bool IsVariadic { get; }

    /// <summary>Parses <paramref name="text"/>.</summary>
    /// <exception cref="FormatException">It is not a prototype this parser understands; the message says where and why.</exception>
    public static CPrototype Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var prototype, out string? error) ? prototype : throw new FormatException(error);
    }

    /// <summary>Parses <paramref name="text"/>; false with the reason in <paramref name="error"/> when it is not a prototype.</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out CPrototype? prototype, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        prototype = null;
        if (!Tokenize(text, out var tokens, out error))
            return false;
        int at = 0;
        if (!ParseDeclaration(tokens, ref at, out var returnType, out string? name, out error, isParameter: false))
            return false;
        if (name is null)
            return Fail(out error, "expected the function's name after its return type");
        if (at >= tokens.Count || tokens[at] != "(")
            return Fail(out error, $"expected '(' after '{name}'");
        at++;
        var parameters = new List<CParameter>();
        bool variadic = false;
        if (at + 1 < tokens.Count && tokens[at] == "void" && tokens[at + 1] == ")")
            at++;
        while (at < tokens.Count && tokens[at] != ")")
        {
            if (variadic)
                return Fail(out error, "'...' must be the last parameter");
            if (tokens[at] == "...")
            {
                if (parameters.Count == 0)
                    return Fail(out error, "'...' needs at least one named parameter before it");
                variadic = true;
                at++;
            }
            else
            {
                if (!ParseDeclaration(tokens, ref at, out var type, out string? parameterName, out error, isParameter: true))
                    return Fail(out error, $"parameter {parameters.Count + 1}: {error}");
                if (type.Kind == CTypeKind.Void)
                    return Fail(out error, $"parameter {parameters.Count + 1}: 'void' is only allowed alone, as '(void)'");
                parameters.Add(new CParameter(type, parameterName));
            }
            if (at < tokens.Count && tokens[at] == ",")
            {
                at++;
                if (at < tokens.Count && tokens[at] == ")")
                    return Fail(out error, "expected a parameter after ','");
            }
            else if (at < tokens.Count && tokens[at] != ")")
            {
                return Fail(out error, $"parameter {parameters.Count + (variadic ? 1 : 0)}: unexpected '{tokens[at]}'");
            }
        }
        if (at >= tokens.Count)
            return Fail(out error, "expected ')' to close the parameter list");
        at++;
        if (at < tokens.Count && tokens[at] == ";")
            at++;
        if (at < tokens.Count)
            return Fail(out error, $"unexpected '{tokens[at]}' after the parameter list");
        prototype = new CPrototype(text, returnType, name, parameters, variadic);
        return true;
    }

    /// <summary><c>int printf(const char *, ...)</c>: the prototype in canonical form.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder(ReturnType.Spelling);
        if (!ReturnType.Spelling.EndsWith('*'))
            sb.Append(' ');
        sb.Append(Name).Append('(');
        if (Parameters.Count == 0 && !IsVariadic)
            sb.Append("void");
        sb.AppendJoin(", ", Parameters);
        if (IsVariadic)
            sb.Append(", ...");
        return sb.Append(')').ToString();
    }

    // One declaration: specifiers and qualifiers, pointer stars (each possibly qualified), an optional name.
    private static bool ParseDeclaration(List<string> tokens, ref int at, out CType type, out string? name, [NotNullWhen(false)] out string? error, bool isParameter)
    {
        type = CType.Void;
        name = null;
        var words = new List<string>();
        bool isConst = false;
        string? tag = null;
        CType? typedef = null;
        while (at < tokens.Count && IsIdentifier(tokens[at]))
        {
            string word = tokens[at];
            if (Qualifiers.Contains(word))
            {
                isConst |= word == "const";
            }
            else if (word is "struct" or "union" or "enum")
            {
                if (tag is not null || typedef is not null || words.Count > 0)
                    return Fail(out error, $"'{word}' after a type");
                if (at + 1 >= tokens.Count || !IsIdentifier(tokens[at + 1]))
                    return Fail(out error, $"expected a tag name after '{word}'");
                tag = $"{word} {tokens[++at]}";
            }
            else if (Specifiers.Contains(word) && tag is null && typedef is null)
            {
                words.Add(word);
            }
            else if (Typedefs.TryGetValue(word, out var known) && tag is null && typedef is null && words.Count == 0)
            {
                typedef = known;
            }
            else if (tag is null && typedef is null && words.Count == 0)
            {
                return Fail(out error, $"unknown type '{word}'");
            }
            else
            {
                break; // the name
            }
            at++;
        }
        int stars = 0;
        while (at < tokens.Count && (tokens[at] == "*" || (stars > 0 && Qualifiers.Contains(tokens[at]))))
        {
            if (tokens[at] == "*")
                stars++;
            at++;
        }
        if (at < tokens.Count && IsIdentifier(tokens[at]))
            name = tokens[at++];
        if (tag is null && typedef is null && words.Count == 0)
            return Fail(out error, at < tokens.Count ? $"expected a type before '{tokens[at]}'" : "expected a type");
        if (at < tokens.Count && tokens[at] == "[")
            return Fail(out error, "array parameters are not supported; use a pointer");
        if (at < tokens.Count && tokens[at] == "(" && isParameter)
            return Fail(out error, "function-pointer parameters are not supported; pass the address as 'void *'");

        CType baseType;
        if (typedef is not null)
            baseType = typedef;
        else if (tag is not null)
        {
            if (stars == 0 && !tag.StartsWith("enum ", StringComparison.Ordinal))
                return Fail(out error, $"'{tag}' passed by value is not supported; only pointers to it");
            baseType = tag.StartsWith("enum ", StringComparison.Ordinal) && stars == 0 ? new CType(CTypeKind.Int, tag) : new CType(CTypeKind.Pointer, tag);
        }
        else if (!TryBaseType(words, out baseType!, out error))
            return false;

        if (stars == 0)
        {
            type = baseType;
        }
        else
        {
            string spelling = (isConst ? "const " : "") + baseType.Spelling + " " + new string('*', stars);
            bool isString = stars == 1 && isConst && baseType.Kind == CTypeKind.Char && baseType.Spelling == "char";
            type = new CType(isString ? CTypeKind.String : CTypeKind.Pointer, isString ? "const char *" : spelling);
        }
        error = null;
        return true;
    }

    // The type the specifier words name, in any order C allows: "unsigned long long int", "long unsigned", "signed".
    private static bool TryBaseType(List<string> words, out CType? type, [NotNullWhen(false)] out string? error)
    {
        type = null;
        int signedCount = words.Count(w => w == "signed"), unsignedCount = words.Count(w => w == "unsigned");
        int longs = words.Count(w => w == "long"), shorts = words.Count(w => w == "short"), ints = words.Count(w => w == "int");
        var others = words.Where(w => w is "void" or "char" or "float" or "double").ToList();
        string text = string.Join(' ', words);
        bool invalid = signedCount + unsignedCount > 1 || ints > 1 || shorts > 1 || longs > 2 || (shorts > 0 && longs > 0) || others.Count > 1
            || (others.Count == 1 && (ints > 0 || shorts > 0 || (longs > 0 && others[0] != "double")))
            || (others.Count == 1 && others[0] is "void" or "float" or "double" && signedCount + unsignedCount > 0);
        if (invalid)
            return Fail(out error, $"'{text}' is not a C type");
        bool unsigned = unsignedCount > 0;
        string? other = others.FirstOrDefault();
        if (other == "double" && longs > 0)
            return Fail(out error, "'long double' is not supported");
        type = other switch
        {
            "void" => CType.Void,
            "float" => new CType(CTypeKind.Float, "float"),
            "double" => CType.Double,
            "char" => signedCount > 0 ? new CType(CTypeKind.SignedChar, "signed char")
                : unsigned ? new CType(CTypeKind.UnsignedChar, "unsigned char") : new CType(CTypeKind.Char, "char"),
            _ when shorts > 0 => unsigned ? new CType(CTypeKind.UnsignedShort, "unsigned short") : new CType(CTypeKind.Short, "short"),
            _ when longs == 2 => unsigned ? new CType(CTypeKind.UnsignedLongLong, "unsigned long long") : new CType(CTypeKind.LongLong, "long long"),
            _ when longs == 1 => unsigned ? CType.UnsignedLong : CType.Long,
            _ => unsigned ? CType.UnsignedInt : CType.Int,
        };
        error = null;
        return true;
    }

    private static bool Tokenize(string text, out List<string> tokens, [NotNullWhen(false)] out string? error)
    {
        tokens = [];
        for (int i = 0; i < text.Length;)
        {
            char c = text[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (char.IsAsciiLetter(c) || c == '_')
            {
                int start = i;
                while (i < text.Length && (char.IsAsciiLetterOrDigit(text[i]) || text[i] == '_'))
                    i++;
                tokens.Add(text[start..i]);
            }
            else if (string.CompareOrdinal(text, i, "...", 0, 3) == 0)
            {
                tokens.Add("...");
                i += 3;
            }
            else if (c is '*' or '(' or ')' or ',' or ';' or '[' or ']')
            {
                tokens.Add(c.ToString());
                i++;
            }
            else
            {
                return Fail(out error, $"unexpected character '{c}' at position {i + 1}");
            }
        }
        if (tokens.Count == 0)
            return Fail(out error, "the prototype is empty");
        error = null;
        return true;
    }

    private static bool IsIdentifier(string token) => token.Length > 0 && (char.IsAsciiLetter(token[0]) || token[0] == '_');

    private static bool Fail([NotNullWhen(false)] out string? error, string message)
    {
        error = message;
        return false;
    }
}
