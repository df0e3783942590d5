//! Syscall names and numbers. The numbers come from `libc::SYS_*` for the architecture sbx is
//! built for; the few syscalls that some libc flavour (glibc or musl) lacks, or that are newer
//! than the libc crate, are given as literals (the numbers from 424 on are the same on every
//! architecture). Names known only on the other supported architecture are kept too, so that a
//! policy written for both (say `allow = ["open"]`, which aarch64 lacks) compiles everywhere.

/// `"SYS_read"` -> `"read"`, at compile time.
const fn strip_sys(name: &'static str) -> &'static str {
    let (_, rest) = name.as_bytes().split_at(4);
    match std::str::from_utf8(rest) {
        Ok(s) => s,
        Err(_) => panic!("syscall names are ASCII"),
    }
}

macro_rules! syscall_table {
    (
        libc_both: [$($b:ident),* $(,)?],
        libc_x86_64: [$($x:ident),* $(,)?],
        literal_both: [$($lb:ident = $lbn:literal),* $(,)?],
        literal_x86_64: [$($lx:ident = $lxn:literal),* $(,)?],
        literal_aarch64: [$($la:ident = $lan:literal),* $(,)?],
    ) => {
        /// `(name, number)` for every syscall of the architecture sbx is built for.
        #[cfg(target_arch = "x86_64")]
        pub(super) static NATIVE: &[(&str, u32)] = &[
            $((strip_sys(stringify!($b)), libc::$b as u32),)*
            $((strip_sys(stringify!($x)), libc::$x as u32),)*
            $((stringify!($lb), $lbn),)*
            $((stringify!($lx), $lxn),)*
        ];
        /// `(name, number)` for every syscall of the architecture sbx is built for.
        #[cfg(target_arch = "aarch64")]
        pub(super) static NATIVE: &[(&str, u32)] = &[
            $((strip_sys(stringify!($b)), libc::$b as u32),)*
            $((stringify!($lb), $lbn),)*
            $((stringify!($la), $lan),)*
        ];
        /// No syscall table: seccomp filters are only compiled for x86_64 and aarch64.
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        pub(super) static NATIVE: &[(&str, u32)] = &[];

        /// Every syscall name of x86_64 and aarch64 (a name may appear twice).
        pub(super) static ALL_NAMES: &[&str] = &[
            $(strip_sys(stringify!($b)),)*
            $(strip_sys(stringify!($x)),)*
            $(stringify!($lb),)*
            $(stringify!($lx),)*
            $(stringify!($la),)*
        ];
    };
}

syscall_table! {
    // In libc (glibc and musl flavours) for both x86_64 and aarch64.
    libc_both: [
        SYS_accept, SYS_accept4, SYS_acct, SYS_add_key, SYS_adjtimex, SYS_bind, SYS_bpf, SYS_brk,
        SYS_capget, SYS_capset, SYS_chdir, SYS_chroot, SYS_clock_adjtime, SYS_clock_getres,
        SYS_clock_gettime, SYS_clock_nanosleep, SYS_clock_settime, SYS_clone, SYS_clone3,
        SYS_close, SYS_close_range, SYS_connect, SYS_copy_file_range, SYS_delete_module, SYS_dup,
        SYS_dup3, SYS_epoll_create1, SYS_epoll_ctl, SYS_epoll_pwait, SYS_epoll_pwait2,
        SYS_eventfd2, SYS_execve, SYS_execveat, SYS_exit, SYS_exit_group, SYS_faccessat,
        SYS_faccessat2, SYS_fadvise64, SYS_fallocate, SYS_fanotify_init, SYS_fanotify_mark,
        SYS_fchdir, SYS_fchmod, SYS_fchmodat, SYS_fchown, SYS_fchownat, SYS_fcntl, SYS_fdatasync,
        SYS_fgetxattr, SYS_finit_module, SYS_flistxattr, SYS_flock, SYS_fremovexattr, SYS_fsconfig,
        SYS_fsetxattr, SYS_fsmount, SYS_fsopen, SYS_fspick, SYS_fstat, SYS_fstatfs, SYS_fsync,
        SYS_ftruncate, SYS_futex, SYS_futex_waitv, SYS_get_mempolicy, SYS_get_robust_list,
        SYS_getcpu, SYS_getcwd, SYS_getdents64, SYS_getegid, SYS_geteuid, SYS_getgid,
        SYS_getgroups, SYS_getitimer, SYS_getpeername, SYS_getpgid, SYS_getpid, SYS_getppid,
        SYS_getpriority, SYS_getrandom, SYS_getresgid, SYS_getresuid, SYS_getrusage, SYS_getsid,
        SYS_getsockname, SYS_getsockopt, SYS_gettid, SYS_gettimeofday, SYS_getuid, SYS_getxattr,
        SYS_init_module, SYS_inotify_add_watch, SYS_inotify_init1, SYS_inotify_rm_watch,
        SYS_io_cancel, SYS_io_destroy, SYS_io_getevents, SYS_io_setup, SYS_io_submit,
        SYS_io_uring_enter, SYS_io_uring_register, SYS_io_uring_setup, SYS_ioctl, SYS_ioprio_get,
        SYS_ioprio_set, SYS_kcmp, SYS_kexec_load, SYS_keyctl, SYS_kill, SYS_landlock_add_rule,
        SYS_landlock_create_ruleset, SYS_landlock_restrict_self, SYS_lgetxattr, SYS_linkat,
        SYS_listen, SYS_listxattr, SYS_llistxattr, SYS_lookup_dcookie, SYS_lremovexattr, SYS_lseek,
        SYS_lsetxattr, SYS_madvise, SYS_mbind, SYS_membarrier, SYS_memfd_create, SYS_memfd_secret,
        SYS_migrate_pages, SYS_mincore, SYS_mkdirat, SYS_mknodat, SYS_mlock, SYS_mlock2,
        SYS_mlockall, SYS_mmap, SYS_mount, SYS_mount_setattr, SYS_move_mount, SYS_move_pages,
        SYS_mprotect, SYS_mq_getsetattr, SYS_mq_notify, SYS_mq_open, SYS_mq_timedreceive,
        SYS_mq_timedsend, SYS_mq_unlink, SYS_mremap, SYS_mseal, SYS_msgctl, SYS_msgget, SYS_msgrcv,
        SYS_msgsnd, SYS_msync, SYS_munlock, SYS_munlockall, SYS_munmap, SYS_name_to_handle_at,
        SYS_nanosleep, SYS_newfstatat, SYS_nfsservctl, SYS_open_by_handle_at, SYS_open_tree,
        SYS_openat, SYS_openat2, SYS_perf_event_open, SYS_personality, SYS_pidfd_getfd,
        SYS_pidfd_open, SYS_pidfd_send_signal, SYS_pipe2, SYS_pivot_root, SYS_pkey_alloc,
        SYS_pkey_free, SYS_pkey_mprotect, SYS_ppoll, SYS_prctl, SYS_pread64, SYS_preadv,
        SYS_preadv2, SYS_prlimit64, SYS_process_madvise, SYS_process_mrelease,
        SYS_process_vm_readv, SYS_process_vm_writev, SYS_pselect6, SYS_ptrace, SYS_pwrite64,
        SYS_pwritev, SYS_pwritev2, SYS_quotactl, SYS_quotactl_fd, SYS_read, SYS_readahead,
        SYS_readlinkat, SYS_readv, SYS_reboot, SYS_recvfrom, SYS_recvmmsg, SYS_recvmsg,
        SYS_remap_file_pages, SYS_removexattr, SYS_renameat2, SYS_request_key, SYS_restart_syscall,
        SYS_rseq, SYS_rt_sigaction, SYS_rt_sigpending, SYS_rt_sigprocmask, SYS_rt_sigqueueinfo,
        SYS_rt_sigreturn, SYS_rt_sigsuspend, SYS_rt_sigtimedwait, SYS_rt_tgsigqueueinfo,
        SYS_sched_get_priority_max, SYS_sched_get_priority_min, SYS_sched_getaffinity,
        SYS_sched_getattr, SYS_sched_getparam, SYS_sched_getscheduler, SYS_sched_rr_get_interval,
        SYS_sched_setaffinity, SYS_sched_setattr, SYS_sched_setparam, SYS_sched_setscheduler,
        SYS_sched_yield, SYS_seccomp, SYS_semctl, SYS_semget, SYS_semop, SYS_semtimedop,
        SYS_sendfile, SYS_sendmmsg, SYS_sendmsg, SYS_sendto, SYS_set_mempolicy,
        SYS_set_mempolicy_home_node, SYS_set_robust_list, SYS_set_tid_address, SYS_setdomainname,
        SYS_setfsgid, SYS_setfsuid, SYS_setgid, SYS_setgroups, SYS_sethostname, SYS_setitimer,
        SYS_setns, SYS_setpgid, SYS_setpriority, SYS_setregid, SYS_setresgid, SYS_setresuid,
        SYS_setreuid, SYS_setsid, SYS_setsockopt, SYS_settimeofday, SYS_setuid, SYS_setxattr,
        SYS_shmat, SYS_shmctl, SYS_shmdt, SYS_shmget, SYS_shutdown, SYS_sigaltstack, SYS_signalfd4,
        SYS_socket, SYS_socketpair, SYS_splice, SYS_statfs, SYS_statx, SYS_swapoff, SYS_swapon,
        SYS_symlinkat, SYS_sync, SYS_syncfs, SYS_sysinfo, SYS_syslog, SYS_tee, SYS_tgkill,
        SYS_timer_create, SYS_timer_delete, SYS_timer_getoverrun, SYS_timer_gettime,
        SYS_timer_settime, SYS_timerfd_create, SYS_timerfd_gettime, SYS_timerfd_settime, SYS_times,
        SYS_tkill, SYS_truncate, SYS_umask, SYS_umount2, SYS_uname, SYS_unlinkat, SYS_unshare,
        SYS_userfaultfd, SYS_utimensat, SYS_vhangup, SYS_vmsplice, SYS_wait4, SYS_waitid,
        SYS_write, SYS_writev    ],
    // In libc for x86_64 only (aarch64 has no such syscall: it only has the *at variants etc.).
    libc_x86_64: [
        SYS__sysctl, SYS_access, SYS_afs_syscall, SYS_alarm, SYS_arch_prctl, SYS_chmod, SYS_chown,
        SYS_creat, SYS_dup2, SYS_epoll_create, SYS_epoll_ctl_old, SYS_epoll_wait,
        SYS_epoll_wait_old, SYS_eventfd, SYS_fchmodat2, SYS_fork, SYS_futimesat,
        SYS_get_thread_area, SYS_getdents, SYS_getpgrp, SYS_getpmsg, SYS_getrlimit,
        SYS_inotify_init, SYS_ioperm, SYS_iopl, SYS_kexec_file_load, SYS_lchown, SYS_link,
        SYS_lstat, SYS_mkdir, SYS_mknod, SYS_modify_ldt, SYS_open, SYS_pause, SYS_pipe, SYS_poll,
        SYS_putpmsg, SYS_readlink, SYS_rename, SYS_renameat, SYS_rmdir, SYS_security, SYS_select,
        SYS_set_thread_area, SYS_setrlimit, SYS_signalfd, SYS_stat, SYS_symlink,
        SYS_sync_file_range, SYS_sysfs, SYS_time, SYS_tuxcall, SYS_unlink, SYS_uselib, SYS_ustat,
        SYS_utime, SYS_utimes, SYS_vfork, SYS_vserver    ],
    // Newer than the libc crate; the numbers from 424 on are shared by all architectures.
    literal_both: [
        cachestat = 451, map_shadow_stack = 453, futex_wake = 454, futex_wait = 455,
        futex_requeue = 456, statmount = 457, listmount = 458, lsm_get_self_attr = 459,
        lsm_set_self_attr = 460, lsm_list_modules = 461, setxattrat = 463, getxattrat = 464,
        listxattrat = 465, removexattrat = 466, open_tree_attr = 467, file_getattr = 468,
        file_setattr = 469,
    ],
    // Missing from glibc's libc module (io_pgetevents) or newer than libc (uretprobe).
    literal_x86_64: [io_pgetevents = 333, uretprobe = 335],
    // Missing from one of the glibc or musl modules of libc for aarch64.
    literal_aarch64: [
        renameat = 38, sync_file_range = 84, getrlimit = 163, setrlimit = 164,
        io_pgetevents = 292, kexec_file_load = 294, fchmodat2 = 452,
    ],
}

/// FNV-1a, usable at compile time.
const fn hash(name: &[u8]) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    let mut i = 0;
    while i < name.len() {
        h = (h ^ name[i] as u32).wrapping_mul(0x0100_0193);
        i += 1;
    }
    h as usize
}

