using BenchmarkDotNet.Running;

// Each area keeps its benchmarks in its own folder; pick them with --filter, e.g. --filter '*Decoder*'.
// Live probe-overhead measurements are a separate command: `probe-overhead` (see docs/BENCHMARKS.md).
if (args.Length > 0 && Sentinel.Benchmarks.Commands.TryRun(args, out var exitCode))
    return exitCode;
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
