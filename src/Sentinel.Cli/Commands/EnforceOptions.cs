using System.CommandLine;
using Sentinel.Response;

namespace Sentinel.Cli;

/// <summary>`run --enforce[=audit]` and its safety options (docs/RESPONSE.md).</summary>
internal static class EnforceOptions
{
    public static readonly Option<string?> Enforce = new("--enforce")
    {
        Description = "Act on kernel policies and Response = Kill verdicts in the kernel, before move_pages returns. " +
                      "--enforce=audit reports \"would kill\" and kills nothing. Off by default.",
        Arity = ArgumentArity.ZeroOrOne,
    };
    public static readonly Option<string[]> AllowComm = new("--allow-comm") { Description = "Never act on processes with this comm (repeatable)." };
    public static readonly Option<string[]> AllowExe = new("--allow-exe") { Description = "Never act on processes running this executable (repeatable)." };
    public static readonly Option<string[]> AllowCgroup = new("--allow-cgroup") { Description = "Never act on processes in this cgroup v2 directory (repeatable)." };
    public static readonly Option<uint> KillsPerSecond = new("--kills-per-second")
    {
        Description = "At most this many kills or signals per second across the host; past it responses are reported, not taken.",
        DefaultValueFactory = _ => 20,
    };

    public static Option[] All => [Enforce, AllowComm, AllowExe, AllowCgroup, KillsPerSecond];

    /// <summary>Null when --enforce is not given.</summary>
    public static ResponseOptions? Parse(ParseResult parse)
    {
        if (parse.GetResult(Enforce) is null)
        {
            if (parse.GetResult(AllowComm) is not null || parse.GetResult(AllowExe) is not null || parse.GetResult(AllowCgroup) is not null)
                throw new CliException("--allow-comm, --allow-exe and --allow-cgroup need --enforce");
            return null;
        }
        var mode = parse.GetValue(Enforce) switch
        {
            null or "" or "on" or "enforce" => ResponseMode.Enforce,
            "audit" => ResponseMode.Audit,
            var other => throw new CliException($"--enforce={other}: expected --enforce or --enforce=audit"),
        };
        return new ResponseOptions
        {
            Mode = mode,
            AllowComms = parse.GetValue(AllowComm) ?? [],
            AllowExes = parse.GetValue(AllowExe) ?? [],
            AllowCgroups = parse.GetValue(AllowCgroup) ?? [],
            KillsPerSecond = parse.GetValue(KillsPerSecond),
        };
    }
}
