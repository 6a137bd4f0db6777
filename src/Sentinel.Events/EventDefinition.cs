namespace Sentinel.Events;

/// <summary>One argument of an event: the single source for the decoder, the JSON/protobuf output and `events describe`.</summary>
public sealed record ArgumentDefinition(string Name, string Type, ArgTags Tags, string Note);

public sealed record EventDefinition(
    string Name,
    int Id,
    string Description,
    IReadOnlyList<ArgumentDefinition> Arguments,
    IReadOnlyDictionary<string, int> SyscallNumbers)
{
    public ArgumentDefinition Argument(string name) =>
        Arguments.FirstOrDefault(a => a.Name == name)
        ?? throw new KeyNotFoundException($"event {Name} has no argument '{name}'");
}

public static class EventCatalog
{
    /// <summary>Indexes into <see cref="MovePages"/>.Arguments, in syscall order, with the return value last.</summary>
    public static class MovePagesArgs
    {
        public const int Pid = 0, Count = 1, Pages = 2, Nodes = 3, Status = 4, Flags = 5, Return = 6;
    }

    public static readonly EventDefinition MovePages = new(
        Name: "move_pages",
        Id: 1,
        Description: "Moves or queries the NUMA node of pages of process `pid` (0 = the caller). " +
                     "nodes == NULL is query mode: nothing moves and status[] reports each page's node.",
        Arguments:
        [
            new("pid", "int32", ArgTags.K, "0 = self"),
            new("count", "uint64", ArgTags.K | ArgTags.U, "the length of the user arrays"),
            new("pages", "const void**", ArgTags.U | ArgTags.TOCTOU, "the address array; copies captured"),
            new("nodes", "const int*", ArgTags.U | ArgTags.TOCTOU | ArgTags.OPT, "NULL = query mode"),
            new("status", "int*", ArgTags.U, "the kernel's output; read at exit"),
            new("flags", "int32", ArgTags.K, "MOVE=2, MOVE_ALL=4"),
            new("return", "int64", ArgTags.K, "0, a count of pages not moved, or -errno"),
        ],
        SyscallNumbers: new Dictionary<string, int> { ["x86_64"] = 279, ["i386"] = 317, ["arm64"] = 239 });

    public static IReadOnlyList<EventDefinition> All { get; } = [MovePages];

    public static EventDefinition? Find(string name) =>
        All.FirstOrDefault(e => string.Equals(e.Name, name, StringComparison.Ordinal));
}
