/* /init of the test guest: a static program, the only process the guest kernel starts.
 * It mounts the kernel filesystems, loads the project's move_pages.bpf.o with only the kprobe strategy's
 * programs (chosen by section prefix, so it stays right as the object grows), runs real move_pages calls
 * through the project's helpers, and writes every ring-buffer record raw, in hex, to the data port
 * (/dev/ttyS1). Then it attaches movememory_lsm.bpf.o and drives the deny path, and last the in-kernel
 * response (response.bpf.o on its LSM path, with kill policies that pid 1's calls match). The host decodes the
 * capture records with the project's own decoder; nothing here interprets them. Response records are printed
 * field by field through response.h's struct (the agent's decoder for them is internal to Sentinel.Response).
 *
 * Data port lines (one fact each; the host parses them):
 *   kernel R | lsm LIST | lockdown MODES | prog NAME SECTION loaded|off | attach NAME ok|error MSG | kprobe LINE
 *   verify GROUP ok|error MSG
 *   strategy kprobe | scenario NAME | call NAME <helper line> | record NAME HEX | counter NAME N
 *   victim PID | lsm-attach ok|error MSG | lsm-call NAME ret=R errno=E status=S pid=P
 *   lsm-query NAME status=S | lsm-denied N
 *   resp-verify GROUP ok|error MSG | resp-verifier LINE | resp-attach NAME ok|error MSG | resp-policy ...
 *   resp-victim PID | resp-call NAME <helper line> | resp-query NAME ret=R status=S | resp-before NAME pid=P
 *   resp-exit NAME pid=P signal=N|code=N | resp-record NAME key=value... | resp-pending N
 *   error MSG | done                                                                                      */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/types.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "sentinel.h"
#include "response.h"

#define NOBODY 65534
#define MPOL_MF_MOVE 2

static FILE *out;
static const char *scenario = "setup";
static const char *libbpf_tag = "libbpf"; /* what libbpf's warnings (a verifier log) are reported as */
#define VERDICT_LINES 12

static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	fflush(out);
}

static void finish(void)
{
	say("done");
	fclose(out);
	sync();
	reboot(RB_POWER_OFF);
	_exit(0);
}

static void fail(const char *what)
{
	say("error %s: %s", what, strerror(errno));
	finish();
}

static void mount_fs(const char *type, const char *path)
{
	mkdir(path, 0755);
	if (mount(type, path, type, 0, NULL) && errno != EBUSY)
		say("error mount %s at %s: %s", type, path, strerror(errno));
}

static FILE *open_data_port(void)
{
	int fd = open("/dev/ttyS1", O_WRONLY | O_NOCTTY);
	if (fd < 0)
		return stdout;
	struct termios t;
	if (!tcgetattr(fd, &t)) {
		cfmakeraw(&t); /* no \r insertion: lines arrive exactly as written */
		tcsetattr(fd, TCSANOW, &t);
	}
	return fdopen(fd, "w");
}

static void say_file(const char *tag, const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");
	if (!f) {
		say("%s unreadable %s: %s", tag, path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		say("%s %s", tag, line);
	}
	fclose(f);
}

static int libbpf_warnings(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN)
		return 0;
	static char msg[4 << 20]; /* a verifier log arrives as one message */
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* A log tagged for the host is cut to its last lines: the verdict, not the thousands of instructions. */
	char *start = msg;
	if (strcmp(libbpf_tag, "libbpf")) {
		int lines = 0;
		for (char *p = msg + strlen(msg); p > msg && lines < VERDICT_LINES; p--)
			if (p[-1] == '\n' && p[0] && p[0] != '\n' && ++lines == VERDICT_LINES)
				start = p;
	}
	for (char *line = strtok(start, "\n"); line; line = strtok(NULL, "\n"))
		say("%s %s", libbpf_tag, line);
	return 0;
}

static int on_record(void *ctx, void *data, size_t size)
{
	(void)ctx;
	static const char hex[] = "0123456789abcdef";
	const unsigned char *bytes = data;
	fprintf(out, "record %s ", scenario);
	for (size_t i = 0; i < size; i++) {
		fputc(hex[bytes[i] >> 4], out);
		fputc(hex[bytes[i] & 15], out);
	}
	fputc('\n', out);
	fflush(out);
	return 0;
}

