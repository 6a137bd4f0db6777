using System.CommandLine;

namespace Sentinel.Cli;

/// <summary>The exit codes every command uses (README, "The sentinel command"): 0 ok, 1 findings or failures, 2 usage or input errors.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>Findings, or lint/test failures.</summary>
    public const int Findings = 1;
    /// <summary>Usage or input errors, and environments we cannot run in.</summary>
    public const int UsageError = 2;
}

/// <summary>An error the user can fix: printed as one line, never as a stack trace.</summary>
public sealed class CliException(string message, int exitCode = ExitCodes.UsageError) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

internal static class CliRunner
{
    public static async Task<int> InvokeAsync(RootCommand root, string[] args)
    {
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
                Console.Error.WriteLine($"sentinel: {error.Message}");
            Console.Error.WriteLine("Run 'sentinel --help' for usage.");
            return ExitCodes.UsageError;
        }
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (CliException ex)
        {
            Console.Error.WriteLine($"sentinel: {ex.Message}");
            return ex.ExitCode;
        }
    }
}
