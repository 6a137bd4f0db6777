/* Records shared between the move_pages probes and userspace. This header is the one source of both sides:
 * Sentinel.Bpf.Generators writes the C# mirrors from it (see Sentinel.Probes/RawMovePagesEvent.cs), and a
 * test compiles it to check their offsets and sizes. */
#ifndef SENTINEL_H
#define SENTINEL_H

#define SNT_MAX_COPIED 16 /* entries of pages[], nodes[] and status[] copied per call */
#define SNT_COMM_LEN 16
#define SNT_RECORD_MAGIC 0x32544e53 /* "SNT2" little-endian: rejects foreign, stale or corrupt records */

#define SNT_NR_MOVE_PAGES_X64 279
#define SNT_NR_MOVE_PAGES_IA32 317 /* seccomp in the 64-bit table: tell compat by the task, not the number */

enum snt_counter {
	SNT_CNT_SUBMITTED = 0,    /* records written to the ring buffer (single calls and folds) */
	SNT_CNT_LOST = 1,         /* calls dropped because the ring buffer was full and they could not fold */
	SNT_CNT_NO_ENTRY = 2,     /* exits with no matching entry (attached mid-call) */
	SNT_CNT_COMPAT = 3,       /* 32-bit calls seen */
	SNT_CNT_FOLDS_OPENED = 4, /* fold slots taken; minus FOLD_RECORDS, per CPU, is what awaits a flush */
	SNT_CNT_FOLD_RECORDS = 5, /* folds written to the ring buffer */
	SNT_CNT_FOLDED_CALLS = 6, /* calls carried by those folds */
	SNT_CNT_MAX = 7,
};

enum snt_copy_flags {
	SNT_COPY_PAGES_ENTRY = 1,
	SNT_COPY_NODES_ENTRY = 2,
	SNT_COPY_PAGES_EXIT = 4,
	SNT_COPY_NODES_EXIT = 8,
	SNT_COPY_STATUS_EXIT = 16,
};

/* What entry learns: kept per thread, and copied into the record at exit as one block. The times (enter_ns, exit_ns,
 * fold_first_ns, fold_last_ns) are CLOCK_BOOTTIME (bpf_ktime_get_boot_ns), the clock of task start times. */
struct snt_call {
	__u64 enter_ns;
	__u64 count;
	__u64 pages;
	__u64 nodes;
	__u64 status;
	__s32 target_pid;
	__s32 flags;
	__u8 compat;
	__u8 copied;
	__u8 copies; /* enum snt_copy_flags */
	__u8 pad[5];
	__u64 pages_at_entry[SNT_MAX_COPIED];
	__s32 nodes_at_entry[SNT_MAX_COPIED];
};

/* One move_pages call, emitted at exit; or, while the reader lags, fold_count identical calls of which this
 * is the first (fold_first_ns and fold_last_ns are the first and the last call's exit times). */
struct snt_move_pages_event {
	__u32 magic;
	__u32 size;
	__u64 exit_ns;
	struct snt_call call;
	__u64 cap_effective;
	__u64 mnt_ns;
	__u64 pid_ns;
	__u64 cgroup_id;
	__s64 ret;
	__u64 fold_count;
	__u64 fold_first_ns;
	__u64 fold_last_ns;
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 euid;
	__u32 gid;
	__u32 cpu;
	__u32 pad;
	char comm[SNT_COMM_LEN];
	__u64 pages_at_exit[SNT_MAX_COPIED];
	__s32 nodes_at_exit[SNT_MAX_COPIED];
	__s32 status_at_exit[SNT_MAX_COPIED];
};

_Static_assert(sizeof(struct snt_move_pages_event) == 632, "userspace mirrors this layout");

#endif
