namespace Sentinel.TestSupport;

/// <summary>
/// The test host (tests/Sentinel.Server.TestHost: server, journal and pipeline) as a real child process, driven over
/// stdin one command a line, each answered by one line on stdout.
/// </summary>
public class TestHostProcess : ChildProcess
{
    protected TestHostProcess(string journal, IEnumerable<string> extraArgs)
        : base("dotnet", [RepoPaths.TestHostDll, "--journal", journal, .. extraArgs], "test host")
    {
        Journal = journal;
    }

    public string Journal { get; }

    /// <summary>The gRPC address it listens on, from its first line.</summary>
    public string Address { get; private set; } = "";

    /// <summary>The journal's last sequence when it started.</summary>
    public ulong LastAtStart { get; private set; }

    public static async Task<TestHostProcess> StartAsync(string journal, params string[] extraArgs) =>
        await ReadyAsync(new TestHostProcess(journal, extraArgs));

    /// <summary>Reads the first line, "listening ADDRESS last N"; disposes the process and fails if it is anything else.</summary>
    protected static async Task<T> ReadyAsync<T>(T host) where T : TestHostProcess
    {
        try
        {
            var line = await host.ExpectLineAsync();
            if (line.Split(' ') is not ["listening", var address, "last", var last])
                throw new InvalidOperationException($"the test host did not start: {line}\n{host.OutputTail}");
            (host.Address, host.LastAtStart) = (address, ulong.Parse(last));
            return host;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    /// <summary>Sends one command and returns its answer.</summary>
    public async Task<string> CommandAsync(string command)
    {
        await SendAsync(command);
        return await ExpectLineAsync();
    }

    /// <summary>Sends a command without reading its answer (a later read gets it, in order).</summary>
    public Task SendAsync(string command) => WriteLineAsync(command);

    /// <summary>Emits detections and returns the last committed sequence once they are all durable.</summary>
    public async Task<ulong> EmitAsync(int count, string rule = "SNT-0001", int severity = 4)
    {
        var line = await CommandAsync($"emit {count} {rule} {severity}");
        return line.StartsWith("ok ") ? ulong.Parse(line[3..]) : throw new InvalidOperationException(line);
    }

    /// <summary>Asks it to shut down cleanly and waits until it has.</summary>
    public async Task QuitAsync()
    {
        await SendAsync("quit");
        await WaitForExitAsync(TimeSpan.FromSeconds(60));
    }
}
