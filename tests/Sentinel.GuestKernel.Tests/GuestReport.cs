using Sentinel.Events;
using Sentinel.Probes;
using Sentinel.Response;
using Sentinel.TestSupport;

namespace Sentinel.GuestKernel.Tests;

/// <summary>
/// The guest's data-port lines (protocol in tests/guest/guest_init.c), parsed. Ring-buffer records are
/// decoded by the project's own <see cref="MovePagesDecoder"/>, as the agent would decode them.
/// </summary>
public sealed class GuestReport
{
    public sealed record Record(string Scenario, MovePagesEvent Event);
    public sealed record Query(long Ret, int[] Status);

    /// <summary>One struct snt_resp_event as the guest printed it; the enums are the agent's own.</summary>
    public sealed record ResponseLine(string Scenario, int Pid, int Tid, uint Uid, int TargetPid, int Flags,
        ResponseSource Source, ResponseKind Action, ResponseResult Result, int Signal, int Error, bool Denied,
        bool Compat, uint Rule, uint Generation, string Comm);

    private readonly List<(string Tag, string Text)> _facts = [];

    public List<Record> Records { get; } = [];
    public Dictionary<string, List<MovePagesHelper.Call>> Calls { get; } = [];
    public Dictionary<string, MovePagesHelper.Call> LsmCalls { get; } = [];
    public Dictionary<string, Query> LsmQueries { get; } = [];
    public Dictionary<string, MovePagesHelper.Call> ResponseCalls { get; } = [];
    public Dictionary<string, Query> ResponseQueries { get; } = [];
    public List<ResponseLine> ResponseRecords { get; } = [];

    /// <summary>Parses the lines; a line that breaks the protocol fails with its number and what was expected.</summary>
    public static GuestReport Parse(IReadOnlyList<string> lines, AttachStrategy strategy)
    {
        var report = new GuestReport();
        var decoder = new MovePagesDecoder(strategy);
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i].TrimEnd('\r');
            var (tag, rest) = Split(line);
            try
            {
                switch (tag)
                {
                    case "record":
                        var (scenario, hex) = Split(rest);
                        var evt = new MovePagesEvent();
                        var result = decoder.Decode(Convert.FromHexString(hex), evt);
                        if (result != DecodeResult.Ok) throw new FormatException($"record does not decode: {result}");
                        report.Records.Add(new Record(scenario, evt));
                        break;
                    case "call":
                        var (name, call) = Split(rest);
                        if (!report.Calls.TryGetValue(name, out var calls)) report.Calls[name] = calls = [];
                        calls.Add(MovePagesHelper.Parse(call));
                        break;
                    case "lsm-call" or "resp-call":
                        var (callName, oneCall) = Split(rest);
                        (tag == "lsm-call" ? report.LsmCalls : report.ResponseCalls)[callName] = MovePagesHelper.Parse(oneCall);
                        break;
                    case "lsm-query" or "resp-query":
                        var (queryName, fields) = Split(rest);
                        var kv = Fields(fields);
                        (tag == "lsm-query" ? report.LsmQueries : report.ResponseQueries)[queryName] =
                            new Query(long.Parse(kv["ret"]), kv["status"].Split(',').Select(int.Parse).ToArray());
                        break;
                    case "resp-record":
                        var (respScenario, respFields) = Split(rest);
                        // comm comes last and is taken whole: a task may name itself with spaces.
                        var commAt = respFields.IndexOf(" comm=", StringComparison.Ordinal);
                        if (commAt < 0) throw new FormatException("no comm= field");
                        report.ResponseRecords.Add(ParseResponse(respScenario, Fields(respFields[..commAt]), respFields[(commAt + 6)..]));
                        break;
                }
            }
            catch (Exception ex) when (ex is FormatException or KeyNotFoundException or IndexOutOfRangeException)
            {
                throw new GuestException($"data line {i + 1}: malformed '{tag}' line ({ex.Message}): {Shorten(line)}");
            }
            report._facts.Add((tag, rest));
        }
        return report;
    }

    /// <summary>Every value reported under <paramref name="tag"/>, in order.</summary>
    public IReadOnlyList<string> All(string tag) => _facts.Where(f => f.Tag == tag).Select(f => f.Text).ToArray();

    public string Single(string tag) => All(tag) switch
    {
        [var one] => one,
        var many => throw new Xunit.Sdk.XunitException(
            $"expected one '{tag}' line, found {many.Count}: {string.Join(" | ", many)}{GuestErrors()}"),
    };

    public bool Has(string tag, string rest) => _facts.Contains((tag, rest));

    public ulong Counter(string name) => ulong.Parse(All("counter").Single(c => c.StartsWith(name + " "))[(name.Length + 1)..]);

    /// <summary>The one event a process produced (the helpers make one call each).</summary>
    public MovePagesEvent EventOf(int pid, string what)
    {
        var matches = Records.Where(r => r.Event.Pid == pid).ToArray();
        return matches.Length == 1
            ? matches[0].Event
            : throw new Xunit.Sdk.XunitException($"expected one event from pid {pid} ({what}), found {matches.Length}{GuestErrors()}");
    }

    /// <summary>What the guest said went wrong, for a failure message: its errors and libbpf's last words (the verifier's verdict).</summary>
    public string GuestErrors()
    {
        var errors = All("error");
        if (errors.Count == 0) return "";
        var libbpf = All("libbpf").TakeLast(12);
        return $"\nthe guest reported:\n  {string.Join("\n  ", errors)}\nlibbpf's last lines:\n  {string.Join("\n  ", libbpf)}";
    }

    private static ResponseLine ParseResponse(string scenario, Dictionary<string, string> f, string comm) => new(scenario,
        int.Parse(f["pid"]), int.Parse(f["tid"]), uint.Parse(f["uid"]), int.Parse(f["target"]), int.Parse(f["flags"]),
        (ResponseSource)byte.Parse(f["source"]), (ResponseKind)int.Parse(f["action"]), (ResponseResult)byte.Parse(f["result"]),
        int.Parse(f["signal"]), int.Parse(f["error"]), f["denied"] == "1", f["compat"] == "1", uint.Parse(f["rule"]), uint.Parse(f["generation"]),
        comm);

    /// <summary>"key=value key=value", values without spaces.</summary>
    private static Dictionary<string, string> Fields(string text) =>
        text.Split(' ').Select(f => f.Split('=', 2)).ToDictionary(f => f[0], f => f[1]);

    private static (string, string) Split(string text)
    {
        var space = text.IndexOf(' ');
        return space < 0 ? (text, "") : (text[..space], text[(space + 1)..]);
    }

    private static string Shorten(string line) => line.Length <= 120 ? line : line[..120] + "...";
}
