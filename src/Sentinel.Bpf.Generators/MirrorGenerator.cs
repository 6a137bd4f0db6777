using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace Sentinel.Bpf.Generators;

/// <summary>
/// A partial type that names the C struct or header it mirrors. Only values, so the incremental pipeline can
/// tell an unchanged binding from a changed one (a Location would differ on every edit of its file).
/// </summary>
internal sealed record Binding(string CName, string TypeName, string Namespace, bool IsPartial, bool IsStatic, string Path, TextSpan Span, LinePositionSpan Lines)
{
    public Location Location => Location.Create(Path, Span, Lines);
}

/// <summary>A header's text, compared by value: the generator reruns only when a header or a binding changes.</summary>
internal sealed record HeaderSource(string Path, string Text);

/// <summary>
/// Writes the C# mirrors of the BPF headers' records from the headers themselves (AdditionalFiles ending in .h):
/// a <c>[BpfStruct("snt_x")] partial struct</c> gets the fields of struct snt_x at the C layout, and the list of
/// them for the layout tests; a <c>[BpfHeader("x.h")] static partial class</c> gets the header's integer #defines
/// and enums. Names follow one rule: snake_case to PascalCase, with the SNT_/snt_ prefix dropped.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class MirrorGenerator : IIncrementalGenerator
{
    public const string StructAttribute = "Sentinel.Bpf.BpfStructAttribute";
    public const string HeaderAttribute = "Sentinel.Bpf.BpfHeaderAttribute";

    private static readonly DiagnosticDescriptor NotUnderstood = new(
        "SNTBPF001", "A BPF header construct is not understood", "{0}: {1}", "Sentinel.Bpf", DiagnosticSeverity.Error, true,
        "The mirror generator reads a subset of C: integer #defines, enums and structs of fixed-size integer fields, fixed arrays and nested structs.");
    private static readonly DiagnosticDescriptor NoSuchStruct = new(
        "SNTBPF002", "No header defines the bound C type", "{0} binds {1}, which no header among the AdditionalFiles defines", "Sentinel.Bpf", DiagnosticSeverity.Error, true);
    private static readonly DiagnosticDescriptor UnboundNested = new(
        "SNTBPF003", "A nested C struct has no C# mirror", "struct {0} field {1} is a struct {2}: bind a partial struct to it with [BpfStruct(\"{2}\")]", "Sentinel.Bpf", DiagnosticSeverity.Error, true);
    private static readonly DiagnosticDescriptor NotPartial = new(
        "SNTBPF004", "A mirror must be partial", "{0} must be declared partial{1} for the generator to fill it", "Sentinel.Bpf", DiagnosticSeverity.Error, true);

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var headers = context.AdditionalTextsProvider
            .Where(t => t.Path.EndsWith(".h", StringComparison.Ordinal))
            .Select((t, ct) => new HeaderSource(t.Path, t.GetText(ct)?.ToString() ?? ""))
            .Collect();
        var structs = context.SyntaxProvider.ForAttributeWithMetadataName(StructAttribute,
            (node, _) => node is StructDeclarationSyntax, (c, _) => Bind(c)).Collect();
        var classes = context.SyntaxProvider.ForAttributeWithMetadataName(HeaderAttribute,
            (node, _) => node is ClassDeclarationSyntax, (c, _) => Bind(c)).Collect();

        context.RegisterSourceOutput(headers.Combine(structs).Combine(classes), (spc, input) =>
            Generate(spc, input.Left.Left, input.Left.Right, input.Right));
    }

    private static Binding Bind(GeneratorAttributeSyntaxContext c)
    {
        var symbol = (INamedTypeSymbol)c.TargetSymbol;
        var declaration = (TypeDeclarationSyntax)c.TargetNode;
        var cName = c.Attributes[0].ConstructorArguments.FirstOrDefault().Value as string ?? "";
        var at = declaration.Identifier.GetLocation();
        return new Binding(cName, symbol.Name, symbol.ContainingNamespace.IsGlobalNamespace ? "" : symbol.ContainingNamespace.ToDisplayString(),
            declaration.Modifiers.Any(m => m.Text == "partial"), symbol.IsStatic, at.SourceTree?.FilePath ?? "", at.SourceSpan, at.GetLineSpan().Span);
    }

    private static void Generate(SourceProductionContext spc, ImmutableArray<HeaderSource> sources, ImmutableArray<Binding> structs, ImmutableArray<Binding> classes)
    {
        var headers = sources.Select(h => HeaderParser.Parse(h.Path, SourceText.From(h.Text))).ToList();
        foreach (var header in headers)
            foreach (var error in header.Errors)
                spc.ReportDiagnostic(Diagnostic.Create(NotUnderstood, LocationOf(header, error.Position), header.FileName, error.Message));

        var cStructs = headers.SelectMany(h => h.Structs).GroupBy(s => s.Name).ToDictionary(g => g.Key, g => g.First());
        var bound = structs.GroupBy(b => b.CName).ToDictionary(g => g.Key, g => g.First());
        foreach (var binding in structs)
        {
            if (!binding.IsPartial) spc.ReportDiagnostic(Diagnostic.Create(NotPartial, binding.Location, binding.TypeName, ""));
            else if (!cStructs.TryGetValue(binding.CName, out var c))
                spc.ReportDiagnostic(Diagnostic.Create(NoSuchStruct, binding.Location, binding.TypeName, "struct " + binding.CName));
            else if (c.Fields.FirstOrDefault(f => f.StructName is { } n && !bound.ContainsKey(n)) is { } unbound)
                spc.ReportDiagnostic(Diagnostic.Create(UnboundNested, binding.Location, c.Name, unbound.Name, unbound.StructName));
            else
                spc.AddSource($"{binding.TypeName}.Mirror.g.cs", Emit.Struct(binding, c, cStructs, bound));
        }
        foreach (var binding in classes)
        {
            var header = headers.FirstOrDefault(h => h.FileName == binding.CName);
            if (!binding.IsPartial || !binding.IsStatic) spc.ReportDiagnostic(Diagnostic.Create(NotPartial, binding.Location, binding.TypeName, " static"));
            else if (header is null) spc.ReportDiagnostic(Diagnostic.Create(NoSuchStruct, binding.Location, binding.TypeName, binding.CName));
            else spc.AddSource($"{binding.TypeName}.Mirror.g.cs", Emit.Header(binding, header));
        }
    }

    private static Location LocationOf(Header header, int position)
    {
        position = Math.Min(Math.Max(position, 0), header.Text.Length);
        var line = header.Text.Lines.GetLineFromPosition(position);
        var span = TextSpan.FromBounds(position, Math.Max(position, line.End));
        return Location.Create(header.Path, span, header.Text.Lines.GetLinePositionSpan(span));
    }
}

