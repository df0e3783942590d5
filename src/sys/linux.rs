//! The only module of sbx that contains `unsafe` code: thin wrappers over the raw system calls
//! that neither `nix` nor the other dependencies expose safely. Each wrapper does one syscall,
//! maps its failure to an [`Errno`] and nothing else; policy lives with the callers.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::unistd::Pid;

/// The outcome of [`fork`], seen from each side.
pub enum Fork {
    Parent(Pid),
    Child,
}

/// fork(2). sbx never starts a thread, so the child may allocate and run ordinary code.
pub fn fork() -> Result<Fork, Errno> {
    // SAFETY: sbx is single-threaded (it never spawns threads), so the child is a full copy of a
    // consistent process and may run arbitrary code, including the allocator.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(Errno::last()),
        0 => Ok(Fork::Child),
        pid => Ok(Fork::Parent(Pid::from_raw(pid))),
    }
}

/// unshare(2) with raw `CLONE_*` flags (the time namespace flag is not in every wrapper).
pub fn unshare(flags: libc::c_int) -> Result<(), Errno> {
    // SAFETY: unshare takes an integer and touches no memory of ours.
    Errno::result(unsafe { libc::unshare(flags) }).map(drop)
}

/// pidfd_open(2): a CLOEXEC fd that becomes readable when `pid` exits.
pub fn pidfd_open(pid: Pid) -> Result<OwnedFd, Errno> {
    // SAFETY: plain syscall with integer arguments; the result is a new fd we then own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// pidfd_send_signal(2): signal the process behind a pidfd (immune to pid reuse).
pub fn pidfd_send_signal(pidfd: &OwnedFd, sig: libc::c_int) -> Result<(), Errno> {
    // SAFETY: integer arguments and a null siginfo pointer, which the syscall accepts.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    Errno::result(r).map(drop)
}

/// prctl(2) with integer arguments only.
fn prctl(option: libc::c_int, arg2: libc::c_ulong) -> Result<libc::c_int, Errno> {
    // SAFETY: every option used through this helper takes integer arguments only.
    Errno::result(unsafe {
        libc::prctl(
            option,
            arg2,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    })
}

pub fn set_pdeathsig(sig: libc::c_int) -> Result<(), Errno> {
    prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong).map(drop)
}

pub fn set_dumpable(on: bool) -> Result<(), Errno> {
    prctl(libc::PR_SET_DUMPABLE, on as libc::c_ulong).map(drop)
}

pub fn set_no_new_privs() -> Result<(), Errno> {
    // PR_SET_NO_NEW_PRIVS requires arg2 = 1 and the rest zero.
    prctl(libc::PR_SET_NO_NEW_PRIVS, 1).map(drop)
}

pub fn set_child_subreaper() -> Result<(), Errno> {
    prctl(libc::PR_SET_CHILD_SUBREAPER, 1).map(drop)
}

/// Whether a capability is in the bounding set. EINVAL means the kernel has no such capability.
pub fn capbset_read(cap: u32) -> Result<bool, Errno> {
    prctl(libc::PR_CAPBSET_READ, cap as libc::c_ulong).map(|r| r == 1)
}

/// Drops one capability from the bounding set. EINVAL means the kernel has no such capability.
pub fn capbset_drop(cap: u32) -> Result<(), Errno> {
    prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong).map(drop)
}

/// Clears the ambient capability set.
pub fn cap_ambient_clear_all() -> Result<(), Errno> {
    // SAFETY: integer-only prctl option.
    let r = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    Errno::result(r).map(drop)
}

/// Raises one capability in the ambient set (it must already be permitted and inheritable).
pub fn cap_ambient_raise(cap: u32) -> Result<(), Errno> {
    // SAFETY: integer-only prctl option.
    let r = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
            cap as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    Errno::result(r).map(drop)
}

/// capset(2) for the calling thread, version 3 (64-bit sets).
pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> Result<(), Errno> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let data = [
        Data {
            effective: effective as u32,
            permitted: permitted as u32,
            inheritable: inheritable as u32,
        },
        Data {
            effective: (effective >> 32) as u32,
            permitted: (permitted >> 32) as u32,
            inheritable: (inheritable >> 32) as u32,
        },
    ];
    // SAFETY: header and data match the kernel's version-3 layout and outlive the call.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) };
    Errno::result(r).map(drop)
}

/// close_range(2) over `[first, u32::MAX]`; with `cloexec` the fds are only marked CLOEXEC.
pub fn close_range_from(first: u32, cloexec: bool) -> Result<(), Errno> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    let flags = if cloexec { CLOSE_RANGE_CLOEXEC } else { 0 };
    // SAFETY: integer arguments; closing fds we no longer reference is the intent, and callers
    // only call this when no live Rust object owns an fd in the range (or with CLOEXEC).
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, flags) };
    Errno::result(r).map(drop)
}

/// close_range(2) over `[first, last]`.
pub fn close_range(first: u32, last: u32) -> Result<(), Errno> {
    // SAFETY: as for close_range_from.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) };
    Errno::result(r).map(drop)
}

