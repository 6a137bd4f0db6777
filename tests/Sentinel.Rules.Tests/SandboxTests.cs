using Sentinel.Rules.Compilation;

namespace Sentinel.Rules.Tests;

public sealed class SandboxTests
{
    /// <summary>
    /// The hostile catalogue: each is (what, the Match body or file prefix, where the diagnostic must point,
    /// a fragment its message must contain).
    /// </summary>
    public static TheoryData<string, string, string, string, string> Hostile() => new()
    {
        { "file delete", """System.IO.File.Delete("/etc/passwd");""", "Delete", RuleDiagnosticCodes.ForbiddenSymbol, "'System.IO.File.Delete' is not allowed" },
        { "process start", """System.Diagnostics.Process.Start("/bin/sh");""", "Start", RuleDiagnosticCodes.ForbiddenSymbol, "'System.Diagnostics.Process.Start' is not allowed" },
        { "socket", "var s = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);", "new System", RuleDiagnosticCodes.ForbiddenSymbol, "'System.Net.Sockets.Socket..ctor' is not allowed" },
        { "reflection invoke", "\"x\".GetType().GetMethod(\"Trim\", []).Invoke(\"x\", null);", "GetType", RuleDiagnosticCodes.ForbiddenSymbol, "'object.GetType' is not allowed" },
        { "reflection invoke (MethodBase.Invoke)", "\"x\".GetType().GetMethod(\"Trim\", []).Invoke(\"x\", null);", "Invoke", RuleDiagnosticCodes.ForbiddenSymbol, "'System.Reflection.MethodBase.Invoke' is not allowed" },
        { "Type.GetType of a string", """var t = Type.GetType("System.IO.File");""", "GetType", RuleDiagnosticCodes.ForbiddenSymbol, "'System.Type.GetType' is not allowed" },
        { "Marshal", "System.Runtime.InteropServices.Marshal.WriteByte(0, 1);", "WriteByte", RuleDiagnosticCodes.ForbiddenSymbol, "'System.Runtime.InteropServices.Marshal.WriteByte' is not allowed" },
        { "unsafe pointer", "unsafe { int* p = (int*)0x1000; *p = 1; }", "unsafe", RuleDiagnosticCodes.ForbiddenConstruct, "unsafe code is not allowed" },
        { "Environment.Exit", "Environment.Exit(1);", "Exit", RuleDiagnosticCodes.ForbiddenSymbol, "'System.Environment.Exit' is not allowed" },
        { "#r", "#r \"System.Net.Sockets.dll\"\n", "#r", RuleDiagnosticCodes.ForbiddenConstruct, "#r is not allowed" },
        { "#load", "#load \"other.csx\"\n", "#load", RuleDiagnosticCodes.ForbiddenConstruct, "#load is not allowed" },
        { "Activator.CreateInstance", """var o = Activator.CreateInstance("System.Private.CoreLib", "System.Object");""", "CreateInstance", RuleDiagnosticCodes.ForbiddenSymbol, "'System.Activator.CreateInstance' is not allowed" },
        { "AppContext.SetSwitch", """AppContext.SetSwitch("System.Foo", true);""", "SetSwitch", RuleDiagnosticCodes.ForbiddenSymbol, "'System.AppContext.SetSwitch' is not allowed" },
        { "typeof", "var t = typeof(string);", "typeof", RuleDiagnosticCodes.ForbiddenConstruct, "typeof is not allowed" },
        { "dynamic", "dynamic d = e; d.Pid = 3;", "dynamic", RuleDiagnosticCodes.ForbiddenSymbol, "dynamic is not allowed" },
        { "thread", "new System.Threading.Thread(() => { }).Start();", "Start", RuleDiagnosticCodes.ForbiddenSymbol, "'System.Threading.Thread.Start' is not allowed" },
        { "task", "System.Threading.Tasks.Task.Run(() => { });", "Run", RuleDiagnosticCodes.ForbiddenSymbol, "'System.Threading.Tasks.Task.Run' is not allowed" },
        { "GC", "GC.Collect();", "Collect", RuleDiagnosticCodes.ForbiddenSymbol, "'System.GC.Collect' is not allowed" },
        { "Console", """Console.WriteLine("hi");""", "WriteLine", RuleDiagnosticCodes.ForbiddenSymbol, "'System.Console.WriteLine' is not allowed" },
        { "AppDomain", "var d = AppDomain.CurrentDomain;", "CurrentDomain", RuleDiagnosticCodes.ForbiddenSymbol, "'System.AppDomain.CurrentDomain' is not allowed" },
        { "Unsafe.As", "var x = System.Runtime.CompilerServices.Unsafe.As<object>(e);", "As<", RuleDiagnosticCodes.ForbiddenSymbol, "'System.Runtime.CompilerServices.Unsafe.As' is not allowed" },
        { "MemoryMarshal", "var s = System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref e, 1);", "CreateSpan", RuleDiagnosticCodes.ForbiddenSymbol, "MemoryMarshal.CreateSpan' is not allowed" },
        { "catch swallowing the budget", "try { } catch { }", "catch", RuleDiagnosticCodes.ForbiddenConstruct, "catch is not allowed" },
        { "finally", "try { } finally { while (true) { } }", "finally", RuleDiagnosticCodes.ForbiddenConstruct, "finally is not allowed" },
        { "goto", "top: goto top;", "goto", RuleDiagnosticCodes.ForbiddenConstruct, "goto is not allowed" },
        { "stackalloc", "Span<byte> b = stackalloc byte[1 << 20];", "stackalloc", RuleDiagnosticCodes.ForbiddenConstruct, "stackalloc is not allowed" },
        { "sized allocation", "var s = new string('x', int.MaxValue);", "new string", RuleDiagnosticCodes.ForbiddenSymbol, "sized constructor of System.String" },
        { "assignment to the event", "e.TargetPid = 0;", "TargetPid", RuleDiagnosticCodes.EventMutation, "assignment to Sentinel.Events.MovePagesEvent.TargetPid" },
        { "increment through the event", "e.Flags++;", "Flags", RuleDiagnosticCodes.EventMutation, "assignment to Sentinel.Events.MovePagesEvent.Flags" },
        { "event buffer", "e.StatusBuffer[0] = 1;", "StatusBuffer", RuleDiagnosticCodes.ForbiddenSymbol, "MovePagesEvent.StatusBuffer is not allowed" },
        { "event reset", "e.Reset();", "Reset", RuleDiagnosticCodes.ForbiddenSymbol, "MovePagesEvent.Reset is not allowed" },
        { "enrichment mutation", "e.Enrichment.Caller = null;", "Caller", RuleDiagnosticCodes.EventMutation, "assignment to Sentinel.Events.EventEnrichment.Caller" },
        { "downcast of a read-only view", "((List<ProcessInfo>)e.Enrichment.Ancestry).Clear();", "(List", RuleDiagnosticCodes.EventMutation, "read-only collections stay read-only" },
        { "pattern downcast of a read-only view", "if (e.Enrichment.Ancestry is List<ProcessInfo> l) l.Clear();", "List<ProcessInfo> l", RuleDiagnosticCodes.EventMutation, "read-only collections stay read-only" },
        { "array cast of a shared process's argv", "if (e.Enrichment.Caller is { } c) Array.Clear((Array)(object)c.Args);", "(Array)", RuleDiagnosticCodes.EventMutation, "a cast to System.Array is not allowed" },
        { "calling Match", "Match(e, findings);", "Match(e", RuleDiagnosticCodes.ForbiddenSymbol, "only the engine calls Match" },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Hostile_rule_is_rejected_with_its_diagnostic(string what, string code, string at, string diagnosticCode, string message)
    {
        var isDirective = code.StartsWith('#');
        var source = isDirective ? code + TestRules.Rule("SNT-9001", "") : TestRules.Rule("SNT-9001", code);
        var (line, column) = Locate(source, at);

        var result = TestRules.Compile(source);

        Assert.False(result.Succeeded, what);
        Assert.Null(result.Image);
        Assert.Contains(result.Diagnostics, d =>
            d.IsError && d.Code == diagnosticCode && d.Message.Contains(message, StringComparison.Ordinal)
            && d.File == "/rules/test.csx" && d.Line == line && d.Column == column);
    }

    [Fact]
    public void Diagnostics_print_compiler_style()
    {
        var source = TestRules.Rule("SNT-9001", "Environment.Exit(1);");
        var (line, column) = Locate(source, "Exit");

        var diagnostic = Assert.Single(TestRules.Compile(source).Diagnostics);

        Assert.Equal($"/rules/test.csx:{line}:{column}: error SNT1001: 'System.Environment.Exit' is not allowed: " +
                     "type System.Environment is not in the rule allowlist (process-wide state)", diagnostic.ToString());
    }

    [Fact]
    public void A_using_of_a_forbidden_namespace_is_reported()
    {
        var result = TestRules.Compile(TestRules.Rule("SNT-9001", "", usings: "using System.IO;"));

        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal((1, 7), (diagnostic.Line, diagnostic.Column));
        Assert.Contains("namespace System.IO is not in the rule allowlist", diagnostic.Message);
    }

    [Fact]
    public void Ordinary_rule_code_is_allowed()
    {
        var source = TestRules.Rule("SNT-9001", """
            var seen = new HashSet<int> { e.Pid };
            var list = new List<string>();
            for (var i = 0; i < e.NodesAtEntry.Length; i++) list.Add(e.NodesAtEntry[i].ToString());
            foreach (var p in e.Enrichment.Ancestry) list.Add(p.Comm);
            var max = Math.Max(e.Pid, e.TargetPid);
            Func<int, bool> odd = x => x % 2 == 1;
            var info = Info with { Name = "copy" };
            if (e.HasFlag(MoveFlags.MoveAll) && !e.HasCapability(Capability.SysNice) && odd(max) && seen.Count > 0)
                findings.Add($"{e.Comm} {e.ErrnoName ?? "ok"} {string.Join(",", list)} {info.Name}", ("pid", e.Pid), ("flags", e.Flags));
            """, members: "private readonly SlidingWindow<int> _w = new(3, TimeSpan.FromSeconds(1)); private static int Twice(int x) => x * 2;");

        var result = TestRules.Compile(source);

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        Assert.DoesNotContain(result.Diagnostics, d => d.IsError);
    }

    [Fact]
    public void A_file_must_declare_exactly_one_rule()
    {
        var none = TestRules.Compile("public sealed class NotARule { }");
        var two = TestRules.Compile(TestRules.Rule("SNT-9001", "") + TestRules.Rule("SNT-9002", "").Replace("TestRule", "Other"));

        Assert.Contains(none.Diagnostics, d => d.Code == RuleDiagnosticCodes.InvalidRule && d.Message.Contains("declares no rule"));
        Assert.Contains(two.Diagnostics, d => d.Code == RuleDiagnosticCodes.InvalidRule && d.Message.Contains("declares 2 rules"));
    }

    [Fact]
    public void Invalid_metadata_is_reported_by_lint()
    {
        using var dir = new RuleDirectory();
        var file = dir.Write("bad.csx", TestRules.Rule("SNT-9001", "").Replace("\"SNT-9001\"", "\"RULE-1\"").Replace("\"TA0007\"", "\"Discovery\""));

        var diagnostics = RuleLinter.Lint(file);

        Assert.Contains(diagnostics, d => d.Code == RuleDiagnosticCodes.InvalidRule && d.Message.Contains("rule id 'RULE-1' must look like SNT-0001"));
        Assert.Contains(diagnostics, d => d.Code == RuleDiagnosticCodes.InvalidRule && d.Message.Contains("MITRE tactic 'Discovery'"));
    }

    [Fact]
    public void Compiler_errors_keep_their_position_in_the_csx()
    {
        var source = TestRules.Rule("SNT-9001", "var x = undefinedThing;");
        var (line, column) = Locate(source, "undefinedThing");

        var diagnostic = Assert.Single(TestRules.Compile(source).Diagnostics, d => d.IsError);

        Assert.Equal(("CS0103", line, column), (diagnostic.Code, diagnostic.Line, diagnostic.Column));
    }

    private static (int Line, int Column) Locate(string source, string fragment)
    {
        var index = source.IndexOf(fragment, StringComparison.Ordinal);
        Assert.True(index >= 0, $"'{fragment}' not in the source");
        var before = source[..index];
        var line = before.Count(c => c == '\n') + 1;
        return (line, index - (before.LastIndexOf('\n') + 1) + 1);
    }
}
