/* Records the process-tree probes send to userspace. Sentinel.Bpf.Generators writes the C# mirror
 * (Sentinel.ProcessTree/ProcTreeRecord.cs) from this header; a test checks the size and the offsets. */
#ifndef SENTINEL_PROCTREE_H
#define SENTINEL_PROCTREE_H

#define SNT_PROC_MAGIC 0x50544e53 /* "SNTP" little-endian */
#define SNT_PROC_COMM_LEN 16
#define SNT_PROC_PATH_LEN 256
#define SNT_PROC_ARGS_LEN 256 /* argv, NUL-separated, truncated */

enum snt_proc_kind {
	SNT_PROC_FORK = 1, /* a new process (not a thread); pid is the child */
	SNT_PROC_EXEC = 2,
	SNT_PROC_EXIT = 3, /* the last thread of the process exited */
};

enum snt_proc_flags {
	SNT_PROC_SETUID_EXE = 1, /* exec: the file has the set-user-id bit */
	SNT_PROC_SETGID_EXE = 2,
};

struct snt_proc_event {
	__u32 magic;
	__u32 kind;         /* enum snt_proc_kind */
	__u64 time_ns;      /* bpf_ktime_get_boot_ns() */
	__u64 start_ns;     /* the process's start_boottime: with pid, its identity */
	__u64 parent_start_ns;
	__u64 mnt_ns;
	__u64 pid_ns;
	__u64 cgroup_id;
	__u32 pid;          /* tgid */
	__u32 ppid;         /* real_parent's tgid */
	__u32 uid;
	__u32 euid;
	__u32 gid;
	__s32 exit_code;
	__u32 flags;        /* enum snt_proc_flags */
	__u32 args_len;     /* bytes of args used */
	char comm[SNT_PROC_COMM_LEN];
	char filename[SNT_PROC_PATH_LEN];
	char args[SNT_PROC_ARGS_LEN];
};

#endif
