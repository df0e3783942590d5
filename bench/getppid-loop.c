/* Calls getppid(2) N times (default 10,000,000) and prints the mean cost in ns per call.
 * Run inside and outside a seccomp filter, the difference is the filter's cost per syscall
 * that it lets through. getppid is never cached by the C library and does almost nothing in
 * the kernel, so the syscall entry and exit, and the filter, dominate.
 *
 * Usage: getppid-loop [N]                Build: gcc -O2 -o getppid-loop getppid-loop.c
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000000L;
    if (n <= 0) {
        fprintf(stderr, "usage: getppid-loop [N>0]\n");
        return 2;
    }
    struct timespec a, b;
    volatile long sink = 0;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++)
        sink += syscall(SYS_getppid);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    printf("%.2f\n", ns / (double)n);
    return sink == -1; /* never: keeps the loop */
}