/// Slots of the name index: a power of two, over twice the number of syscalls.
const SLOTS: usize = 1024;

/// An open-addressing hash index of [`NATIVE`] by name, built at compile time: slot `h` holds
/// 1 + the position of a name in `NATIVE`, or 0. No index is built at run time.
static INDEX: [u16; SLOTS] = {
    assert!(NATIVE.len() * 2 < SLOTS);
    let mut slots = [0u16; SLOTS];
    let mut i = 0;
    while i < NATIVE.len() {
        let mut h = hash(NATIVE[i].0.as_bytes()) % SLOTS;
        while slots[h] != 0 {
            h = (h + 1) % SLOTS;
        }
        slots[h] = (i + 1) as u16;
        i += 1;
    }
    slots
};

/// The number of syscall `name` on the architecture sbx is built for.
pub fn number(name: &str) -> Option<u32> {
    let mut h = hash(name.as_bytes()) % SLOTS;
    loop {
        let (entry, nr) = *NATIVE.get(usize::from(INDEX[h]).checked_sub(1)?)?;
        if entry == name {
            return Some(nr);
        }
        h = (h + 1) % SLOTS;
    }
}

/// The name of syscall number `nr` on the architecture sbx is built for.
pub fn name(nr: u32) -> Option<&'static str> {
    NATIVE.iter().find(|(_, n)| *n == nr).map(|(name, _)| *name)
}

