// /proc, setpriv, unshare and raw syscalls: Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
