/* Launch throughput: P workers each run COMMAND again and again (posix_spawn, then wait)
 * for SECONDS; prints "launches_per_second ok failed first_failure_status seconds" on one
 * line (seconds: from the start to the end of the last launch). stdin, stdout and stderr
 * of COMMAND are /dev/null; a launch that exits non-zero counts as failed, not as a launch.
 *
 * Usage: launches P SECONDS COMMAND [ARG]...   Build: gcc -O2 -o launches launches.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct count {
    long ok, failed;
    double end;
    int first_status;
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: launches P SECONDS COMMAND [ARG]...\n");
        return 2;
    }
    int p = atoi(argv[1]);
    double secs = atof(argv[2]);
    char **cmd = argv + 3;
    if (p < 1 || secs <= 0) {
        fprintf(stderr, "launches: P must be >= 1 and SECONDS > 0\n");
        return 2;
    }
    struct count *c = mmap(NULL, sizeof *c * p, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                           -1, 0);
    if (c == MAP_FAILED) {
        perror("launches: mmap");
        return 2;
    }
    memset(c, 0, sizeof *c * p);
    int gate[2];
    if (pipe(gate) < 0) {
        perror("launches: pipe");
        return 2;
    }

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);

    for (int i = 0; i < p; i++) {
        pid_t w = fork();
        if (w < 0) {
            perror("launches: fork");
            return 2;
        }
        if (w == 0) {
            close(gate[1]);
            char b;
            while (read(gate[0], &b, 1) < 0 && errno == EINTR)
                ;
            double deadline = now() + secs;
            while (now() < deadline) {
                pid_t pid;
                int st;
                int e = posix_spawn(&pid, cmd[0], &fa, NULL, cmd, environ);
                if (e != 0) {
                    c[i].failed++;
                    if (!c[i].first_status)
                        c[i].first_status = 1000 + e;
                    continue;
                }
                while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                    ;
                if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
                    c[i].ok++;
                } else {
                    c[i].failed++;
                    if (!c[i].first_status)
                        c[i].first_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                }
            }
            c[i].end = now();
            _exit(0);
        }
    }
    close(gate[0]);
    double start = now();
    close(gate[1]); /* opens the gate: every worker starts now */
    while (wait(NULL) > 0 || errno == EINTR)
        ;
    long ok = 0, failed = 0;
    double end = start;
    int first = 0;
    for (int i = 0; i < p; i++) {
        ok += c[i].ok;
        failed += c[i].failed;
        if (c[i].end > end)
            end = c[i].end;
        if (!first)
            first = c[i].first_status;
    }
    printf("%.1f %ld %ld %d %.6f\n", ok / (end - start), ok, failed, first, end - start);
    return 0;
}