static void drop_to_nobody(void)
{
	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) || setresuid(NOBODY, NOBODY, NOBODY))
		_exit(120);
	/* A uid change clears dumpable, which would fail the ptrace check before the LSM hook is reached. */
	prctl(PR_SET_DUMPABLE, 1);
}

/* Runs one of the project's helpers (optionally as nobody), relays each output line as "TAG NAME", and
 * returns its wait status; *pid_out gets its pid. */
static int spawn_helper(const char *tag, const char *name, int as_nobody, char *const argv[], pid_t *pid_out)
{
	scenario = name;
	int pipefd[2];
	if (pipe(pipefd))
		fail("pipe");
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		if (as_nobody)
			drop_to_nobody();
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	FILE *lines = fdopen(pipefd[0], "r");
	char line[4096];
	while (fgets(line, sizeof(line), lines)) {
		line[strcspn(line, "\n")] = 0;
		say("%s %s %s", tag, name, line);
	}
	fclose(lines);
	int status;
	waitpid(pid, &status, 0);
	*pid_out = pid;
	return status;
}

static void run_helper(const char *name, int as_nobody, char *const argv[])
{
	say("scenario %s", name);
	pid_t pid;
	int status = spawn_helper("call", name, as_nobody, argv, &pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		say("error helper %s exited with status %d", name, status);
}

/* A child that waits until killed; the target of the cross-process calls. */
static pid_t start_sleeper(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_NAME, "victim");
		for (;;)
			pause();
	}
	return pid;
}

static void say_counters(struct bpf_object *obj)
{
	static const char *names[SNT_CNT_MAX] = { "submitted", "lost", "no_entry", "compat",
						  "folds_opened", "fold_records", "folded_calls" };
	int fd = bpf_object__find_map_fd_by_name(obj, "counters");
	int cpus = libbpf_num_possible_cpus();
	__u64 values[cpus > 0 ? cpus : 1];
	for (__u32 i = 0; i < SNT_CNT_MAX; i++) {
		__u64 sum = 0;
		if (!bpf_map_lookup_elem(fd, &i, values))
			for (int c = 0; c < cpus; c++)
				sum += values[c];
		say("counter %s %llu", names[i], (unsigned long long)sum);
	}
}

static int is_kprobe_section(const char *section)
{
	return !strncmp(section, "kprobe/", 7) || !strncmp(section, "kretprobe/", 10);
}

/* Loads move_pages.bpf.o with the kprobe strategy's programs only, and attaches them. NULL if it cannot:
 * the calls and the deny path still run, so every failure is reported, not only the first. */
static struct bpf_object *attach_kprobe_strategy(void)
{
	struct bpf_object *obj = bpf_object__open_file("/move_pages.bpf.o", NULL);
	if (!obj) {
		say("error open move_pages.bpf.o: %s", strerror(errno));
		return NULL;
	}
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, obj) {
		const char *section = bpf_program__section_name(prog);
		int mine = is_kprobe_section(section);
		bpf_program__set_autoload(prog, mine);
		say("prog %s %s %s", bpf_program__name(prog), section, mine ? "loaded" : "off");
	}
	if (bpf_object__load(obj)) {
		say("error load move_pages.bpf.o: %s", strerror(errno));
		bpf_object__close(obj);
		return NULL;
	}
	int attached = 0, wanted = 0;
	bpf_object__for_each_program(prog, obj) {
		if (!bpf_program__autoload(prog))
			continue;
		wanted++;
		/* The links stay attached until the guest powers off. */
		if (!bpf_program__attach(prog)) {
			say("attach %s error %s", bpf_program__name(prog), strerror(errno));
			continue;
		}
		attached++;
		say("attach %s ok", bpf_program__name(prog));
	}
	if (wanted == 4 && attached == wanted)
		say("strategy kprobe");
	return obj;
}

/* Loads (without attaching) the programs whose section starts with prefix: the other strategies must pass
 * this kernel's verifier too, or the agent has nothing to fall back to here. */
static void verify_group(const char *name, const char *prefix)
{
	struct bpf_object *obj = bpf_object__open_file("/move_pages.bpf.o", NULL);
	if (!obj) {
		say("error open move_pages.bpf.o: %s", strerror(errno));
		return;
	}
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, obj)
		bpf_program__set_autoload(prog, !strncmp(bpf_program__section_name(prog), prefix, strlen(prefix)));
	if (bpf_object__load(obj))
		say("verify %s error %s", name, strerror(errno));
	else
		say("verify %s ok", name);
	bpf_object__close(obj);
}

