/* In-kernel response to move_pages: the maps' layouts shared with userspace. Sentinel.Bpf.Generators writes
 * the C# mirrors of every struct here from this header (Sentinel.Response/ResponseLayout.cs binds them); a test
 * checks their offsets and sizes. */
#ifndef SENTINEL_RESPONSE_H
#define SENTINEL_RESPONSE_H

#define SNT_RESP_MAX_POLICIES 16
#define SNT_RESP_COMM_LEN 16
#define SNT_RESP_MAGIC 0x52544e53 /* "SNTR" little-endian */
#define SNT_RESP_NS_PER_TICK 10000000ULL /* /proc/<pid>/stat counts start times in USER_HZ (100) ticks */

enum snt_resp_mode {
	SNT_MODE_AUDIT = 1,   /* report "would kill", never signal */
	SNT_MODE_ENFORCE = 2, /* signal */
};

enum snt_resp_action {
	SNT_ACT_KILL = 1,
	SNT_ACT_SIGNAL = 2, /* signal number in the policy */
	SNT_ACT_AUDIT = 3,  /* report only, in any mode */
};

enum snt_resp_result {
	SNT_RES_SIGNALLED = 1,
	SNT_RES_SIGNAL_FAILED = 2,
	SNT_RES_AUDITED = 3,      /* audit mode or an audit action: nothing sent */
	SNT_RES_RATE_LIMITED = 4, /* the kill budget for this second was spent */
	SNT_RES_PROTECTED = 5,    /* pid 1, the agent, or allowlisted */
};

enum snt_resp_source {
	SNT_SRC_POLICY = 1,  /* a rule's kernel precondition matched */
	SNT_SRC_VERDICT = 2, /* the process was marked by a detection of a Response = Kill rule */
};

/* Which fields of a policy are checked; a policy checks only what it sets. */
enum snt_policy_field {
	SNT_PF_FLAGS = 1 << 0,      /* every bit of flags_all is set */
	SNT_PF_TARGET = 1 << 1,     /* target: 1 self (pid 0 or own), 2 another process */
	SNT_PF_MIN_COUNT = 1 << 2,  /* count >= min_count */
	SNT_PF_UID = 1 << 3,
	SNT_PF_EUID = 1 << 4,
	SNT_PF_CAPS_LACKING = 1 << 5, /* the caller lacks at least one of caps */
	SNT_PF_CAPS_HAVING = 1 << 6,  /* the caller has every one of caps */
	SNT_PF_NAMESPACE = 1 << 7,  /* ns: 1 container (mount ns != host's), 2 host */
	SNT_PF_COMM = 1 << 8,
	SNT_PF_COMPAT = 1 << 9,     /* the call is a 32-bit compat call */
};

struct snt_policy {
	__u32 fields; /* enum snt_policy_field */
	__u32 flags_all;
	__u32 uid;
	__u32 euid;
	__u64 min_count;
	__u64 caps;
	__u32 target;
	__u32 ns;
	__u32 action; /* enum snt_resp_action */
	__u32 signal;
	__u32 rule;   /* the agent's index of the rule that declared it */
	__u32 pad;
	char comm[SNT_RESP_COMM_LEN];
};

/* A whole policy set: userspace fills the inactive one of two, then flips snt_resp_config.active. */
struct snt_policy_set {
	__u32 count;
	__u32 generation;
	struct snt_policy policies[SNT_RESP_MAX_POLICIES];
};

struct snt_resp_config {
	__u32 mode;       /* enum snt_resp_mode */
	__u32 active;     /* which policy set is live (0 or 1) */
	__u32 agent_pid;  /* never killed */
	__u32 verdicts;   /* processes marked; 0 skips the verdict lookup */
	__u64 host_mnt_ns;
	__u32 kills_per_second;
	__u32 policies;   /* policies in the active set; with verdicts == 0, a call exits after one load */
	__u32 lsm_deny;   /* the LSM hook is attached: a killed cross-process call is also refused there */
	__u32 pad;
};

/* A process marked by a verdict, keyed by its pid; the start time keeps a reused pid from being hit. */
struct snt_verdict {
	__u64 start_ticks;
	__u32 action;
	__u32 signal;
	__u32 rule;
	__u32 pad;
};

/* One response taken (or withheld), reported to userspace. */
struct snt_resp_event {
	__u32 magic;
	__u32 size;
	__u64 time_ns;
	__u64 start_ns;      /* the process's start (boot time) */
	__u64 count;
	__u64 cap_effective;
	__u64 mnt_ns;
	__u64 cgroup_id;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__u32 euid;
	__s32 target_pid;
	__s32 flags;
	__u32 rule;
	__u32 signal;
	__s32 error;         /* bpf_send_signal's result */
	__u8 source;         /* enum snt_resp_source */
	__u8 action;         /* enum snt_resp_action */
	__u8 result;         /* enum snt_resp_result */
	__u8 compat;
	__u8 denied;         /* the call itself was refused (kprobe override) */
	__u8 pad[3];
	__u32 generation;
	char comm[SNT_RESP_COMM_LEN];
};

#endif