/// <summary>The C# text of the mirrors.</summary>
internal static class Emit
{
    private const string Preamble = "// <auto-generated>Sentinel.Bpf.Generators, from {0}: edit the header, not this.</auto-generated>\n#nullable enable\n";

    /// <summary>snt_move_pages_event → MovePagesEvent; enter_ns → EnterNs; SNT_MAX_COPIED → MaxCopied.</summary>
    public static string Pascal(string cName, string? dropPrefix = "snt_")
    {
        if (dropPrefix is not null && cName.StartsWith(dropPrefix, StringComparison.OrdinalIgnoreCase) && cName.Length > dropPrefix.Length)
            cName = cName.Substring(dropPrefix.Length);
        var sb = new StringBuilder();
        foreach (var part in cName.Split(new[] { '_' }, StringSplitOptions.RemoveEmptyEntries))
            sb.Append(char.ToUpperInvariant(part[0])).Append(part.Substring(1).ToLowerInvariant());
        var name = sb.ToString();
        return name.Length == 0 || char.IsDigit(name[0]) ? "_" + name : name;
    }

    public static string Struct(Binding binding, CStruct c, IReadOnlyDictionary<string, CStruct> cStructs, IReadOnlyDictionary<string, Binding> bound)
    {
        var sb = new StringBuilder().AppendFormat(Preamble, "struct " + c.Name);
        if (binding.Namespace.Length > 0) sb.Append("namespace ").Append(binding.Namespace).Append(";\n");
        sb.Append("\n[global::System.Runtime.InteropServices.StructLayout(global::System.Runtime.InteropServices.LayoutKind.Sequential)]\n")
          .Append("unsafe partial struct ").Append(binding.TypeName).Append("\n{\n");
        var arrays = new StringBuilder();
        foreach (var f in c.Fields)
        {
            var name = Pascal(f.Name, null);
            sb.Append("    /// <summary>").Append(f.Name).Append("</summary>\n    public ");
            if (f.StructName is { } nested)
            {
                var type = "global::" + Qualified(bound[nested]);
                if (f.Length is { } n)
                {
                    // A fixed buffer holds only primitives: an array of structs is an inline array.
                    sb.Append(name).Append("Array ").Append(name).Append(";\n");
                    arrays.Append("\n    [global::System.Runtime.CompilerServices.InlineArray(").Append(n).Append(")]\n    public struct ")
                          .Append(name).Append("Array\n    {\n        private ").Append(type).Append(" _element;\n    }\n");
                }
                else sb.Append(type).Append(' ').Append(name).Append(";\n");
            }
            else if (f.Length is { } n) sb.Append("fixed ").Append(f.Type!.CSharp).Append(' ').Append(name).Append('[').Append(n).Append("];\n");
            else sb.Append(f.Type!.CSharp).Append(' ').Append(name).Append(";\n");
        }
        sb.Append(arrays);
        sb.Append("\n    /// <summary>Every field of struct ").Append(c.Name)
          .Append(", nested ones too, as (C path, C# path): the layout tests compare their offsets.</summary>\n")
          .Append("    public static readonly global::System.Collections.Generic.IReadOnlyList<(string C, string CSharp)> LayoutFields =\n    [\n");
        foreach (var (cPath, csPath) in Paths(c, "", "", cStructs))
            sb.Append("        (\"").Append(cPath).Append("\", \"").Append(csPath).Append("\"),\n");
        return sb.Append("    ];\n}\n").ToString();
    }