static void drain(struct ring_buffer *ring)
{
	if (ring)
		ring_buffer__consume(ring);
}

static long move_pages(int pid, unsigned long count, void **pages, const int *nodes, int *status, int flags)
{
	return syscall(SYS_move_pages, pid, count, pages, nodes, status, flags);
}

static void say_status(char *buf, size_t size, const int *status, int n)
{
	size_t used = 0;
	for (int i = 0; i < n && used < size; i++)
		used += snprintf(buf + used, size - used, i ? ",%d" : "%d", status[i]);
}

/* Moves one page of process pid to node 1 and reports the result, under tag, in the helpers' format. */
static void move_one_to_node1(const char *tag, const char *name, int pid, char *page)
{
	void *pages[1] = { page };
	int nodes[1] = { 1 }, status[1] = { 0x7f7f7f7f };
	long ret = move_pages(pid, 1, pages, nodes, status, MPOL_MF_MOVE);
	char s[64];
	say_status(s, sizeof(s), status, 1);
	say("%s %s ret=%ld errno=%d status=%s pages=%p pid=%d", tag, name, ret, ret < 0 ? errno : 0, s,
	    (void *)pages, getpid());
}

/* The cross-process call of the deny test, from a separate process running as nobody. */
static void lsm_call(const char *name, pid_t victim, char *page)
{
	scenario = name;
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_NAME, "lsm_caller");
		drop_to_nobody();
		move_one_to_node1("lsm-call", name, victim, page);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
}

static void query_pages(const char *tag, const char *name, pid_t victim, char *mem, int npages)
{
	void *pages[8];
	int status[8];
	for (int i = 0; i < npages; i++)
		pages[i] = mem + i * 4096;
	long ret = move_pages(victim, npages, pages, NULL, status, 0);
	char s[128];
	say_status(s, sizeof(s), status, npages);
	say("%s %s ret=%ld status=%s", tag, name, ret, s);
}

/* The victim of the deny test runs as nobody and owns two pages. On a byte from init it moves its own
 * second page to node 1 twice: naming its own pid (the hook runs), then with pid 0 (the hook does not). */
static pid_t start_lsm_victim(char *mem, int commands, int ready)
{
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_NAME, "lsm_victim");
		drop_to_nobody();
		mem[0] = 1; /* first touch in this process: the pages are its own, on node 0 */
		mem[4096] = 1;
		char c = 1;
		write(ready, &c, 1);
		while (read(commands, &c, 1) == 1) {
			move_one_to_node1("lsm-call", "self_by_pid", getpid(), mem + 4096);
			move_one_to_node1("lsm-call", "self_by_zero", 0, mem + 4096);
			write(ready, &c, 1);
		}
		_exit(0);
	}
	return pid;
}

static void deny_path(struct ring_buffer *ring)
{
	struct bpf_object *obj = bpf_object__open_file("/movememory_lsm.bpf.o", NULL);
	if (!obj || bpf_object__load(obj)) {
		say("lsm-attach error load: %s", strerror(errno));
		return;
	}
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, "deny_movememory");
	struct bpf_link *link = prog ? bpf_program__attach(prog) : NULL;
	if (!link) {
		say("lsm-attach error %s", strerror(errno));
		return;
	}
	say("lsm-attach ok");

	char *mem = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int commands[2], ready[2];
	if (mem == MAP_FAILED || pipe(commands) || pipe(ready))
		fail("lsm victim setup");
	pid_t victim = start_lsm_victim(mem, commands[0], ready[1]);
	char c;
	if (read(ready[0], &c, 1) != 1)
		fail("lsm victim start");
	say("lsm-victim %d", victim);
	query_pages("lsm-query", "before", victim, mem, 2);

	/* No policy yet: the same call as below moves the first page, so the refusal below is the policy's. */
	lsm_call("allowed", victim, mem);
	drain(ring);

	__u32 uid = NOBODY;
	__u8 one = 1;
	if (bpf_map_update_elem(bpf_object__find_map_fd_by_name(obj, "deny_uids"), &uid, &one, BPF_ANY))
		fail("install deny policy");
	say("lsm-policy deny uid %u", uid);
	lsm_call("denied", victim, mem + 4096);
	drain(ring);
	query_pages("lsm-query", "after", victim, mem, 2);

	/* The victim's own calls: by its pid the policy refuses, by pid 0 the hook never runs. */
	scenario = "self";
	if (write(commands[1], &c, 1) != 1 || read(ready[0], &c, 1) != 1)
		fail("lsm victim self call");
	drain(ring);
	query_pages("lsm-query", "after_self", victim, mem, 2);

	__u32 zero = 0;
	__u64 denied = 0;
	bpf_map_lookup_elem(bpf_object__find_map_fd_by_name(obj, "denied"), &zero, &denied);
	say("lsm-denied %llu", (unsigned long long)denied);
	kill(victim, SIGKILL);
	waitpid(victim, NULL, 0);
	bpf_link__destroy(link);
	bpf_object__close(obj);
}

