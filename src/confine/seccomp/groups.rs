//! Named groups of syscalls, after systemd's `SystemCallFilter=` sets (systemd.exec(5)): the
//! same names and intent, trimmed to the syscalls of x86_64 and aarch64 and extended with newer
//! syscalls. `@bpf`, `@io-uring`, `@file-handle` and `@baseline` are sbx's own.
//!
//! A member is a syscall name or another group. Members that the architecture sbx is built for
//! does not have (`open` on aarch64, `modify_ldt` outside x86) are skipped when a group expands.

/// One named set of syscalls.
#[derive(Debug)]
pub struct Group {
    /// With the leading `@`.
    pub name: &'static str,
    pub description: &'static str,
    /// Syscall names and `@group` names.
    pub members: &'static [&'static str],
}

macro_rules! groups {
    ($($name:literal: $desc:literal => [$($m:literal),* $(,)?]),* $(,)?) => {
        /// Every group, by name.
        pub static GROUPS: &[Group] = &[
            $(Group { name: $name, description: $desc, members: &[$($m),*] },)*
        ];
    };
}

groups! {
    "@aio": "Asynchronous I/O, including io_uring (as in systemd)" => [
        "io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "io_setup", "io_submit",
        "@io-uring",
    ],
    "@basic-io": "Reading, writing, seeking and closing file descriptors" => [
        "close", "close_range", "dup", "dup2", "dup3", "lseek", "pread64", "preadv", "preadv2",
        "pwrite64", "pwritev", "pwritev2", "read", "readv", "write", "writev",
    ],
    "@bpf": "Loading eBPF programs and maps" => ["bpf"],
    "@chown": "Changing file ownership" => ["chown", "fchown", "fchownat", "lchown"],
    "@clock": "Setting the system clock" => [
        "adjtimex", "clock_adjtime", "clock_settime", "settimeofday",
    ],
    "@cpu-emulation": "Emulating old CPU modes (x86 LDT)" => ["modify_ldt"],
    "@debug": "Debugging, tracing and performance monitoring of processes" => [
        "lookup_dcookie", "perf_event_open", "pidfd_getfd", "ptrace",
    ],
    "@default": "What every process needs (as in systemd)" => [
        "arch_prctl", "brk", "clock_getres", "clock_gettime", "clock_nanosleep", "execve",
        "exit", "exit_group", "futex", "futex_requeue", "futex_wait", "futex_waitv", "futex_wake",
        "get_robust_list", "get_thread_area", "getegid", "geteuid", "getgid", "getgroups",
        "getpgid", "getpgrp", "getpid", "getppid", "getrandom", "getresgid", "getresuid",
        "getrlimit", "getsid", "gettid", "gettimeofday", "getuid", "lsm_get_self_attr",
        "lsm_list_modules", "map_shadow_stack", "membarrier", "mmap", "mprotect", "mseal",
        "munmap", "nanosleep", "pause", "prlimit64", "restart_syscall", "rseq", "rt_sigreturn",
        "sched_getaffinity", "sched_yield", "set_robust_list", "set_thread_area",
        "set_tid_address", "time", "uretprobe",
    ],
    "@file-handle": "Opening files by handle, bypassing path lookup (open_by_handle_at)" => [
        "name_to_handle_at", "open_by_handle_at",
    ],
    "@file-system": "File system access: open, stat, create, rename, links, xattrs, inotify" => [
        "access", "chdir", "chmod", "close", "creat", "faccessat", "faccessat2", "fallocate",
        "fchdir", "fchmod", "fchmodat", "fchmodat2", "fcntl", "fgetxattr", "file_getattr",
        "file_setattr", "flistxattr", "fremovexattr", "fsetxattr", "fstat", "fstatfs",
        "ftruncate", "futimesat", "getcwd", "getdents", "getdents64", "getxattr", "getxattrat",
        "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "lgetxattr",
        "link", "linkat", "listxattr", "listxattrat", "llistxattr", "lremovexattr", "lsetxattr",
        "lstat", "mkdir", "mkdirat", "mknod", "mknodat", "mmap", "munmap", "newfstatat", "open",
        "openat", "openat2", "readlink", "readlinkat", "removexattr", "removexattrat", "rename",
        "renameat", "renameat2", "rmdir", "setxattr", "setxattrat", "stat", "statfs", "statx",
        "symlink", "symlinkat", "truncate", "unlink", "unlinkat", "utime", "utimensat", "utimes",
    ],
    "@io-event": "Waiting for events on file descriptors (poll, select, epoll, eventfd)" => [
        "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
        "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "poll", "ppoll",
        "pselect6", "select",
    ],
    "@io-uring": "io_uring, a large kernel attack surface that bypasses per-syscall filtering" => [
        "io_uring_enter", "io_uring_register", "io_uring_setup",
    ],
    "@ipc": "Pipes, SysV IPC, POSIX message queues, memfd, cross-process memory access" => [
        "memfd_create", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
        "mq_timedsend", "mq_unlink", "msgctl", "msgget", "msgrcv", "msgsnd", "pipe", "pipe2",
        "process_madvise", "process_vm_readv", "process_vm_writev", "semctl", "semget", "semop",
        "semtimedop", "shmat", "shmctl", "shmdt", "shmget",
    ],
    "@keyring": "The kernel keyring" => ["add_key", "keyctl", "request_key"],
    "@memlock": "Locking memory into RAM" => [
        "mlock", "mlock2", "mlockall", "munlock", "munlockall",
    ],
    "@module": "Loading and unloading kernel modules" => [
        "delete_module", "finit_module", "init_module",
    ],
    "@mount": "Mounting and unmounting file systems, changing the root" => [
        "chroot", "fsconfig", "fsmount", "fsopen", "fspick", "mount", "mount_setattr",
        "move_mount", "open_tree", "open_tree_attr", "pivot_root", "umount2",
    ],
    "@network-io": "Sockets" => [
        "accept", "accept4", "bind", "connect", "getpeername", "getsockname", "getsockopt",
        "listen", "recvfrom", "recvmmsg", "recvmsg", "sendmmsg", "sendmsg", "sendto",
        "setsockopt", "shutdown", "socket", "socketpair",
    ],
    "@obsolete": "Unused or removed syscalls" => [
        "_sysctl", "afs_syscall", "getpmsg", "putpmsg", "security", "sysfs", "tuxcall",
        "uselib", "ustat", "vserver",
    ],
    "@pkey": "Memory protection keys" => ["pkey_alloc", "pkey_free", "pkey_mprotect"],
    "@privileged": "Syscalls that need privileges (capabilities)" => [
        "@chown", "@clock", "@module", "@raw-io", "@reboot", "@swap", "_sysctl", "acct", "bpf",
        "capset", "chroot", "fanotify_init", "fanotify_mark", "nfsservctl", "open_by_handle_at",
        "pivot_root", "quotactl", "quotactl_fd", "setdomainname", "setfsuid", "setgroups",
        "sethostname", "setresuid", "setreuid", "setuid", "vhangup",
    ],
    "@process": "Creating, signalling and waiting for processes; namespaces" => [
        "capget", "clone", "clone3", "execveat", "fork", "getrusage", "kill", "pidfd_open",
        "pidfd_send_signal", "prctl", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "setns", "tgkill",
        "times", "tkill", "unshare", "vfork", "wait4", "waitid",
    ],
    "@raw-io": "Raw I/O port access" => ["ioperm", "iopl"],
    "@reboot": "Rebooting and loading a new kernel" => ["kexec_file_load", "kexec_load", "reboot"],
    "@resources": "Changing resource limits, scheduling and memory placement" => [
        "ioprio_set", "mbind", "migrate_pages", "move_pages", "sched_setaffinity",
        "sched_setattr", "sched_setparam", "sched_setscheduler", "set_mempolicy",
        "set_mempolicy_home_node", "setpriority", "setrlimit",
    ],
    "@sandbox": "Self-sandboxing (Landlock, seccomp)" => [
        "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "seccomp",
    ],
    "@setuid": "Changing user and group ids" => [
        "setgid", "setgroups", "setregid", "setresgid", "setresuid", "setreuid", "setuid",
    ],
    "@signal": "Signal handling" => [
        "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigsuspend", "rt_sigtimedwait",
        "sigaltstack", "signalfd", "signalfd4",
    ],
    "@swap": "Enabling and disabling swap" => ["swapoff", "swapon"],
    "@sync": "Flushing files to storage" => [
        "fdatasync", "fsync", "msync", "sync", "sync_file_range", "syncfs",
    ],
    "@timer": "Timers and alarms" => [
        "alarm", "getitimer", "setitimer", "timer_create", "timer_delete", "timer_getoverrun",
        "timer_gettime", "timer_settime", "timerfd_create", "timerfd_gettime", "timerfd_settime",
        "times",
    ],
    // sbx's base allow-list for the `untrusted` policy.
    "@baseline": "sbx's allow-list for untrusted code: what shells, interpreters and compilers \
                  need (@default, file and socket I/O, processes, threads, signals, timers, \
                  SysV IPC, self-sandboxing). Left out: @debug (ptrace, perf), @mount, \
                  @module, @reboot, @swap, @clock, @keyring, @raw-io, @obsolete, \
                  @cpu-emulation, @io-uring, @bpf, @file-handle, setns, userfaultfd, \
                  process_vm_readv/writev, kcmp, personality, syslog, fanotify, quotactl, \
                  acct, chroot, memfd_secret and the NUMA and scheduler setters" => [
        "@default", "@basic-io", "@chown", "@file-system", "@io-event", "@memlock",
        "@network-io", "@pkey", "@sandbox", "@setuid", "@signal", "@sync", "@timer",
        // @aio without io_uring.
        "io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "io_setup", "io_submit",
        // @ipc without the cross-process calls (process_vm_*, process_madvise).
        "memfd_create", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
        "mq_timedsend", "mq_unlink", "msgctl", "msgget", "msgrcv", "msgsnd", "pipe", "pipe2",
        "semctl", "semget", "semop", "semtimedop", "shmat", "shmctl", "shmdt", "shmget",
        // @process without setns (clone, clone3 and unshare get argument rules on top).
        "capget", "clone", "clone3", "execveat", "fork", "getrusage", "kill", "pidfd_open",
        "pidfd_send_signal", "prctl", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "tgkill",
        "times", "tkill", "unshare", "vfork", "wait4", "waitid",
        // Miscellaneous calls of ordinary programs (most from systemd's @system-service).
        "cachestat", "capset", "copy_file_range", "fadvise64", "flock", "get_mempolicy",
        "getcpu", "getpriority", "ioctl", "ioprio_get", "madvise", "mincore", "mremap",
        "readahead", "sched_get_priority_max", "sched_get_priority_min", "sched_getattr",
        "sched_getparam", "sched_getscheduler", "sched_rr_get_interval", "sched_setaffinity",
        "sendfile", "setfsgid", "setfsuid", "setpgid", "setpriority", "setsid", "splice",
        "sysinfo", "tee", "umask", "uname", "vmsplice",
    ],
}

/// The group called `name` (with its `@`).
pub fn find(name: &str) -> Option<&'static Group> {
    GROUPS.iter().find(|g| g.name == name)
}

#[cfg(test)]
mod tests {
    use super::super::table;
    use super::*;

    #[test]
    fn every_member_is_a_known_syscall_or_group() {
        for g in GROUPS {
            assert!(g.name.starts_with('@'), "{}", g.name);
            for m in g.members {
                if let Some(sub) = m.strip_prefix('@') {
                    assert!(find(m).is_some(), "{}: unknown group @{sub}", g.name);
                    assert_ne!(*m, g.name, "{} includes itself", g.name);
                } else {
                    assert!(table::is_known(m), "{}: unknown syscall {m}", g.name);
                }
            }
        }
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = GROUPS.iter().map(|g| g.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), GROUPS.len());
    }

    #[test]
    fn groups_do_not_nest_in_cycles() {
        fn depth(g: &Group, level: usize) -> usize {
            assert!(level < 8, "group cycle through {}", g.name);
            g.members
                .iter()
                .filter_map(|m| find(m))
                .map(|sub| depth(sub, level + 1))
                .max()
                .unwrap_or(level)
        }
        for g in GROUPS {
            depth(g, 0);
        }
    }
}
