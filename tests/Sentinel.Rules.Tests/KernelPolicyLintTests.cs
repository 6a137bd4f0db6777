using Sentinel.Rules.Compilation;

namespace Sentinel.Rules.Tests;

/// <summary>`rules lint` on a rule's kernel policy (RuleResponse.When).</summary>
public sealed class KernelPolicyLintTests
{
    private static string WithResponse(string response) => TestRules.Rule("SNT-9100", "")
        .Replace("Events = [\"move_pages\"],", "Events = [\"move_pages\"],\n" + response);

    [Fact]
    public void A_kernel_policy_and_a_verdict_response_compile_in_the_sandbox_and_lint_clean()
    {
        using var dir = new RuleDirectory();
        var file = dir.Write("ok.csx", WithResponse("""
                    Response = new RuleResponse
                    {
                        When = new() { Flags = MoveFlags.MoveAll, Uid = 65534, Lacks = Capability.SysNice, Target = CallTarget.Other,
                                       Namespace = CallerNamespace.Container, Comm = "exploit", Compat = true, MinCount = 1 },
                        Action = ResponseAction.Signal(19),
                        OnDetection = true,
                    },
            """));
        var verdict = dir.Write("verdict.csx", WithResponse("Response = RuleResponse.Kill,").Replace("SNT-9100", "SNT-9101"));

        Assert.Empty(RuleLinter.Lint(file));
        Assert.Empty(RuleLinter.Lint(verdict));
    }

    [Fact]
    public void A_policy_on_the_result_is_an_error_at_its_line_that_says_why()
    {
        using var dir = new RuleDirectory();
        var source = WithResponse("""
                    Response = new RuleResponse
                    {
                        When = new() { Flags = MoveFlags.MoveAll,
                                       Errno = 1 },
                    },
            """);
        var file = dir.Write("result.csx", source);
        var line = source.Split('\n').ToList().FindIndex(l => l.Contains("Errno = 1")) + 1;

        var diagnostics = RuleLinter.Lint(file);

        var error = Assert.Single(diagnostics, d => d.Code == KernelPolicyLint.Code);
        Assert.Equal(line, error.Line);
        Assert.True(error.IsError);
        Assert.Contains("'Errno' cannot be a kernel precondition: it is known only after move_pages returns", error.Message);
        Assert.Contains("sys_enter", error.Message);
    }

    [Fact]
    public void A_policy_on_status_contents_or_an_impossible_comm_or_signal_is_an_error()
    {
        using var dir = new RuleDirectory();
        var source = WithResponse("""
                    Response = new RuleResponse
                    {
                        When = new KernelPolicy { StatusAtExit = null, PagesAtEntry = null, Comm = "a-name-longer-than-15" },
                        Action = ResponseAction.Signal(99),
                    },
            """);
        var file = dir.Write("status.csx", source);

        var messages = RuleLinter.Lint(file).Where(d => d.Code == KernelPolicyLint.Code).Select(d => d.Message).ToList();

        Assert.Contains(messages, m => m.StartsWith("'StatusAtExit' cannot be a kernel precondition: it is known only after"));
        Assert.Contains(messages, m => m.StartsWith("'PagesAtEntry' cannot be a kernel precondition: array contents are user memory"));
        Assert.Contains(messages, m => m.Contains("can never match: the kernel keeps at most 15 bytes"));
        Assert.Contains(messages, m => m.StartsWith("signal(99) is not a signal"));
    }
}
