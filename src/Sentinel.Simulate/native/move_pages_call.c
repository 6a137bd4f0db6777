/* A standalone move_pages caller, built twice: natively (move_pages64) and with gcc -m32 (move_pages32).
 * The 32-bit build enters the kernel through the compat path, which the per-syscall tracepoints never
 * see: Sentinel must still capture it. Being a separate process, either build can be run under another
 * uid or without capabilities.
 *
 * usage: move_pages{32,64} [--pid PID] [--pages N] [--flags F] [--node N | --query] [--repeat K]
 * Prints one line per call: "ret=<r> errno=<e> status=<s0>,<s1>,..."                                     */
#include <errno.h>
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

int main(int argc, char **argv)
{
	int pid = 0, npages = 3, flags = 0, node = -1, repeat = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pid") && i + 1 < argc) pid = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--pages") && i + 1 < argc) npages = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--flags") && i + 1 < argc) flags = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--node") && i + 1 < argc) node = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--query")) node = -1;
		else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
		else { fprintf(stderr, "usage: %s [--pid PID] [--pages N] [--flags F] [--node N | --query] [--repeat K]\n", argv[0]); return 2; }
	}
	if (npages < 1 || npages > 4096) { fprintf(stderr, "--pages must be 1..4096\n"); return 2; }

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

	for (int r = 0; r < repeat; r++) {
		memset(status, 0x7f, npages * sizeof(*status));
		long ret = syscall(NR_MOVE_PAGES, pid, (unsigned long)npages, pages,
				   node < 0 ? NULL : nodes, status, flags);
		printf("ret=%ld errno=%d status=", ret, ret < 0 ? errno : 0);
		for (int i = 0; i < npages; i++) printf(i ? ",%d" : "%d", status[i]);
		printf(" pages=%p pid=%d\n", (void *)pages, getpid());
		fflush(stdout);
	}
	return 0;
}