/// Whether `fd` is an open file descriptor of this process.
pub fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor flags of an integer fd.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

/// Brings the loopback interface of the current network namespace up (SIOCSIFFLAGS).
pub fn loopback_up() -> Result<(), Errno> {
    // SAFETY: socket(2) with integer arguments; we own the returned fd.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the fd was just created and is owned by nobody else.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the name and writes the flags of a valid ifreq we own.
    Errno::result(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) })?;
    // SAFETY: the kernel filled ifru_flags, the union member SIOCGIFFLAGS writes.
    unsafe { req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads a valid ifreq we own.
    Errno::result(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) }).map(drop)
}

/// execve(2). Returns only on failure.
pub fn execve(path: &CStr, argv: &[CString], envp: &[CString]) -> Errno {
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut envp_ptrs: Vec<*const libc::c_char> = envp.iter().map(|e| e.as_ptr()).collect();
    envp_ptrs.push(std::ptr::null());
    // SAFETY: path, argv and envp are NUL-terminated strings that outlive the call, and both
    // pointer arrays end with a null pointer as execve requires.
    unsafe { libc::execve(path.as_ptr(), argv_ptrs.as_ptr(), envp_ptrs.as_ptr()) };
    Errno::last()
}

/// _exit(2): leaves without running destructors or atexit handlers (used in forked children).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit is always safe to call; it does not return.
    unsafe { libc::_exit(code) }
}

/// Restores the default disposition of every catchable signal (before exec).
pub fn reset_signal_dispositions() {
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: installing SIG_DFL is always sound; failures (invalid numbers) are ignored.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

/// Writes all of `buf` to a raw fd that the caller does not own (e.g. --json-status-fd).
pub fn write_all_raw(fd: RawFd, mut buf: &[u8]) -> Result<(), Errno> {
    while !buf.is_empty() {
        // SAFETY: buf is a valid readable slice for its length; fd is an integer.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            if Errno::last() == Errno::EINTR {
                continue;
            }
            return Err(Errno::last());
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The new mount API (open_tree, move_mount, fsopen, fsconfig, fsmount, mount_setattr) and
// openat2: every mount sbx makes is attached through file descriptors, so no path is resolved
// twice and a swapped symlink cannot redirect a mount.

pub const OPEN_TREE_CLONE: u32 = 1;
pub const OPEN_TREE_CLOEXEC: u32 = libc::O_CLOEXEC as u32;
pub const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x04;
pub const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;
pub const FSMOUNT_CLOEXEC: u32 = 1;
pub const MOUNT_ATTR_RDONLY: u64 = 0x01;
pub const MOUNT_ATTR_NOSUID: u64 = 0x02;
pub const MOUNT_ATTR_NODEV: u64 = 0x04;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x08;
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_BENEATH: u64 = 0x08;
pub const RESOLVE_IN_ROOT: u64 = 0x10;
const FSCONFIG_SET_FLAG: u32 = 0;
const FSCONFIG_SET_STRING: u32 = 1;
const FSCONFIG_CMD_CREATE: u32 = 6;

fn owned_fd(ret: libc::c_long) -> Result<OwnedFd, Errno> {
    if ret < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just returned this new fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
}

/// open_tree(2).
pub fn open_tree(dirfd: RawFd, path: &CStr, flags: u32) -> Result<OwnedFd, Errno> {
    // SAFETY: path is NUL-terminated and outlives the call; other arguments are integers.
    owned_fd(unsafe { libc::syscall(libc::SYS_open_tree, dirfd, path.as_ptr(), flags) })
}

/// move_mount(2).
pub fn move_mount(
    from_dirfd: RawFd,
    from_path: &CStr,
    to_dirfd: RawFd,
    to_path: &CStr,
    flags: u32,
) -> Result<(), Errno> {
    // SAFETY: both paths are NUL-terminated and outlive the call; the rest are integers.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from_dirfd,
            from_path.as_ptr(),
            to_dirfd,
            to_path.as_ptr(),
            flags,
        )
    };
    Errno::result(r).map(drop)
}

/// fsopen(2).
pub fn fsopen(fstype: &CStr) -> Result<OwnedFd, Errno> {
    const FSOPEN_CLOEXEC: u32 = 1;
    // SAFETY: fstype is NUL-terminated and outlives the call.
    owned_fd(unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) })
}

/// fsconfig(FSCONFIG_SET_STRING).
pub fn fsconfig_string(fs: &OwnedFd, key: &CStr, value: &CStr) -> Result<(), Errno> {
    // SAFETY: key and value are NUL-terminated and outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_SET_STRING,
            key.as_ptr(),
            value.as_ptr(),
            0,
        )
    };
    Errno::result(r).map(drop)
}

