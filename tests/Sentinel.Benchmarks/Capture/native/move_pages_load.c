/* Load generator for the capture benchmarks: N move_pages calls on a cheap path, timed.
 * usage: move_pages_load N esrch|query|distinct|getppid   → prints "<cpu ns per call> <calls> <wall ns per call>"
 * The CPU time (user + system, probes included) is the figure: on a shared machine the wall time also counts
 * the time the generator waited for a CPU.
 * esrch: the same unknown pid every call (identical calls); distinct: a different unknown pid every call;
 * getppid: no move_pages at all, the cost a probe on every syscall adds to the machine's other calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3) { fprintf(stderr, "usage: %s N esrch|query|distinct|getppid\n", argv[0]); return 2; }
	long n = atol(argv[1]);
	int esrch = !strcmp(argv[2], "esrch");
	int distinct = !strcmp(argv[2], "distinct");
	int other = !strcmp(argv[2], "getppid");
	char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	page[0] = 1;
	void *pages[1] = { page };
	int status[1];
	struct timespec a, b, ca, cb;
	clock_gettime(CLOCK_MONOTONIC, &a);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ca);
	for (long i = 0; other && i < n; i++)
		syscall(SYS_getppid);
	for (long i = 0; !other && i < n; i++)
		syscall(SYS_move_pages, distinct ? 0x3f000000 + (int)(i & 0xffffff) : esrch ? 0x3ffffff0 : 0, 1UL, pages,
			NULL, status, 0);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cb);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	double cpu = (cb.tv_sec - ca.tv_sec) * 1e9 + (cb.tv_nsec - ca.tv_nsec);
	printf("%.1f %ld %.1f\n", cpu / n, n, ns / n);
	return 0;
}