/// Whether `name` is a syscall of x86_64 or aarch64 (not necessarily of this build's).
pub fn is_known(name: &str) -> bool {
    number(name).is_some() || ALL_NAMES.contains(&name)
}

/// Every syscall of the architecture sbx is built for, as `(name, number)`.
pub fn native() -> &'static [(&'static str, u32)] {
    NATIVE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_finds_every_name() {
        assert!(NATIVE.iter().all(|(n, nr)| number(n) == Some(*nr)));
        assert_eq!(
            INDEX.iter().filter(|&&slot| slot != 0).count(),
            NATIVE.len()
        );
        assert_eq!(number(""), None);
    }

    #[test]
    fn names_and_numbers_are_unique() {
        let mut names: Vec<_> = NATIVE.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), NATIVE.len(), "a name appears twice");
        let mut nrs: Vec<_> = NATIVE.iter().map(|(_, n)| *n).collect();
        nrs.sort_unstable();
        nrs.dedup();
        assert_eq!(nrs.len(), NATIVE.len(), "a number appears twice");
        // The compiler keeps sets of numbers in 1024-bit sets.
        assert!(nrs.iter().all(|&nr| nr < 1024));
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn x86_64_numbers() {
        assert_eq!(number("read"), Some(0));
        assert_eq!(number("ioctl"), Some(16));
        assert_eq!(number("keyctl"), Some(250));
        assert_eq!(number("clone3"), Some(435));
        assert_eq!(number("io_pgetevents"), Some(333));
        assert_eq!(name(39), Some("getpid"));
        assert!(NATIVE.len() > 370, "{}", NATIVE.len());
    }

    #[cfg(target_arch = "aarch64")]
    #[test]
    fn aarch64_numbers() {
        assert_eq!(number("ioctl"), Some(29));
        assert_eq!(number("clone3"), Some(435));
        assert_eq!(number("getrlimit"), Some(163));
        assert_eq!(number("open"), None);
        assert!(is_known("open"));
    }

    #[test]
    fn unknown_names() {
        assert_eq!(number("no_such_call"), None);
        assert!(!is_known("no_such_call"));
        assert!(is_known("renameat"));
    }
}
