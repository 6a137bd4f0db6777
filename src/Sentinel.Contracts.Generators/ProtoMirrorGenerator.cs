using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Sentinel.Contracts.Generators;

/// <summary>
/// Writes the field-by-field code between a sentinel.v1 message and a Sentinel.Events type from the two types
/// themselves: a <c>[ProtoMirror(typeof(V1.Process), typeof(ProcessInfo))] static partial class</c> gets
/// <c>Fill</c> (to the message), <c>Write</c> (straight to bytes, in field-number order) and <c>Read</c> or
/// <c>Create</c> (from the message) for every field of the message whose C# property has a same-named property on
/// the event type. A field with no such property is an error unless the attribute lists it in <c>ByHand</c>, so a
/// field added to the .proto cannot be left out of a conversion silently.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class ProtoMirrorGenerator : IIncrementalGenerator
{
    public const string AttributeName = "Sentinel.Contracts.ProtoMirrorAttribute";
    private const string WriterName = "Sentinel.Contracts.ProtoWriter";
    private const string FieldNumberSuffix = "FieldNumber";

    private static readonly DiagnosticDescriptor Unmapped = new(
        "SNTPROTO001", "A message field has no same-named property", "{0}.{1} (field {2}) has no property {1} on {3}: add one, or list \"{1}\" in ByHand and convert it by hand",
        "Sentinel.Contracts", DiagnosticSeverity.Error, true);
    private static readonly DiagnosticDescriptor NoSuchField = new(
        "SNTPROTO002", "ByHand names no field of the message", "ByHand lists \"{0}\", which is not a field of {1}", "Sentinel.Contracts", DiagnosticSeverity.Error, true);
    private static readonly DiagnosticDescriptor Unconvertible = new(
        "SNTPROTO003", "A field cannot be mapped by name", "{0}.{1} is {2} and {3}.{1} is {4}: {5}; list \"{1}\" in ByHand and convert it by hand",
        "Sentinel.Contracts", DiagnosticSeverity.Error, true);
    private static readonly DiagnosticDescriptor NotStaticPartial = new(
        "SNTPROTO004", "A mirror must be static partial", "{0} must be declared static partial for the generator to fill it", "Sentinel.Contracts", DiagnosticSeverity.Error, true);

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var mirrors = context.SyntaxProvider.ForAttributeWithMetadataName(AttributeName,
            (node, _) => node is ClassDeclarationSyntax, (c, _) => ((INamedTypeSymbol)c.TargetSymbol).ToDisplayString()).Collect();
        // Resolved against the whole compilation: the messages come from other generated files (Grpc.Tools), which
        // change without the attributed class changing.
        context.RegisterSourceOutput(mirrors.Combine(context.CompilationProvider), (spc, input) =>
        {
            foreach (var name in input.Left.Distinct())
                if (input.Right.GetTypeByMetadataName(name) is { } mirror) Generate(spc, input.Right, mirror);
        });
    }

    private static void Generate(SourceProductionContext spc, Compilation compilation, INamedTypeSymbol mirror)
    {
        var attribute = mirror.GetAttributes().First(a => a.AttributeClass?.ToDisplayString() == AttributeName);
        var at = mirror.Locations.FirstOrDefault() ?? Location.None;
        if (!mirror.IsStatic || mirror.DeclaringSyntaxReferences.Any(r => r.GetSyntax() is ClassDeclarationSyntax c && !c.Modifiers.Any(m => m.Text == "partial")))
        {
            spc.ReportDiagnostic(Diagnostic.Create(NotStaticPartial, at, mirror.Name));
            return;
        }
        if (attribute.ConstructorArguments.Length != 2 || attribute.ConstructorArguments[0].Value is not INamedTypeSymbol message ||
            attribute.ConstructorArguments[1].Value is not INamedTypeSymbol source)
            return; // the compiler reports the attribute's own errors
        var byHand = attribute.NamedArguments.Where(a => a.Key == "ByHand").SelectMany(a => a.Value.Values).Select(v => v.Value as string ?? "").ToList();

        var fields = FieldsOf(message);
        var errors = false;
        foreach (var name in byHand.Where(n => fields.All(f => f.Name != n)))
        {
            spc.ReportDiagnostic(Diagnostic.Create(NoSuchField, at, name, message.Name));
            errors = true;
        }
        var mapped = new List<Field>();
        foreach (var field in fields.Where(f => !byHand.Contains(f.Name)))
        {
            var property = PropertyOf(source, field.Name);
            if (property is null)
            {
                spc.ReportDiagnostic(Diagnostic.Create(Unmapped, at, message.Name, field.Name, field.Number, source.Name));
                errors = true;
                continue;
            }
            var why = Check(compilation, field, property);
            if (why is not null)
            {
                spc.ReportDiagnostic(Diagnostic.Create(Unconvertible, at, message.Name, field.Name, field.Type.ToDisplayString(), source.Name, property.Type.ToDisplayString(), why));
                errors = true;
                continue;
            }
            field.Source = property;
            mapped.Add(field);
        }
        if (!errors)
            spc.AddSource($"{mirror.Name}.ProtoMirror.g.cs", Emit(mirror, message, source, mapped, compilation.GetTypeByMetadataName(WriterName) is not null));
    }

    /// <summary>A message field: its C# property name, its number and its C# type; <see cref="Source"/> once mapped.</summary>
    private sealed class Field(string name, int number, ITypeSymbol type, FieldKind kind)
    {
        public string Name { get; } = name;
        public int Number { get; } = number;
        public ITypeSymbol Type { get; } = type;
        public FieldKind Kind { get; } = kind;
        public IPropertySymbol? Source { get; set; }
        public string JsonName => char.ToLowerInvariant(Name[0]) + Name.Substring(1);
        public bool Readable => Source is { } property && IsSettable(property);
    }

    private enum FieldKind { Other, Int32, UInt32, Int64, UInt64, Bool, String, Strings }

    /// <summary>The generated message's fields, from its <c>XFieldNumber</c> constants and X properties, by number.</summary>
    private static List<Field> FieldsOf(INamedTypeSymbol message) =>
        message.GetMembers().OfType<IFieldSymbol>()
            .Where(f => f.IsConst && f.Name.EndsWith(FieldNumberSuffix, StringComparison.Ordinal) && f.ConstantValue is int)
            .Select(f => (Name: f.Name.Substring(0, f.Name.Length - FieldNumberSuffix.Length), Number: (int)f.ConstantValue!))
            .Select(f => (f.Name, f.Number, Property: message.GetMembers(f.Name).OfType<IPropertySymbol>().FirstOrDefault()))
            .Where(f => f.Property is not null)
            .Select(f => new Field(f.Name, f.Number, f.Property!.Type, KindOf(f.Property.Type)))
            .OrderBy(f => f.Number)
            .ToList();

    private static FieldKind KindOf(ITypeSymbol type) => type.SpecialType switch
    {
        SpecialType.System_Int32 => FieldKind.Int32,
        SpecialType.System_UInt32 => FieldKind.UInt32,
        SpecialType.System_Int64 => FieldKind.Int64,
        SpecialType.System_UInt64 => FieldKind.UInt64,
        SpecialType.System_Boolean => FieldKind.Bool,
        SpecialType.System_String => FieldKind.String,
        _ when type is INamedTypeSymbol { Name: "RepeatedField", TypeArguments: { Length: 1 } arguments } && arguments[0].SpecialType == SpecialType.System_String => FieldKind.Strings,
        _ => FieldKind.Other,
    };

    private static IPropertySymbol? PropertyOf(INamedTypeSymbol type, string name)
    {
        for (ITypeSymbol? t = type; t is not null; t = t.BaseType)
            if (t.GetMembers(name).OfType<IPropertySymbol>().FirstOrDefault(p => p.DeclaredAccessibility == Accessibility.Public && !p.IsStatic && p.GetMethod is not null) is { } property)
                return property;
        return null;
    }

    /// <summary>Read from the wire only when it has a public setter (or init).</summary>
    private static bool IsSettable(IPropertySymbol property) => property.SetMethod is { DeclaredAccessibility: Accessibility.Public };

    /// <summary>Why the field and the property cannot be converted both ways by assignment, or null.</summary>
    private static string? Check(Compilation compilation, Field field, IPropertySymbol property)
    {
        switch (field.Kind)
        {
            case FieldKind.Other:
                return "only scalars, strings and repeated strings are mapped by name";
            case FieldKind.Strings:
                var strings = compilation.GetSpecialType(SpecialType.System_Collections_Generic_IReadOnlyList_T).Construct(compilation.GetSpecialType(SpecialType.System_String));
                return compilation.ClassifyCommonConversion(property.Type, strings).IsImplicit ? null : "the property is not a read-only list of strings";
        }
        if (!compilation.ClassifyCommonConversion(property.Type, field.Type).IsImplicit)
            return "the property does not convert to the field without a cast";
        if (IsSettable(property) && field.Kind != FieldKind.String && !compilation.ClassifyCommonConversion(field.Type, property.Type).IsImplicit)
            return "the field does not convert to the property without a cast";
        return null;
    }

    private static string Emit(INamedTypeSymbol mirror, INamedTypeSymbol message, INamedTypeSymbol source, List<Field> fields, bool hasWriter)
    {
        var m = message.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat);
        var s = source.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat);
        var sb = new StringBuilder("// <auto-generated>Sentinel.Contracts.Generators, from ")
            .Append(message.Name).Append(" and ").Append(source.Name).Append(": edit the .proto or the event type, not this.</auto-generated>\n#nullable enable\n");
        if (!mirror.ContainingNamespace.IsGlobalNamespace) sb.Append("namespace ").Append(mirror.ContainingNamespace.ToDisplayString()).Append(";\n");
        sb.Append("\nstatic partial class ").Append(mirror.Name).Append("\n{\n");

        sb.Append("    /// <summary>The fields of ").Append(message.Name).Append(" this mirror converts, in field-number order.</summary>\n")
          .Append("    internal static readonly string[] Mapped = { ").Append(string.Join(", ", fields.Select(f => "\"" + f.Name + "\""))).Append(" };\n\n");

        sb.Append("    /// <summary>Sets every mapped field of <paramref name=\"message\"/> from <paramref name=\"source\"/>.</summary>\n")
          .Append("    internal static void Fill(").Append(m).Append(" message, ").Append(s).Append(" source)\n    {\n");
        foreach (var f in fields)
            sb.Append(f.Kind == FieldKind.Strings
                ? $"        message.{f.Name}.Add(source.{f.Name});\n"
                : $"        message.{f.Name} = source.{f.Name};\n");
        sb.Append("    }\n");

        if (hasWriter)
        {
            sb.Append("\n    /// <summary>Writes every mapped field of <paramref name=\"source\"/> as ").Append(message.Name)
              .Append("'s bytes, in field-number order, as the generated code writes them.</summary>\n")
              .Append("    internal static void Write(ref global::").Append(WriterName).Append(" writer, ").Append(s).Append(" source)\n    {\n");
            foreach (var f in fields)
                sb.Append($"        writer.{f.Kind}({m}.{f.Name}{FieldNumberSuffix}, source.{f.Name});\n");
            sb.Append("    }\n");
        }

        var read = fields.Where(f => f.Readable).ToList();
        // A type whose properties are set only in an initializer (a record) is created; any other is filled in place.
        var initOnly = read.Any(f => f.Source!.SetMethod!.IsInitOnly);
        sb.Append("\n    /// <summary>The mapped fields of a (possibly forged) message; <paramref name=\"path\"/> names it in errors.</summary>\n");
        if (initOnly)
        {
            sb.Append("    internal static ").Append(s).Append(" Create(").Append(m).Append(" message, string path) => new ").Append(s).Append("\n    {\n");
            foreach (var f in read) sb.Append($"        {f.Name} = {ReadValue(f)},\n");
            sb.Append("    };\n");
        }
        else
        {
            sb.Append("    internal static void Read(").Append(m).Append(" message, ").Append(s).Append(" target, string path)\n    {\n");
            foreach (var f in read) sb.Append($"        target.{f.Name} = {ReadValue(f)};\n");
            sb.Append("    }\n");
        }
        // Text from the wire is bounded by hand, field by field: the generator declares the hooks it calls.
        if (read.Any(f => f.Kind == FieldKind.String))
            sb.Append("\n    private static partial string Text(string value, string field);\n");
        if (read.FirstOrDefault(f => f.Kind == FieldKind.Strings) is { } list)
            sb.Append("\n    private static partial ").Append(list.Source!.Type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat))
              .Append(" Texts(global::Google.Protobuf.Collections.RepeatedField<string> values, string field);\n");
        sb.Append("}\n");
        return sb.ToString();
    }

    private static string ReadValue(Field f) => f.Kind switch
    {
        FieldKind.String => $"Text(message.{f.Name}, path + \".{f.JsonName}\")",
        FieldKind.Strings => $"Texts(message.{f.Name}, path + \".{f.JsonName}\")",
        _ => $"message.{f.Name}",
    };
}
