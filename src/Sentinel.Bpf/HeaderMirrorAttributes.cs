namespace Sentinel.Bpf;

/// <summary>
/// Binds a partial struct to a struct of a BPF header (bpf/*.h, passed to the build as AdditionalFiles):
/// Sentinel.Bpf.Generators writes its fields, at the C layout, and its <c>LayoutFields</c> list.
/// </summary>
[AttributeUsage(AttributeTargets.Struct, Inherited = false)]
public sealed class BpfStructAttribute(string cName) : Attribute
{
    public string CName { get; } = cName;
}

/// <summary>Binds a static partial class to a BPF header: its integer #defines become constants, its enums nested enums.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class BpfHeaderAttribute(string fileName) : Attribute
{
    public string FileName { get; } = fileName;
}
