using System.ComponentModel;
using System.Reflection;
using System.Runtime.ExceptionServices;
using Sentinel.Events;

namespace Sentinel.Rules;

/// <summary>Evaluates one event: reads <paramref name="e"/>, adds findings to <paramref name="findings"/>.</summary>
/// <param name="e">The event. It is pooled: read it, never keep it.</param>
/// <param name="findings">Where the rule adds what it found; nothing added means the rule did not fire.</param>
public delegate void MatchFunction(MovePagesEvent e, Findings findings);

/// <summary>
/// The concise rule form: a .csx of top-level statements that starts with
/// <c>using static Sentinel.Rules.RuleScript;</c>, calls <see cref="Define"/> with the rule's metadata and
/// <see cref="Match"/> with the function to run per event. The top-level code runs once when the rule loads
/// (under the same budget as a rule class's constructor); its variables are the rule's state.
/// </summary>
/// <example>
/// <code>
/// using static Sentinel.Rules.RuleScript;
///
/// Define(new RuleInfo { Id = "SNT-1001", Version = "1.0.0", Name = "Compat call", Description = "…",
///     Severity = Severity.Low, Events = ["move_pages"] });
///
/// Match((e, findings) =&gt;
/// {
///     if (e.IsCompat) findings.Add($"{e.Comm} ({e.Pid}) made a 32-bit move_pages call");
/// });
/// </code>
/// </example>
public static class RuleScript
{
    [ThreadStatic] private static Registration? t_loading;

    /// <summary>Declares the rule's metadata. Call it once, first.</summary>
    public static void Define(RuleInfo info)
    {
        var loading = Loading(nameof(Define));
        if (loading.Info is not null) throw new InvalidOperationException("Define may be called only once");
        loading.Info = info ?? throw new ArgumentNullException(nameof(info));
    }

    /// <summary>Registers the function the engine calls for each event. Call it once.</summary>
    public static void Match(MatchFunction match)
    {
        var loading = Loading(nameof(Match));
        if (loading.Match is not null) throw new InvalidOperationException("Match may be called only once");
        loading.Match = match ?? throw new ArgumentNullException(nameof(match));
    }

    /// <summary>The operator's parameters for this rule ("SNT-0005.threshold=10"); read after <see cref="Define"/>.</summary>
    public static RuleParameters Parameters
    {
        get
        {
            var loading = Loading(nameof(Parameters));
            var id = loading.Info?.Id ?? throw new InvalidOperationException("call Define before reading Parameters");
            return RuleParameters.For(id, loading.AllParameters);
        }
    }

    /// <summary>Facts about the host the engine runs on (namespaces, NUMA nodes).</summary>
    public static HostInfo Host => Loading(nameof(Host)).Host;

    private static Registration Loading(string member) => t_loading
        ?? throw new InvalidOperationException($"RuleScript.{member} may be used only by a rule script's top-level code while it loads");

    /// <summary>Makes the engine's parameters visible to the scripts instantiated on this thread until disposed.</summary>
    internal static LoadScope BeginLoad(IReadOnlyDictionary<string, string> parameters) => new(parameters);

    internal readonly struct LoadScope : IDisposable
    {
        private readonly IReadOnlyDictionary<string, string>? _previous;

        public LoadScope(IReadOnlyDictionary<string, string> parameters)
        {
            _previous = t_parameters;
            t_parameters = parameters;
        }

        public void Dispose() => t_parameters = _previous;
    }

    [ThreadStatic] private static IReadOnlyDictionary<string, string>? t_parameters;

    /// <summary>Runs a compiled script's top-level code once and returns what it registered.</summary>
    internal static (RuleInfo Info, MatchFunction Match) Run(Type submission, HostInfo host)
    {
        var factory = submission.GetMethod("<Factory>", BindingFlags.Public | BindingFlags.Static)
                      ?? throw new InvalidOperationException("the compiled script has no entry point");
        var previous = t_loading;
        var loading = t_loading = new Registration(host, t_parameters ?? new Dictionary<string, string>());
        try
        {
            // Slot 0 is the host object, slot 1 this submission; a script without await completes synchronously.
            var task = (Task)factory.Invoke(null, [new object?[2]])!;
            if (!task.IsCompleted) throw new InvalidOperationException("the rule script did not complete synchronously");
            if (task.Exception is { } failed) ExceptionDispatchInfo.Capture(failed.InnerException ?? failed).Throw();
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            ExceptionDispatchInfo.Capture(ex.InnerException).Throw();
        }
        finally
        {
            t_loading = previous;
        }
        return (loading.Info ?? throw new InvalidOperationException("the script did not call Define(new RuleInfo { … })"),
            loading.Match ?? throw new InvalidOperationException("the script did not call Match((e, findings) => …)"));
    }

    private sealed class Registration(HostInfo host, IReadOnlyDictionary<string, string> parameters)
    {
        public HostInfo Host { get; } = host;
        public IReadOnlyDictionary<string, string> AllParameters { get; } = parameters;
        public RuleInfo? Info { get; set; }
        public MatchFunction? Match { get; set; }
    }
}

/// <summary>
/// The rule object of a concise script; the compiler derives one per script. Not for rule authors (the
/// sandbox refuses it). Its first <see cref="Info"/> read runs the script's top-level code, once.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public abstract class ScriptedRule : Rule
{
    private RuleInfo? _info;
    private MatchFunction? _match;

    /// <inheritdoc/>
    public sealed override RuleInfo Info
    {
        get
        {
            if (_info is null) (_info, _match) = RuleScript.Run(GetType().DeclaringType!, Host);
            return _info;
        }
    }

    /// <summary>Scripts read their parameters while they load (<see cref="RuleScript.Parameters"/>).</summary>
    public sealed override void Configure(RuleParameters parameters)
    {
    }

    /// <inheritdoc/>
    public sealed override void Match(MovePagesEvent e, Findings findings) => _match!(e, findings);
}
