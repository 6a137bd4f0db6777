using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis.Text;

namespace Sentinel.Bpf.Generators;

internal sealed class HeaderException(string message, int? position) : Exception(message)
{
    public int? Position { get; } = position;
}

/// <summary>A C integer type of a field: its C spelling, C# type and size.</summary>
internal sealed record Primitive(string C, string CSharp, int Size);

internal sealed record CField(string Name, Primitive? Type, string? StructName, int? Length, int Position);

internal sealed record CStruct(string Name, IReadOnlyList<CField> Fields, int Position);

internal sealed record CConstant(string Name, string CSharpType, string Literal);

internal sealed record CEnum(string Name, IReadOnlyList<(string Name, long Value)> Members);

/// <summary>Something of a header the parser does not understand; <see cref="Position"/> is a char offset.</summary>
internal sealed record HeaderError(string Message, int Position);

internal sealed class Header
{
    public string Path = "";
    public string FileName = "";
    public SourceText Text = SourceText.From("");
    public readonly List<CConstant> Constants = new();
    public readonly List<CEnum> Enums = new();
    public readonly List<CStruct> Structs = new();
    public readonly List<HeaderError> Errors = new();
}

/// <summary>
/// Parses the subset of C the BPF headers use for records shared with userspace: integer #defines, enums and
/// structs of __u8/__s8/__u16/__s16/__u32/__s32/__u64/__s64/char fields, fixed arrays sized by a literal or a
/// #define, nested structs. Anything else is an error with its position, never a guess.
/// </summary>
internal static class HeaderParser
{
    public static readonly IReadOnlyDictionary<string, Primitive> Primitives = new[]
    {
        new Primitive("__u8", "byte", 1), new Primitive("__s8", "sbyte", 1), new Primitive("char", "byte", 1),
        new Primitive("__u16", "ushort", 2), new Primitive("__s16", "short", 2),
        new Primitive("__u32", "uint", 4), new Primitive("__s32", "int", 4),
        new Primitive("__u64", "ulong", 8), new Primitive("__s64", "long", 8),
    }.ToDictionary(p => p.C);

    private static readonly Regex Define = new(@"^#\s*define\s+(\w+)(\(?)\s*(.*?)\s*$");
    private static readonly Regex Token = new(@"\G\s*(?:(?<id>[A-Za-z_]\w*)|(?<num>0[xX][0-9A-Fa-f]+\w*|\d+\w*)|(?<op><<|[{}\[\];,=()\-])|(?<other>\S))");

    public static Header Parse(string path, SourceText text)
    {
        var header = new Header { Path = path, FileName = System.IO.Path.GetFileName(path), Text = text };
        var source = BlankComments(text.ToString());
        var defines = new Dictionary<string, long>();
        var code = new StringBuilder(source);
        foreach (var line in text.Lines)
        {
            var content = source.Substring(line.Start, line.End - line.Start);
            if (!content.TrimStart().StartsWith("#", StringComparison.Ordinal)) continue;
            for (var i = line.Start; i < line.End; i++) code[i] = ' ';
            ParseDirective(header, content.Trim(), line.Start + content.IndexOf('#'), defines);
        }
        new Parser(header, Tokenize(code.ToString()), defines).Run();
        return header;
    }

    private static void ParseDirective(Header header, string line, int position, Dictionary<string, long> defines)
    {
        var directive = Regex.Match(line, @"^#\s*(\w+)").Groups[1].Value;
        if (directive is "ifndef" or "endif" or "include" or "pragma") return;
        var m = Define.Match(line);
        if (directive != "define" || !m.Success)
        {
            header.Errors.Add(new HeaderError($"#{directive} is not understood (only #define of an integer, include guards and #include)", position));
            return;
        }
        if (m.Groups[2].Value == "(")
        {
            header.Errors.Add(new HeaderError($"#define {m.Groups[1].Value}(...): function-like macros are not understood", position));
            return;
        }
        if (m.Groups[3].Value.Length == 0) return; // an include guard
        if (!TryInteger(m.Groups[3].Value, out var value, out var type))
        {
            header.Errors.Add(new HeaderError($"#define {m.Groups[1].Value} {m.Groups[3].Value}: only an integer literal is understood", position));
            return;
        }
        defines[m.Groups[1].Value] = value;
        var literal = type == "ulong" || type == "uint" ? ((ulong)value).ToString(CultureInfo.InvariantCulture) : value.ToString(CultureInfo.InvariantCulture);
        if (m.Groups[3].Value.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) literal = "0x" + ((ulong)value).ToString("x", CultureInfo.InvariantCulture);
        header.Constants.Add(new CConstant(m.Groups[1].Value, type, literal));
    }

