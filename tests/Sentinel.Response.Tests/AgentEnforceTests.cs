using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Sentinel.TestSupport;

namespace Sentinel.Response.Tests;

/// <summary>`sentinel run --enforce` as a process: rules to kernel, detections to verdicts, kills to the journal.</summary>
[Collection("live")]
public sealed class AgentEnforceTests
{
    // A comm-scoped kill policy, so no other suite's process running at the same time can match it.
    private const string MoveAllKillRule = """
        public sealed class StepperMoveAll : Rule
        {
            public override RuleInfo Info { get; } = new()
            {
                Id = "SNT-9200", Version = "1.0.0", Name = "stepper MOVE_ALL as nobody", Description = "test policy",
                Severity = Severity.High, MitreTactics = ["TA0004"], MitreTechniques = ["T1068"], Events = ["move_pages"],
                Response = new RuleResponse
                {
                    When = new() { Comm = "stepper64", Flags = MoveFlags.MoveAll, Uid = 65534 },
                    Action = ResponseAction.Kill,
                },
            };

            public override void Match(MovePagesEvent e, Findings findings) { }
        }
        """;

    [LiveFact]
    public void Enforce_kills_on_a_kernel_policy_and_on_an_snt_0005_verdict_and_journals_each_kill()
    {
        var dir = Directory.CreateTempSubdirectory("sentinel-enforce").FullName;
        var rules = Directory.CreateDirectory(Path.Combine(dir, "rules")).FullName;
        File.Copy(Path.Combine(RepoPaths.Rules, "snt-0005-failed-call-burst.csx"), Path.Combine(rules, "snt-0005.csx"));
        File.WriteAllText(Path.Combine(rules, "snt-9200.csx"), MoveAllKillRule);
        var listen = $"127.0.0.1:{FreePort()}";
        // Other suites' helpers and test hosts may scan pids while this runs: the allowlist keeps them alive.
        using var agent = SentinelProcess.Start("run", "--enforce", "--verbose", "--format", "json", "--listen", listen,
            "--journal", Path.Combine(dir, "journal.db"), "--rules", rules, "--allow-comm", "move_pages64",
            "--allow-comm", "move_pages32", "--allow-exe", Environment.ProcessPath!,
            // `sentinel simulate` scenarios of the other suites (a pid scan, MOVE_ALL as nobody) run as the sentinel apphost.
            "--allow-comm", "sentinel", "--allow-exe", SentinelProcess.Binary);
        agent.WaitForStderr("serving gRPC");
        Assert.Contains("response: enforce on the tracepoint-signal path, 1 kernel policies", agent.Stderr);

        // The verdict path: five ESRCH answers make SNT-0005 fire; the sixth call never returns.
        using var scanner = Stepper.Start("--pid 2147483600");
        for (var i = 1; i <= 5; i++)
            Assert.StartsWith($"call={i} ret=-1 errno=3 ", scanner.Step());
        agent.WaitForStderr($"SNT-0005: marked pid {scanner.Pid}");
        Assert.Null(scanner.Step());
        Assert.Equal(137, scanner.WaitForExit());

        // The kernel policy: MOVE_ALL as nobody is killed before its post-call line.
        using var prober = Stepper.Start("--flags 4", asNobody: true);
        Assert.Null(prober.Step());
        Assert.Equal(137, prober.WaitForExit());

        // Both kills are journaled detections with their remediation, and served by the stream.
        var kills = new List<JsonElement>();
        agent.WaitUntil(() =>
        {
            var (code, output, _) = SentinelProcess.Run("stream", "--server", listen, "--after", "0", "--format", "json");
            kills = code != 0 ? [] : output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => JsonDocument.Parse(l).RootElement)
                .Where(d => d.TryGetProperty("remediation", out _)).ToList();
            // Other suites' allowlisted processes may be spared meanwhile: wait for these two.
            return kills.Any(k => Pid(k) == scanner.Pid) && kills.Any(k => Pid(k) == prober.Pid);
        }, "the two journaled kills");
        var verdictKill = Assert.Single(kills, k => Pid(k) == scanner.Pid);
        Assert.Equal("SNT-0005", verdictKill.GetProperty("ruleId").GetString());
        Assert.Equal("signalled", verdictKill.GetProperty("remediation").GetProperty("result").GetString());
        Assert.Equal("verdict", verdictKill.GetProperty("remediation").GetProperty("path").GetString());
        var policyKill = Assert.Single(kills, k => Pid(k) == prober.Pid);
        Assert.Equal("SNT-9200", policyKill.GetProperty("ruleId").GetString());
        Assert.Equal("kill", policyKill.GetProperty("remediation").GetProperty("action").GetString());
        Assert.Equal("policy", policyKill.GetProperty("remediation").GetProperty("path").GetString());

