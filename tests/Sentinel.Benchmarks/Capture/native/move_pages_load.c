/* Load generator for the capture benchmarks: N move_pages calls on a cheap path, timed.
 * usage: move_pages_load N esrch|query|distinct   → prints "<ns per call> <calls>"
 * esrch: the same unknown pid every call (identical calls); distinct: a different unknown pid every call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3) { fprintf(stderr, "usage: %s N esrch|query|distinct\n", argv[0]); return 2; }
	long n = atol(argv[1]);
	int esrch = !strcmp(argv[2], "esrch");
	int distinct = !strcmp(argv[2], "distinct");
	char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	page[0] = 1;
	void *pages[1] = { page };
	int status[1];
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		syscall(SYS_move_pages, distinct ? 0x3f000000 + (int)(i & 0xffffff) : esrch ? 0x3ffffff0 : 0, 1UL, pages,
			NULL, status, 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	printf("%.1f %ld\n", ns / n, n);
	return 0;
}