    /// <summary>A C integer literal (decimal or hex, with u/l suffixes) and the C# type C would give it.</summary>
    public static bool TryInteger(string text, out long value, out string type)
    {
        value = 0;
        type = "int";
        var m = Regex.Match(text.Trim(), @"^(0[xX][0-9A-Fa-f]+|\d+)([uUlL]*)$");
        if (!m.Success) return false;
        var digits = m.Groups[1].Value;
        var hex = digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        if (!ulong.TryParse(hex ? digits.Substring(2) : digits, hex ? NumberStyles.HexNumber : NumberStyles.None, CultureInfo.InvariantCulture, out var raw))
            return false;
        var suffix = m.Groups[2].Value.ToLowerInvariant();
        var unsigned = suffix.Contains("u");
        var wide = suffix.Contains("l");
        value = unchecked((long)raw);
        type = unsigned
            ? (wide || raw > uint.MaxValue ? "ulong" : "uint")
            : !wide && raw <= int.MaxValue ? "int"
            : !wide && hex && raw <= uint.MaxValue ? "uint"
            : raw <= long.MaxValue ? "long" : "ulong";
        return true;
    }

    private static string BlankComments(string s)
    {
        var chars = s.ToCharArray();
        for (var i = 0; i + 1 < chars.Length; i++)
        {
            if (chars[i] == '/' && chars[i + 1] == '*')
            {
                var end = s.IndexOf("*/", i + 2, StringComparison.Ordinal);
                end = end < 0 ? chars.Length : end + 2;
                for (var j = i; j < end; j++) if (chars[j] != '\n') chars[j] = ' ';
                i = end - 1;
            }
            else if (chars[i] == '/' && chars[i + 1] == '/')
            {
                for (; i < chars.Length && chars[i] != '\n'; i++) chars[i] = ' ';
            }
        }
        return new string(chars);
    }

    private static List<(string Text, string Kind, int Position)> Tokenize(string code)
    {
        var tokens = new List<(string, string, int)>();
        var at = 0;
        while (true)
        {
            var m = Token.Match(code, at);
            if (!m.Success) break;
            var group = new[] { "id", "num", "op", "other" }.First(g => m.Groups[g].Success);
            tokens.Add((m.Groups[group].Value, group, m.Groups[group].Index));
            at = m.Index + m.Length;
        }
        return tokens;
    }

    private sealed class Parser(Header header, List<(string Text, string Kind, int Position)> tokens, Dictionary<string, long> defines)
    {
        private int _i;

        private string Peek(int ahead = 0) => _i + ahead < tokens.Count ? tokens[_i + ahead].Text : "";
        private int Position => _i < tokens.Count ? tokens[_i].Position : (tokens.Count > 0 ? tokens[tokens.Count - 1].Position : 0);
        private string Next() => _i < tokens.Count ? tokens[_i++].Text : "";

        public void Run()
        {
            while (_i < tokens.Count)
            {
                var start = Position;
                try
                {
                    if (Peek() == "struct" && Peek(2) == "{") ParseStruct();
                    else if (Peek() == "enum" && Peek(2) == "{") ParseEnum();
                    else if (Peek() == "_Static_assert") SkipStatement();
                    else throw Fail($"'{Peek()}' here is not understood (only struct and enum definitions, #define and _Static_assert)");
                }
                catch (HeaderException e)
                {
                    header.Errors.Add(new HeaderError(e.Message, e.Position ?? start));
                    SkipStatement();
                }
            }
        }

        /// <summary>An error at the current token.</summary>
        private HeaderException Fail(string message) => new(message, _i < tokens.Count ? tokens[_i].Position : null);

