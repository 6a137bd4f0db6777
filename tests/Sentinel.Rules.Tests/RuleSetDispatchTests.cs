using Sentinel.Events;
using Sentinel.TestSupport;

namespace Sentinel.Rules.Tests;

/// <summary>
/// The set's generated method calls each rule's <c>Match</c> directly; it must call the method a virtual call would,
/// on every event, sampled or not.
/// </summary>
public sealed class RuleSetDispatchTests
{
    [Fact]
    public void A_rule_that_hides_its_Match_is_called_through_the_override_as_a_virtual_call_would()
    {
        using var dir = new RuleDirectory();
        dir.Write("r.csx", """
            public abstract class Base : Rule
            {
                public override RuleInfo Info { get; } = new()
                {
                    Id = "SNT-9001", Version = "1.0.0", Name = "hides Match", Description = "a test rule",
                    Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
                };

                public override void Match(MovePagesEvent e, Findings findings) => findings.Add("override " + e.Pid);
            }

            public sealed class Hiding : Base
            {
                public new void Match(MovePagesEvent e, Findings findings) => findings.Add("hidden " + e.Pid);
            }
            """);
        using var engine = TestRules.Load(dir.Path);
        Assert.DoesNotContain(engine.Diagnostics, d => d.IsError);
        var sink = new ListSink();

        // More than one sampling interval: the sampled events take the engine's loop, the others the generated method.
        for (var pid = 1; pid <= 200; pid++) engine.Evaluate(TestRules.Event(pid: pid), sink);

        Assert.Equal(Enumerable.Range(1, 200).Select(p => "override " + p), sink.Detections.Select(d => d.Message));
    }
}
