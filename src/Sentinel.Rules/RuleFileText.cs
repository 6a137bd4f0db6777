using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Sentinel.Rules;

/// <summary>
/// Reads a file from a rules directory (a rule's source, its fixtures): at most <see cref="MaxBytes"/>, opened
/// without blocking. Whoever can write to the directory the agent reloads from must not be able to stop or crash
/// it with what is not a rule: a FIFO would block the reload forever (and every reload after it), and a link to
/// /dev/zero would be read until memory ran out.
/// </summary>
internal static partial class RuleFileText
{
    /// <summary>Far above any rule or fixture file (the built-in ones are a few KB).</summary>
    public const int MaxBytes = 4 << 20;

    private const int ReadOnly = 0, NonBlocking = 0x800, CloseOnExec = 0x80000;
    private const int NoSuchFile = 2, AccessDenied = 13;

    /// <exception cref="IOException">Too large, or unreadable (a FIFO being written, a directory); the message says which.</exception>
    /// <exception cref="UnauthorizedAccessException">Permission denied.</exception>
    public static string Read(string path)
    {
        // Non-blocking, so a FIFO opens at once and, with no writer, reads as empty.
        var fd = Open(path, ReadOnly | NonBlocking | CloseOnExec);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno switch
            {
                NoSuchFile => new FileNotFoundException($"Could not find file '{path}'.", path),
                AccessDenied => new UnauthorizedAccessException($"Access to the path '{path}' is denied."),
                _ => new IOException($"cannot open {path}: {Marshal.GetPInvokeErrorMessage(errno)}"),
            };
        }
        using var stream = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Read, bufferSize: 1);
        var buffer = new byte[4096];
        var length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                if (length > MaxBytes) throw new IOException($"{path} is larger than {MaxBytes >> 20} MiB: not a rules file");
                Array.Resize(ref buffer, Math.Min(MaxBytes + 1, buffer.Length * 2));
            }
            var n = stream.Read(buffer, length, buffer.Length - length);
            if (n == 0) break;
            length += n;
        }
        var text = buffer.AsSpan(0, length);
        if (text.StartsWith("\uFEFF"u8)) text = text[3..];
        return Encoding.UTF8.GetString(text);
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);
}