        private void Expect(string text)
        {
            if (Peek() != text) throw Fail($"expected '{text}', found '{Peek()}'");
            _i++;
        }

        /// <summary>Skips to the ';' that ends the statement, past any braces and parentheses.</summary>
        private void SkipStatement()
        {
            var depth = 0;
            while (_i < tokens.Count)
            {
                var t = Next();
                if (t is "{" or "(") depth++;
                else if (t is "}" or ")") depth--;
                else if (t == ";" && depth <= 0) return;
            }
        }

        private void ParseStruct()
        {
            var position = Position;
            Expect("struct");
            var name = Next();
            Expect("{");
            var fields = new List<CField>();
            try
            {
                while (Peek() != "}")
                {
                    if (_i >= tokens.Count) throw Fail($"struct {name} is not closed");
                    fields.Add(ParseField(name));
                }
            }
            catch (HeaderException e)
            {
                // One error per struct: the rest of its body is skipped, and the struct is not mirrored.
                header.Errors.Add(new HeaderError(e.Message, e.Position ?? position));
                while (_i < tokens.Count && Next() != "}") { }
                if (Peek() == ";") _i++;
                return;
            }
            Expect("}");
            Expect(";");
            header.Structs.Add(new CStruct(name, fields, position));
        }

        private CField ParseField(string structName)
        {
            var position = Position;
            Primitive? type = null;
            string? nested = null;
            var first = Next();
            if (first == "struct") nested = Next();
            else if (!Primitives.TryGetValue(first, out type))
                throw Fail($"struct {structName}: field type '{first}' is not understood (only __u8, __s8, __u16, __s16, __u32, __s32, __u64, __s64, char and struct)");
            var name = Next();
            if (name.Length == 0 || !(char.IsLetter(name[0]) || name[0] == '_'))
                throw Fail($"struct {structName}: '{name}' is not understood as a field name (no pointers, bit-fields or anonymous members)");
            int? length = null;
            if (Peek() == "[")
            {
                _i++;
                var size = Next();
                if (TryInteger(size, out var literal, out _)) length = (int)literal;
                else if (defines.TryGetValue(size, out var defined)) length = (int)defined;
                else throw Fail($"struct {structName}: array size '{size}' of {name} is not an integer literal or an integer #define above it");
                Expect("]");
            }
            if (Peek() != ";")
                throw Fail($"struct {structName}: '{Peek()}' after field {name} is not understood (one field per declaration, no bit-fields)");
            _i++;
            return new CField(name, type, nested, length, position);
        }

        private void ParseEnum()
        {
            Expect("enum");
            var name = Next();
            Expect("{");
            var members = new List<(string, long)>();
            long next = 0;
            while (Peek() != "}")
            {
                if (_i >= tokens.Count) throw Fail($"enum {name} is not closed");
                var member = Next();
                var value = next;
                if (Peek() == "=")
                {
                    _i++;
                    value = ParseValue(name, member);
                }
                members.Add((member, value));
                next = value + 1;
                if (Peek() == ",") _i++;
                else if (Peek() != "}") throw Fail($"enum {name}: '{Peek()}' after {member} is not understood");
            }
            Expect("}");
            Expect(";");
            header.Enums.Add(new CEnum(name, members));
        }

        /// <summary>An enumerator's value: an integer, a negative one, or one shifted by another ("1 &lt;&lt; 3").</summary>
        private long ParseValue(string enumName, string member)
        {
            var negative = Peek() == "-";
            if (negative) _i++;
            var value = Operand(enumName, member);
            if (Peek() == "<<")
            {
                _i++;
                value <<= (int)Operand(enumName, member);
            }
            if (Peek() != "," && Peek() != "}")
                throw Fail($"enum {enumName}: the value of {member} is not understood (an integer, -integer or integer << integer)");
            return negative ? -value : value;
        }

        private long Operand(string enumName, string member)
        {
            var t = Next();
            if (TryInteger(t, out var value, out _)) return value;
            if (defines.TryGetValue(t, out value)) return value;
            throw Fail($"enum {enumName}: the value of {member} is not understood ('{t}')");
        }
    }
}
