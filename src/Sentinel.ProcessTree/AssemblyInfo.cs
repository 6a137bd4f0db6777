// procfs, cgroups and BPF: this assembly only runs on Linux.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
