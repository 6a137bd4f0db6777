/* A move_pages caller driven by its stdin, so a test decides when each call happens: before every call it
 * reads one line, and after it prints "call=I ret=R errno=E pid=P". Built 64-bit and 32-bit (compat path).
 * usage: stepper{32,64} [--pid PID] [--flags F]   (EOF on stdin ends it with exit 0) */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int pid = 0, flags = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pid") && i + 1 < argc) pid = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--flags") && i + 1 < argc) flags = atoi(argv[++i]);
		else { fprintf(stderr, "usage: %s [--pid PID] [--flags F]\n", argv[0]); return 2; }
	}
	char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) { perror("mmap"); return 1; }
	page[0] = 1;
	void *pages[1] = { page };
	int status[1];
	char line[64];
	printf("ready pid=%d\n", getpid());
	fflush(stdout);
	for (int call = 1; fgets(line, sizeof(line), stdin); call++) {
		long ret = syscall(SYS_move_pages, pid, 1UL, pages, NULL, status, flags);
		printf("call=%d ret=%ld errno=%d pid=%d\n", call, ret, ret < 0 ? errno : 0, getpid());
		fflush(stdout);
	}
	return 0;
}
