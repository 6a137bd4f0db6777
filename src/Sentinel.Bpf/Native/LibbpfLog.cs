using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Sentinel.Bpf.Native;

/// <summary>Routes libbpf's own log (verifier output, attach errors) into our logging.</summary>
public static unsafe class LibbpfLog
{
    private static ILogger _logger = NullLogger.Instance;
    private static int _installed;

    /// <summary>The last warning libbpf printed, so an attach failure can say why.</summary>
    public static string? LastWarning { get; private set; }

    public static void Install(ILogger logger)
    {
        _logger = logger;
        if (Interlocked.Exchange(ref _installed, 1) == 0)
            Libbpf.libbpf_set_print(&Print);
    }

    private const int LogBufferSize = 1 << 20;
    private static readonly byte* LogBuffer = (byte*)NativeMemory.Alloc(LogBufferSize);
    private static readonly Lock LogBufferLock = new();

    [UnmanagedCallersOnly]
    private static int Print(int level, nint format, nint args)
    {
        try
        {
            // A verifier log names the refused instruction at its end, after every instruction on the path to it.
            const int size = LogBufferSize;
            var buffer = LogBuffer;
            string message;
            lock (LogBufferLock)
            {
                // va_list decays to a pointer on x86_64 and arm64, so it passes straight through to vsnprintf.
                var length = LibC.vsnprintf(buffer, size, (byte*)format, args);
                if (length <= 0) return 0;
                message = Marshal.PtrToStringUTF8((nint)buffer, Math.Min(length, size - 1)).TrimEnd();
            }
            if (message.StartsWith("libbpf: ", StringComparison.Ordinal)) message = message["libbpf: ".Length..];
            var logLevel = level switch { 0 => LogLevel.Warning, 1 => LogLevel.Information, _ => LogLevel.Debug };
            if (logLevel == LogLevel.Warning) LastWarning = message;
            _logger.Log(logLevel, "libbpf: {Message}", message);
        }
        catch
        {
            // Never let an exception cross into native code.
        }
        return 0;
    }
}
