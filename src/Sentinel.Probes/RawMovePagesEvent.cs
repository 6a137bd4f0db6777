using Sentinel.Bpf;

namespace Sentinel.Probes;

// bpf/sentinel.h is the one source of these: Sentinel.Bpf.Generators writes their fields and constants from it.

/// <summary>One move_pages call (or a fold of identical ones) as the probe writes it: struct snt_move_pages_event.</summary>
[BpfStruct("snt_move_pages_event")]
public partial struct RawMovePagesEvent;

/// <summary>What entry learns, carried into the record at exit: struct snt_call.</summary>
[BpfStruct("snt_call")]
public partial struct RawMovePagesCall;

/// <summary>bpf/sentinel.h's #defines and enums.</summary>
[BpfHeader("sentinel.h")]
public static partial class ProbeHeader;
