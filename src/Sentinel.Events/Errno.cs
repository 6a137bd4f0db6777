namespace Sentinel.Events;

/// <summary>Linux errno values move_pages can return, with their names.</summary>
public static class Errno
{
    public const int EPERM = 1, ENOENT = 2, ESRCH = 3, EIO = 5, E2BIG = 7, ENOMEM = 12, EACCES = 13,
        EFAULT = 14, EBUSY = 16, ENODEV = 19, EINVAL = 22, ENOSYS = 38;

    private static readonly string?[] Names = BuildNames();

    private static string?[] BuildNames()
    {
        var names = new string?[64];
        names[EPERM] = "EPERM"; names[ENOENT] = "ENOENT"; names[ESRCH] = "ESRCH"; names[EIO] = "EIO";
        names[E2BIG] = "E2BIG"; names[ENOMEM] = "ENOMEM"; names[EACCES] = "EACCES"; names[EFAULT] = "EFAULT";
        names[EBUSY] = "EBUSY"; names[ENODEV] = "ENODEV"; names[EINVAL] = "EINVAL"; names[ENOSYS] = "ENOSYS";
        return names;
    }

    /// <summary>The name of a positive errno, e.g. 1 → "EPERM"; "E{n}" for numbers without a name (allocates only then).</summary>
    public static string Name(int errno) =>
        errno > 0 && errno < Names.Length && Names[errno] is { } name ? name : $"E{errno}";

    public static bool TryParse(string name, out int errno)
    {
        for (var i = 0; i < Names.Length; i++)
            if (Names[i] == name) { errno = i; return true; }
        errno = 0;
        return false;
    }
}