    private static IEnumerable<(string C, string CSharp)> Paths(CStruct c, string cPrefix, string csPrefix, IReadOnlyDictionary<string, CStruct> cStructs)
    {
        foreach (var f in c.Fields)
        {
            var (cPath, csPath) = (cPrefix + f.Name, csPrefix + Pascal(f.Name, null));
            yield return (cPath, csPath);
            if (f.StructName is { } nested && f.Length is null)
                foreach (var inner in Paths(cStructs[nested], cPath + ".", csPath + ".", cStructs))
                    yield return inner;
        }
    }

    public static string Header(Binding binding, Header header)
    {
        var sb = new StringBuilder().AppendFormat(Preamble, header.FileName);
        if (binding.Namespace.Length > 0) sb.Append("namespace ").Append(binding.Namespace).Append(";\n");
        sb.Append("\nstatic partial class ").Append(binding.TypeName).Append("\n{\n");
        foreach (var k in header.Constants)
            sb.Append("    /// <summary>").Append(k.Name).Append("</summary>\n    public const ").Append(k.CSharpType).Append(' ')
              .Append(Pascal(k.Name, "SNT_")).Append(" = ").Append(k.Literal).Append(";\n");
        foreach (var e in header.Enums)
        {
            var prefix = CommonPrefix(e.Members.Select(m => m.Name).ToList());
            var type = e.Members.Any(m => m.Value < 0) ? "int" : "uint";
            sb.Append("\n    /// <summary>enum ").Append(e.Name).Append("</summary>\n    public enum ").Append(Pascal(e.Name))
              .Append(" : ").Append(type).Append("\n    {\n");
            foreach (var (name, value) in e.Members)
                sb.Append("        ").Append(Pascal(name.Substring(prefix.Length), null)).Append(" = ").Append(value).Append(", // ").Append(name).Append('\n');
            sb.Append("    }\n");
        }
        return sb.Append("}\n").ToString();
    }

    /// <summary>The '_'-ended prefix every member shares (SNT_PROC_ of SNT_PROC_FORK, SNT_PROC_EXEC), or SNT_ alone.</summary>
    private static string CommonPrefix(IReadOnlyList<string> names)
    {
        if (names.Count < 2) return names.Count == 1 && names[0].StartsWith("SNT_", StringComparison.Ordinal) ? "SNT_" : "";
        var prefix = names[0];
        foreach (var n in names)
            while (!n.StartsWith(prefix, StringComparison.Ordinal)) prefix = prefix.Substring(0, prefix.Length - 1);
        var cut = prefix.LastIndexOf('_');
        return cut < 0 ? "" : prefix.Substring(0, cut + 1);
    }

    private static string Qualified(Binding b) => b.Namespace.Length > 0 ? b.Namespace + "." + b.TypeName : b.TypeName;
}
