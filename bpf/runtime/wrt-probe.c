// Test binary for the runtime kernel tests and `weir test --kernel`: compiled into a temp dir and
// scope every policy to that exact path, so Sigkill never reaches anything else.
//   wrt-probe open PATH [N]        open+close PATH N times (default 1), print "opened N"
//   wrt-probe loop PATH STOPFILE   open+close PATH until STOPFILE exists, printing nothing
//   wrt-probe mount DIR            unshare a mount namespace, mount tmpfs on DIR, try pivot_root(DIR, DIR)
//   wrt-probe bench PATH N         open+close PATH N times, print the mean ns per open+close
//   wrt-probe call NR ARG...       in a private mount namespace: print "ready", wait for a byte on stdin,
//                                  then syscall(NR, ARG...) with ARG i:<number> or s:<string>; print "done R"
//                                  (the weir test --kernel runner gives the process its case's identity while it waits)
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "open") == 0) {
		long n = argc >= 4 ? atol(argv[3]) : 1;
		for (long i = 0; i < n; i++) {
			int fd = open(argv[2], O_RDONLY);
			if (fd >= 0)
				close(fd);
		}
		printf("opened %ld\n", n);
		return 0;
	}
	if (argc >= 4 && strcmp(argv[1], "bench") == 0) {
		long n = atol(argv[3]);
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (long i = 0; i < n; i++) {
			int fd = open(argv[2], O_RDONLY);
			if (fd >= 0)
				close(fd);
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (double)n);
		return 0;
	}
	if (argc >= 4 && strcmp(argv[1], "loop") == 0) {
		struct stat st;
		while (stat(argv[3], &st) != 0) {
			int fd = open(argv[2], O_RDONLY);
			if (fd >= 0)
				close(fd);
			usleep(200);
		}
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "mount") == 0) {
		if (unshare(CLONE_NEWNS) != 0) { perror("unshare"); return 2; }
		if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) { perror("make-private"); return 2; }
		if (mount("wrt-tmpfs", argv[2], "tmpfs", 0, NULL) != 0) { perror("mount"); return 2; }
		long r = syscall(SYS_pivot_root, argv[2], argv[2]);
		printf("mounted pivot=%ld\n", r);
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "call") == 0) {
		long a[6] = {0, 0, 0, 0, 0, 0};
		for (int i = 3; i < argc && i < 9; i++) {
			if (strncmp(argv[i], "s:", 2) == 0)
				a[i - 3] = (long)(argv[i] + 2);
			else if (strncmp(argv[i], "i:", 2) == 0)
				a[i - 3] = strtol(argv[i] + 2, NULL, 0);
		}
		/* Mounts and pivot_root stay inside this process's own mount namespace. */
		if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) { perror("private mount namespace"); return 2; }
		printf("ready\n");
		fflush(stdout);
		char c;
		if (read(0, &c, 1) != 1)
			return 2;
		long r = syscall(atol(argv[2]), a[0], a[1], a[2], a[3], a[4], a[5]);
		printf("done %ld\n", r);
		return 0;
	}
	fprintf(stderr, "usage: wrt-probe open PATH [N] | loop PATH STOPFILE | mount DIR | bench PATH N | call NR ARG...\n");
	return 2;
}