/// fsconfig(FSCONFIG_SET_FLAG).
pub fn fsconfig_flag(fs: &OwnedFd, key: &CStr) -> Result<(), Errno> {
    // SAFETY: key is NUL-terminated and outlives the call; value must be NULL for a flag.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_SET_FLAG,
            key.as_ptr(),
            std::ptr::null::<libc::c_char>(),
            0,
        )
    };
    Errno::result(r).map(drop)
}

/// fsconfig(FSCONFIG_CMD_CREATE) then fsmount(2): a detached mount of the configured filesystem.
pub fn fsmount(fs: &OwnedFd, attr: u64) -> Result<OwnedFd, Errno> {
    // SAFETY: a command without key or value takes NULL pointers.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_char>(),
            0,
        )
    };
    Errno::result(r)?;
    // SAFETY: integer arguments only.
    owned_fd(unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, attr) })
}

/// mount_setattr(2) on the mount `fd` refers to (AT_EMPTY_PATH), optionally recursively.
pub fn mount_setattr(
    fd: RawFd,
    recursive: bool,
    set: u64,
    clear: u64,
    propagation: u64,
) -> Result<(), Errno> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation,
        userns_fd: 0,
    };
    let flags = libc::AT_EMPTY_PATH | if recursive { libc::AT_RECURSIVE } else { 0 };
    // SAFETY: attr matches struct mount_attr (version 0, 32 bytes) and outlives the call; the
    // path is the empty C string.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd,
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(r).map(drop)
}

/// openat2(2).
pub fn openat2(
    dirfd: RawFd,
    path: &CStr,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> Result<OwnedFd, Errno> {
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: mode as u64,
        resolve,
    };
    // SAFETY: path is NUL-terminated; how matches struct open_how and outlives the call.
    owned_fd(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    })
}

/// fstat(2) of an fd (O_PATH fds included): the file type bits of st_mode.
pub fn fd_mode(fd: RawFd) -> Result<u32, Errno> {
    // SAFETY: stat is plain old data and all-zero is valid; fstat fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is a valid, writable stat buffer.
    Errno::result(unsafe { libc::fstat(fd, &mut st) })?;
    Ok(st.st_mode)
}
// Namespace file descriptors (ioctl_ns(2)), for `sbx nsenter` and `sbx ns`.

/// ioctl(NS_GET_USERNS): the user namespace that owns the namespace `fd` refers to (for a user
/// namespace, its parent). EPERM when that namespace is outside the caller's.
pub fn ns_get_userns(fd: RawFd) -> Result<OwnedFd, Errno> {
    const NS_GET_USERNS: libc::c_ulong = 0xb701;
    // SAFETY: this ioctl takes no argument; it returns a new (CLOEXEC) fd that we then own.
    owned_fd(unsafe { libc::ioctl(fd, NS_GET_USERNS as _) } as libc::c_long)
}

/// ioctl(NS_GET_PARENT): the parent of a user or PID namespace. EPERM at the top (or when the
/// parent is outside the caller's user namespace).
pub fn ns_get_parent(fd: RawFd) -> Result<OwnedFd, Errno> {
    const NS_GET_PARENT: libc::c_ulong = 0xb702;
    // SAFETY: as for ns_get_userns.
    owned_fd(unsafe { libc::ioctl(fd, NS_GET_PARENT as _) } as libc::c_long)
}

/// pidfd_getfd(2): a (CLOEXEC) duplicate of the fd `targetfd` of the process behind `pidfd`.
pub fn pidfd_getfd(pidfd: RawFd, targetfd: RawFd) -> Result<OwnedFd, Errno> {
    // SAFETY: integer arguments only; the result is a new fd that we then own.
    owned_fd(unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd, targetfd, 0) })
}

/// ioctl(SIOCGSKNS): the network namespace of the socket `fd` (a new CLOEXEC fd).
pub fn socket_netns(fd: RawFd) -> Result<OwnedFd, Errno> {
    const SIOCGSKNS: libc::c_ulong = 0x894c;
    // SAFETY: this ioctl takes no argument; it returns a new fd that we then own.
    owned_fd(unsafe { libc::ioctl(fd, SIOCGSKNS as _) } as libc::c_long)
}

/// Restores SIGPIPE's default action, which Rust's runtime sets to "ignore" at start-up; an
/// ignored signal would stay ignored across execve in the programs sbx runs.
pub fn restore_sigpipe() {
    // SAFETY: installing SIG_DFL for SIGPIPE is always sound.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

/// Makes the process that `cmd` spawns receive SIGKILL when this process exits
/// (PR_SET_PDEATHSIG, set in the child before exec), so a helper such as pasta cannot outlive a
/// `kill -KILL` of sbx. The child checks that its parent is still this process after the
/// prctl, so a parent that died in between is noticed (the spawn then fails with ESRCH).
/// sbx is single-threaded, so the thread that spawns is the whole process.
pub fn kill_with_this_process(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe calls are allowed: it calls prctl and getppid, and builds io::Errors
    // from raw OS errors, which does not allocate.
    unsafe {
        cmd.pre_exec(move || {
            let r = libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            );
            if r != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}