/* ---- the in-kernel response (response.bpf.o) on its LSM path: the programs KernelResponder attaches for
 * "lsm-deny", with a kill policy written into the maps through response.h's structs, as the agent writes it ---- */

#define RESPONSE_COMM "init" /* pid 1's name, which its forks keep: only the tgid tells pid 1 from them */

static int on_response(void *ctx, void *data, size_t size)
{
	(void)ctx;
	const struct snt_resp_event *ev = data;
	if (size < sizeof(*ev) || ev->magic != SNT_RESP_MAGIC || ev->size != sizeof(*ev)) {
		say("error response record in %s: %zu bytes, not a struct snt_resp_event", scenario, size);
		return 0;
	}
	say("resp-record %s pid=%u tid=%u uid=%u target=%d flags=%d count=%llu source=%u action=%u result=%u "
	    "signal=%u error=%d denied=%u compat=%u rule=%u generation=%u comm=%.*s",
	    scenario, ev->pid, ev->tid, ev->uid, ev->target_pid, ev->flags, (unsigned long long)ev->count, ev->source,
	    ev->action, ev->result, ev->signal, ev->error, ev->denied, ev->compat, ev->rule, ev->generation,
	    SNT_RESP_COMM_LEN, ev->comm);
	return 0;
}

static int in_list(const char *name, const char *const *names)
{
	for (; *names; names++)
		if (!strcmp(name, *names))
			return 1;
	return 0;
}

/* Opens response.bpf.o with only the named programs set to load. */
static struct bpf_object *open_response(const char *const *programs)
{
	struct bpf_object *obj = bpf_object__open_file("/response.bpf.o", NULL);
	if (!obj) {
		say("error open response.bpf.o: %s", strerror(errno));
		return NULL;
	}
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, obj)
		bpf_program__set_autoload(prog, in_list(bpf_program__name(prog), programs));
	return obj;
}

/* The kprobe deny path (bpf_override_return) through this kernel's verifier; its log is reported as
 * "resp-verifier" lines, so the reason for a refusal is on the data port. */
static void verify_kprobe_override(void)
{
	static const char *const programs[] = { "response_deny", "response_deny_compat", NULL };
	struct bpf_object *obj = open_response(programs);
	if (!obj)
		return;
	libbpf_tag = "resp-verifier";
	int err = bpf_object__load(obj);
	libbpf_tag = "libbpf";
	if (err)
		say("resp-verify kprobe-override error %s", strerror(-err));
	else
		say("resp-verify kprobe-override ok");
	bpf_object__close(obj);
}

static struct bpf_object *attach_response_lsm_path(void)
{
	static const char *const programs[] = { "response_enter", "response_enter_compat", "response_lsm_deny", NULL };
	struct bpf_object *obj = open_response(programs);
	if (!obj)
		return NULL;
	if (bpf_object__load(obj)) {
		say("resp-attach load error %s", strerror(errno));
		bpf_object__close(obj);
		return NULL;
	}
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, obj) {
		if (!bpf_program__autoload(prog))
			continue;
		if (bpf_program__attach(prog))
			say("resp-attach %s ok", bpf_program__name(prog));
		else
			say("resp-attach %s error %s", bpf_program__name(prog), strerror(errno));
	}
	return obj;
}

/* Two kill policies, enforced, with the LSM deny on: what `sentinel run --enforce` writes on this path. Rule 0:
 * MOVE set and comm "init"; rule 1: MOVE set by a 32-bit caller. No agent runs in the guest, so agent_pid is 0:
 * only the tgid 1 test protects pid 1. */
