using Sentinel.Bpf;

namespace Sentinel.Response;

// The maps' entries and the record of bpf/response.h: Sentinel.Bpf.Generators writes their fields, the header's
// #defines and its enums from the header itself.

/// <summary>bpf/response.h's #defines and enums.</summary>
[BpfHeader("response.h")]
internal static partial class ResponseHeader;

/// <summary>One kernel policy: struct snt_policy.</summary>
[BpfStruct("snt_policy")]
internal partial struct PolicyEntry;

/// <summary>A whole policy set, one of two slots: struct snt_policy_set.</summary>
[BpfStruct("snt_policy_set")]
internal partial struct PolicySet;

/// <summary>struct snt_resp_config.</summary>
[BpfStruct("snt_resp_config")]
internal partial struct ResponseConfig;

/// <summary>A process marked by a verdict: struct snt_verdict.</summary>
[BpfStruct("snt_verdict")]
internal partial struct VerdictEntry;

/// <summary>One response taken or withheld: struct snt_resp_event.</summary>
[BpfStruct("snt_resp_event")]
internal partial struct RawResponseEvent;

/// <summary>enum snt_resp_result as userspace names it (an audited response is one that would have killed).</summary>
public enum ResponseResult : byte
{
    Signalled = (byte)ResponseHeader.RespResult.Signalled,
    SignalFailed = (byte)ResponseHeader.RespResult.SignalFailed,
    WouldKill = (byte)ResponseHeader.RespResult.Audited,
    RateLimited = (byte)ResponseHeader.RespResult.RateLimited,
    Protected = (byte)ResponseHeader.RespResult.Protected,
}

/// <summary>enum snt_resp_source.</summary>
public enum ResponseSource : byte
{
    Policy = (byte)ResponseHeader.RespSource.Policy,
    Verdict = (byte)ResponseHeader.RespSource.Verdict,
}
