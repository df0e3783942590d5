/* The floor: only the kernel work that a rootless sandbox start-up cannot avoid.
 *
 * unshare(2) new user, mount, PID, IPC, UTS and network namespaces; write "deny" to
 * setgroups and the uid/gid maps (the caller appears as root, like `unshare -r`); make every
 * mount private; fork, so that the child is PID 1 of the new PID namespace; the child mounts a
 * fresh /proc and executes the command (default /bin/true); the parent waits and returns the
 * child's status (128+N when it was killed by signal N).
 *
 * Usage: floor [COMMAND [ARG]...]        Build: gcc -O2 -o floor floor.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what)
{
    fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
    exit(125);
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        die(path);
    size_t len = strlen(text);
    if (write(fd, text, len) != (ssize_t)len)
        die(path);
    close(fd);
}

int main(int argc, char **argv)
{
    char *deflt[] = {"/bin/true", NULL};
    char **cmd = argc > 1 ? argv + 1 : deflt;
    char map[64];
    uid_t uid = getuid();
    gid_t gid = getgid();

    if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS |
                CLONE_NEWNET) < 0)
        die("unshare");
    write_file("/proc/self/setgroups", "deny");
    snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
    write_file("/proc/self/uid_map", map);
    snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
    write_file("/proc/self/gid_map", map);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        die("make / private");

    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
            die("mount /proc");
        execv(cmd[0], cmd);
        fprintf(stderr, "floor: execute %s: %s\n", cmd[0], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            die("waitpid");
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