static int install_kill_policy(struct bpf_object *obj)
{
	struct snt_policy_set set = { .count = 2, .generation = 1 };
	struct snt_policy *p = &set.policies[0];
	p->fields = SNT_PF_FLAGS | SNT_PF_COMM;
	p->flags_all = MPOL_MF_MOVE;
	p->action = SNT_ACT_KILL;
	p->signal = SIGKILL;
	strncpy(p->comm, RESPONSE_COMM, sizeof(p->comm) - 1);
	struct snt_policy *compat = &set.policies[1];
	compat->fields = SNT_PF_FLAGS | SNT_PF_COMPAT;
	compat->flags_all = MPOL_MF_MOVE;
	compat->action = SNT_ACT_KILL;
	compat->signal = SIGKILL;
	compat->rule = 1;
	struct snt_resp_config cfg = {
		.mode = SNT_MODE_ENFORCE,
		.active = 0,
		.agent_pid = 0,
		.kills_per_second = 100,
		.policies = set.count,
		.lsm_deny = 1,
	};
	__u32 zero = 0;
	if (bpf_map_update_elem(bpf_object__find_map_fd_by_name(obj, "policy_sets"), &zero, &set, BPF_ANY) ||
	    bpf_map_update_elem(bpf_object__find_map_fd_by_name(obj, "resp_config"), &zero, &cfg, BPF_ANY)) {
		say("error install kill policy: %s", strerror(errno));
		return -1;
	}
	say("resp-policy kill flags=%u comm=%s", p->flags_all, p->comm);
	say("resp-policy kill flags=%u compat", compat->flags_all);
	return 0;
}

static void say_exit(const char *name, pid_t pid, int status)
{
	if (WIFSIGNALED(status))
		say("resp-exit %s pid=%d signal=%d", name, pid, WTERMSIG(status));
	else
		say("resp-exit %s pid=%d code=%d", name, pid, WEXITSTATUS(status));
}

static void drain_both(struct ring_buffer *capture, struct ring_buffer *response)
{
	drain(capture);
	drain(response);
}

/* A fork of init (so named "init" unless comm is given) makes one call; its post-call line is "resp-call".
 * How it ended is reported by init: a kill before the call returned leaves only "resp-before". */
static void response_child(const char *name, const char *comm, int pid, char *page, struct ring_buffer *capture,
			   struct ring_buffer *response)
{
	scenario = name;
	pid_t child = fork();
	if (child == 0) {
		if (comm)
			prctl(PR_SET_NAME, comm);
		if (!pid)
			page[0] = 1; /* the child's own copy of the page */
		say("resp-before %s pid=%d", name, getpid());
		move_one_to_node1("resp-call", name, pid, page);
		_exit(0);
	}
	int status;
	waitpid(child, &status, 0);
	say_exit(name, child, status);
	drain_both(capture, response);
}

/* Entries left in deny_pending: the LSM hook deletes the one it refuses. */
static int pending_denials(struct bpf_object *obj)
{
	int fd = bpf_object__find_map_fd_by_name(obj, "deny_pending"), n = 0;
	__u32 key, next;
	for (__u32 *prev = NULL; !bpf_map_get_next_key(fd, prev, &next); prev = &key, n++)
		key = next;
	return n;
}

