/* Peak resident set size of a command's whole process tree: runs COMMAND RUNS times and prints
 * "median max" of ru_maxrss in KiB, as wait4(2) reports it for the child (the largest RSS that
 * the child or any descendant it waited for reached; /usr/bin/time -f %M reports the same).
 * stdin, stdout and stderr of COMMAND are /dev/null; a run that exits non-zero is an error.
 *
 * Usage: peakrss RUNS COMMAND [ARG]...   Build: gcc -O2 -o peakrss peakrss.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

extern char **environ;

static int cmp(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 3 || atoi(argv[1]) < 1) {
        fprintf(stderr, "usage: peakrss RUNS COMMAND [ARG]...\n");
        return 2;
    }
    int runs = atoi(argv[1]);
    char **cmd = argv + 2;
    long *kib = calloc(runs, sizeof *kib);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    for (int i = 0; i < runs; i++) {
        pid_t pid;
        int st, e = posix_spawn(&pid, cmd[0], &fa, NULL, cmd, environ);
        if (e != 0) {
            fprintf(stderr, "peakrss: cannot execute %s: %s\n", cmd[0], strerror(e));
            return 1;
        }
        struct rusage ru;
        while (wait4(pid, &st, 0, &ru) < 0)
            if (errno != EINTR) {
                perror("peakrss: wait4");
                return 1;
            }
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "peakrss: %s exited with status %d\n", cmd[0],
                    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
            return 1;
        }
        kib[i] = ru.ru_maxrss;
    }
    qsort(kib, runs, sizeof *kib, cmp);
    long median = runs % 2 ? kib[runs / 2] : (kib[runs / 2 - 1] + kib[runs / 2]) / 2;
    printf("%ld %ld\n", median, kib[runs - 1]);
    return 0;
}