        var (statusCode, status, statusErr) = SentinelProcess.Run("status", "--server", listen);
        Assert.True(statusCode == 0, statusErr);
        Assert.Contains("response  enforce on tracepoint-signal, 1 kernel policies, signalled 2", status);
        // Every stronger path tried is listed with the reason it is not the one in use.
        Assert.Contains("\n          kprobe-override: ", status);
        Assert.Contains("\n          lsm-deny: ", status);
        Assert.Contains("\n          tracepoint-signal: attached", status);
        if (File.ReadAllText("/sys/kernel/security/lockdown").Contains("[integrity]"))
            Assert.Contains("lsm-deny: the kernel refuses BPF LSM programs (lockdown=integrity)", status);
    }

    private static string ReloadRule(string action) => $$"""
        public sealed class StepperReload : Rule
        {
            public override RuleInfo Info { get; } = new()
            {
                Id = "SNT-9210", Version = "1.0.0", Name = "stepper reload", Description = "test policy",
                Severity = Severity.High, MitreTactics = ["TA0004"], MitreTechniques = ["T1068"], Events = ["move_pages"],
                Response = new RuleResponse { When = new() { Comm = "stepper64", Flags = MoveFlags.MoveAll }, Action = {{action}} },
            };

            public override void Match(MovePagesEvent e, Findings findings) { }
        }
        """;

    [LiveFact]
    public void Editing_a_rules_response_in_its_csx_file_takes_effect_on_the_next_call_and_removing_it_too()
    {
        var dir = Directory.CreateTempSubdirectory("sentinel-enforce-reload").FullName;
        var rules = Directory.CreateDirectory(Path.Combine(dir, "rules")).FullName;
        var rule = Path.Combine(rules, "snt-9210.csx");
        File.WriteAllText(rule, ReloadRule("ResponseAction.Audit"));
        using var agent = SentinelProcess.Start("run", "--enforce", "--verbose", "--no-server", "--rules", rules,
            "--allow-comm", "sentinel", "--allow-exe", SentinelProcess.Binary);
        agent.WaitForStderr("kernel policies installed (generation 1); SNT-9210 audit");
        using var helper = Stepper.Start("--flags 4");
        Assert.StartsWith("call=1 ret=0 ", helper.Step()); // audit: reported, not acted on

        File.WriteAllText(rule, ReloadRule("ResponseAction.Kill"));
        agent.WaitForStderr("; SNT-9210 kill");
        Assert.Null(helper.Step());
        Assert.Equal(137, helper.WaitForExit());

        File.Delete(rule);
        agent.WaitUntil(() => agent.Stderr[agent.Stderr.IndexOf("; SNT-9210 kill", StringComparison.Ordinal)..]
            .Contains(" 0 kernel policies installed", StringComparison.Ordinal), "the removal's install");
        using var after = Stepper.Start("--flags 4");
        Assert.StartsWith("call=1 ret=0 ", after.Step());
        Assert.Equal(0, after.Finish());
    }

    [LiveFact]
    public void Enforce_with_a_bad_mode_is_a_usage_error()
    {
        var (code, _, stderr) = SentinelProcess.Run("run", "--enforce=maybe", "--no-server");
        Assert.Equal(2, code);
        Assert.Contains("--enforce=maybe: expected --enforce or --enforce=audit", stderr);
    }

    private static int Pid(JsonElement detection) => detection.GetProperty("event").GetProperty("context").GetProperty("pid").GetInt32();

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
