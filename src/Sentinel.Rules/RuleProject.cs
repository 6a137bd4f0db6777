namespace Sentinel.Rules;

/// <summary>
/// `sentinel rules init DIR`: the files an editor needs to treat a rules directory as C# — a project that
/// compiles the .csx files against the rule API (with its XML docs) and runs the sandbox analyzer, and the
/// global usings the agent gives every rule. The built-in rules/ ships the same files.
/// </summary>
public static class RuleProject
{
    public const string ProjectFile = "sentinel-rules.csproj";
    public const string GlobalUsingsFile = "GlobalUsings.cs";

    public sealed record Result(IReadOnlyList<string> Written, IReadOnlyList<string> Kept);

    /// <summary>Writes the project files into <paramref name="directory"/>; existing files are kept, not overwritten.</summary>
    /// <param name="directory">The rules directory.</param>
    /// <param name="sentinelHome">Where Sentinel.Rules.dll, Sentinel.Events.dll and the analyzer are (the sentinel binary's directory).</param>
    public static Result Init(string directory, string sentinelHome)
    {
        Directory.CreateDirectory(directory);
        var (written, kept) = (new List<string>(), new List<string>());
        foreach (var (name, content) in Files(sentinelHome))
        {
            var path = Path.Combine(directory, name);
            if (File.Exists(path)) { kept.Add(path); continue; }
            File.WriteAllText(path, content);
            written.Add(path);
        }
        return new Result(written, kept);
    }

    /// <summary>The files and their content, for a rule API found in <paramref name="sentinelHome"/>.</summary>
    public static IReadOnlyList<(string Name, string Content)> Files(string sentinelHome) =>
    [
        (ProjectFile, Project(sentinelHome)),
        (GlobalUsingsFile, GlobalUsings()),
    ];

    private static string Project(string home) => $$"""
        <!-- For editors and `dotnet build`: completion, docs and the sandbox's diagnostics on the .csx rules.
             The agent does not use it: it compiles each .csx on its own, as a script, with the same analyzer. -->
        <Project Sdk="Microsoft.NET.Sdk">
          <PropertyGroup>
            <TargetFramework>net10.0</TargetFramework>
            <Nullable>enable</Nullable>
            <ImplicitUsings>disable</ImplicitUsings>
            <LangVersion>latest</LangVersion>
            <EnableDefaultCompileItems>false</EnableDefaultCompileItems>
            <IsPackable>false</IsPackable>
            <!-- Only the compiler and the sandbox speak: library design rules (namespaces, naming) do not fit scripts. -->
            <EnableNETAnalyzers>false</EnableNETAnalyzers>
            <!-- The directory of the sentinel binary, which ships the rule API with its XML docs and the analyzer. -->
            <SentinelHome Condition="'$(SentinelHome)' == ''">{{home}}</SentinelHome>
          </PropertyGroup>
          <ItemGroup>
            <RuleFile Include="*.csx" />
            <Compile Include="{{GlobalUsingsFile}}" />
            <!-- Editors see every rule in one project; a build compiles each on its own below, as the agent does. -->
            <Compile Include="@(RuleFile)" Condition="'$(DesignTimeBuild)' == 'true'" />
            <Reference Include="Sentinel.Rules" HintPath="$(SentinelHome)/Sentinel.Rules.dll" Private="false" />
            <Reference Include="Sentinel.Events" HintPath="$(SentinelHome)/Sentinel.Events.dll" Private="false" />
            <Analyzer Include="$(SentinelHome)/Sentinel.Rules.Analyzers.dll" />
          </ItemGroup>
          <!-- One compilation per rule, so rules are as independent as in the agent (a concise rule's top-level
               statements make it an executable; GlobalUsings.cs has the entry point a class rule lacks). Every
               rule is compiled even after one fails, so the build reports all the errors lint does. -->
          <Target Name="CompileEachRule" AfterTargets="CoreCompile" Condition="'$(DesignTimeBuild)' != 'true'"
                  Inputs="@(RuleFile);{{GlobalUsingsFile}}" Outputs="@(RuleFile->'$(IntermediateOutputPath)rules/%(Filename).dll')">
            <MakeDir Directories="$(IntermediateOutputPath)rules" />
            <Csc Sources="%(RuleFile.FullPath);{{GlobalUsingsFile}}" References="@(ReferencePathWithRefAssemblies)"
                 Analyzers="@(Analyzer)" TargetType="exe" OutputAssembly="$(IntermediateOutputPath)rules/%(RuleFile.Filename).dll"
                 Nullable="$(Nullable)" LangVersion="$(LangVersion)" DisabledWarnings="CS7022;CS8321" Deterministic="true"
                 ContinueOnError="ErrorAndContinue" />
          </Target>
        </Project>

        """;

    private static string GlobalUsings() =>
        "// What the agent imports into every rule (sentinel rules init writes this file; keep it as it is).\n" +
        string.Concat(Compilation.RuleCompiler.Imports.Select(ns => $"global using {ns};\n")) +
        "\n// Only for `dotnet build` of this directory, which needs an entry point; the agent never calls it.\n" +
        "internal static class SentinelRulesProject\n{\n    private static void Main()\n    {\n    }\n}\n";
}