static void response_path(struct ring_buffer *capture)
{
	verify_kprobe_override();
	struct bpf_object *obj = attach_response_lsm_path();
	if (!obj)
		return;
	struct ring_buffer *response =
		ring_buffer__new(bpf_object__find_map_fd_by_name(obj, "resp_events"), on_response, NULL, NULL);
	if (!response || install_kill_policy(obj))
		fail("response setup");

	/* The victim owns two pages on node 0; the cross-process calls move them. */
	char *mem = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ready[2];
	char c = 1;
	if (mem == MAP_FAILED || pipe(ready))
		fail("response victim setup");
	scenario = "queries";
	pid_t victim = fork();
	if (victim == 0) {
		prctl(PR_SET_NAME, "page_owner");
		mem[0] = mem[4096] = 1;
		write(ready[1], &c, 1);
		for (;;)
			pause();
	}
	if (read(ready[0], &c, 1) != 1)
		fail("response victim start");
	say("resp-victim %d", victim);
	query_pages("resp-query", "before", victim, mem, 2);
	drain_both(capture, response); /* each scenario's records are its own */

	/* pid 1 matches the policy like its forks: it is protected, its calls complete. */
	char *own = mem + 2 * 4096;
	own[0] = 1;
	scenario = "init_self";
	move_one_to_node1("resp-call", "init_self", 0, own);
	drain_both(capture, response);
	scenario = "init_cross";
	move_one_to_node1("resp-call", "init_cross", victim, mem + 4096);
	drain_both(capture, response);

	/* The same calls from a fork of pid 1: killed; the cross-process one is also refused at the LSM hook. */
	response_child("child_self", NULL, 0, own, capture, response);
	response_child("child_cross", NULL, victim, mem, capture, response);
	say("resp-pending %d", pending_denials(obj));
	scenario = "queries";
	query_pages("resp-query", "after_denied", victim, mem, 2);
	drain_both(capture, response);

	/* The same cross-process call by a process the policy does not name is neither killed nor refused. */
	response_child("other_cross", "other", victim, mem, capture, response);
	scenario = "queries";
	query_pages("resp-query", "after_other", victim, mem, 2);
	drain_both(capture, response);

	/* A 32-bit caller, caught on raw sys_enter by the compat program; it prints only after its call. */
	pid_t helper;
	int status = spawn_helper("resp-call", "compat_move", 0,
				  (char *[]){ "/move_pages32", "--pages", "1", "--flags", "2", "--node", "1", NULL },
				  &helper);
	say_exit("compat_move", helper, status);
	drain_both(capture, response);

	kill(victim, SIGKILL);
	waitpid(victim, NULL, 0);
	ring_buffer__free(response);
	bpf_object__close(obj);
}

int main(void)
{
	mount_fs("proc", "/proc");
	mount_fs("sysfs", "/sys");
	mount_fs("devtmpfs", "/dev");
	out = open_data_port();
	mount_fs("bpf", "/sys/fs/bpf");
	mount_fs("tracefs", "/sys/kernel/tracing");
	mount_fs("debugfs", "/sys/kernel/debug");
	mount_fs("securityfs", "/sys/kernel/security");

	struct utsname u;
	uname(&u);
	say("kernel %s", u.release);
	say_file("lsm", "/sys/kernel/security/lsm");
	say_file("lockdown", "/sys/kernel/security/lockdown");
	libbpf_set_print(libbpf_warnings);

	struct bpf_object *obj = attach_kprobe_strategy();
	say_file("kprobe", "/sys/kernel/debug/kprobes/list");
	verify_group("tracepoint", "tracepoint/");
	verify_group("raw_tracepoint", "raw_tracepoint/");
	struct ring_buffer *ring =
		obj ? ring_buffer__new(bpf_object__find_map_fd_by_name(obj, "events"), on_record, NULL, NULL) : NULL;
	if (obj && !ring)
		say("error ring buffer: %s", strerror(errno));

	run_helper("self_query", 0, (char *[]){ "/move_pages64", "--pages", "3", "--query", NULL });
	drain(ring);
	run_helper("move_to_node1", 0,
		   (char *[]){ "/move_pages64", "--pages", "2", "--flags", "2", "--node", "1", NULL });
	drain(ring);

	pid_t victim = start_sleeper();
	char victim_pid[16];
	snprintf(victim_pid, sizeof(victim_pid), "%d", victim);
	say("victim %d", victim);
	run_helper("cross_process", 0, (char *[]){ "/move_pages64", "--pid", victim_pid, "--query", NULL });
	drain(ring);
	kill(victim, SIGKILL);
	waitpid(victim, NULL, 0);

	run_helper("move_all_nobody", 1, (char *[]){ "/move_pages64", "--flags", "4", "--node", "0", NULL });
	drain(ring);
	run_helper("invalid_flags", 0, (char *[]){ "/move_pages64", "--pages", "1", "--flags", "8", NULL });
	drain(ring);
	run_helper("unknown_pid", 0,
		   (char *[]){ "/move_pages64", "--pid", "1073741808", "--pages", "1", "--query", NULL });
	drain(ring);
	run_helper("compat_query", 0, (char *[]){ "/move_pages32", "--pages", "3", "--query", NULL });
	drain(ring);
	scenario = "counters";
	if (obj)
		say_counters(obj);

	deny_path(ring);
	drain(ring);
	response_path(ring);
	finish();
}
