/* A standalone move_pages caller, built twice: natively (move_pages64) and with gcc -m32 (move_pages32).
 * The 32-bit build enters the kernel through the compat path, which the per-syscall tracepoints never
 * see: Sentinel must still capture it. Being a separate process, either build can be run under another
 * uid or without capabilities.
 *
 * usage: move_pages{32,64} [--pid PID] [--pages N] [--flags F] [--node N | --query] [--repeat K] [--race]
 * --race starts a thread that keeps rewriting pages[0] while the calls run (a TOCTOU race).
 * Prints one line per call: "ret=<r> errno=<e> status=<s0>,<s1>,..."                                     */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef __i386__
#define NR_MOVE_PAGES 317
#else
#define NR_MOVE_PAGES SYS_move_pages
#endif

static void *volatile *race_slot;
static void *race_values[2];
static atomic_int race_stop;

static void *race_writer(void *unused)
{
	(void)unused;
	/* volatile: every flip must reach memory, or the compiler would keep only the last store. */
	for (unsigned i = 0; !atomic_load_explicit(&race_stop, memory_order_relaxed); i++)
		*race_slot = race_values[i & 1];
	return NULL;
}

int main(int argc, char **argv)
{
	int pid = 0, npages = 3, flags = 0, node = -1, repeat = 1, race = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pid") && i + 1 < argc) pid = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--pages") && i + 1 < argc) npages = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--flags") && i + 1 < argc) flags = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--node") && i + 1 < argc) node = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--query")) node = -1;
		else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--race")) race = 1;
		else { fprintf(stderr, "usage: %s [--pid PID] [--pages N] [--flags F] [--node N | --query] [--repeat K] [--race]\n", argv[0]); return 2; }
	}
	if (npages < 1 || npages > 65536 || (race && npages < 2)) {
		fprintf(stderr, "--pages must be 1..65536 (at least 2 with --race)\n");
		return 2;
	}

	long page = sysconf(_SC_PAGESIZE);
	char *mem = mmap(NULL, npages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) { perror("mmap"); return 1; }
	void **pages = calloc(npages, sizeof(*pages));
	int *nodes = calloc(npages, sizeof(*nodes));
	int *status = calloc(npages, sizeof(*status));
	for (int i = 0; i < npages; i++) {
		mem[i * page] = 1; /* resident, so status reports a node */
		pages[i] = mem + i * page;
		nodes[i] = node;
	}

	pthread_t writer;
	if (race) {
		race_slot = &pages[0];
		race_values[0] = mem;
		race_values[1] = mem + page;
		pthread_create(&writer, NULL, race_writer, NULL);
	}
	for (int r = 0; r < repeat; r++) {
		memset(status, 0x7f, npages * sizeof(*status));
		long ret = syscall(NR_MOVE_PAGES, pid, (unsigned long)npages, pages,
				   node < 0 ? NULL : nodes, status, flags);
		printf("ret=%ld errno=%d status=", ret, ret < 0 ? errno : 0);
		for (int i = 0; i < npages; i++) printf(i ? ",%d" : "%d", status[i]);
		printf(" pages=%p pid=%d\n", (void *)pages, getpid());
		fflush(stdout);
	}
	if (race) {
		atomic_store(&race_stop, 1);
		pthread_join(writer, NULL);
	}
	return 0;
}
