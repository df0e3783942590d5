//! `sbx unshare`: util-linux unshare(1) (2.39+ options and semantics). Only what is asked for is
//! unshared, with none of the sandbox's defaults. Exit status: the program's; 1 for unshare's
//! own failures; 126 when the program cannot be executed, 127 when it is not found; with
//! --fork, a program killed by a signal kills unshare with the same signal.

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;

use clap::Parser;
use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sys::signal::{SigSet, Signal};
use nix::unistd::Pid;

use crate::ns::CLONE_NEWTIME;
use crate::sys::linux::{self, Fork};

const EXIT_FAILURE: i32 = 1;

/// Run a program with some namespaces unshared from the parent.
#[derive(Debug, Parser)]
#[command(
    name = "unshare",
    version,
    disable_help_subcommand = true,
    max_term_width = 100
)]
pub struct Args {
    /// Unshare the mount namespace (with =FILE, persist it by a bind mount on FILE).
    #[arg(short = 'm', long = "mount", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub mount: Option<String>,
    /// Unshare the UTS namespace (hostname etc).
    #[arg(short = 'u', long = "uts", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub uts: Option<String>,
    /// Unshare the System V IPC namespace.
    #[arg(short = 'i', long = "ipc", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub ipc: Option<String>,
    /// Unshare the network namespace.
    #[arg(short = 'n', long = "net", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub net: Option<String>,
    /// Unshare the PID namespace.
    #[arg(short = 'p', long = "pid", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub pid: Option<String>,
    /// Unshare the user namespace.
    #[arg(short = 'U', long = "user", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub user: Option<String>,
    /// Unshare the cgroup namespace.
    #[arg(short = 'C', long = "cgroup", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub cgroup: Option<String>,
    /// Unshare the time namespace.
    #[arg(short = 'T', long = "time", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub time: Option<String>,
    /// Fork before launching the program.
    #[arg(short = 'f', long)]
    pub fork: bool,
    /// When unshare dies, kill the forked child with SIGNAL (default SIGKILL); implies --fork.
    #[arg(long, value_name = "SIGNAL", num_args = 0..=1, require_equals = true, default_missing_value = "KILL")]
    pub kill_child: Option<String>,
    /// Mount proc on DIR (default /proc) first; implies --mount.
    #[arg(long, value_name = "DIR", num_args = 0..=1, require_equals = true, default_missing_value = "/proc")]
    pub mount_proc: Option<String>,
    /// Map the current user to root (implies --user).
    #[arg(short = 'r', long)]
    pub map_root_user: bool,
    /// Map the current user to itself (implies --user).
    #[arg(short = 'c', long)]
    pub map_current_user: bool,
    /// Map the current user to UID (implies --user).
    #[arg(long, value_name = "UID|NAME")]
    pub map_user: Option<String>,
    /// Map the current group to GID (implies --user).
    #[arg(long, value_name = "GID|NAME")]
    pub map_group: Option<String>,
    /// Map users and groups automatically from /etc/subuid and /etc/subgid (implies --user).
    #[arg(long)]
    pub map_auto: bool,
    /// Map the caller's subordinate ids to themselves (implies --user).
    #[arg(long)]
    pub map_subids: bool,
    /// Map INNER:OUTER:COUNT (or OUTER,INNER,COUNT), `auto`, `subids` or `all` user ids.
    #[arg(long, value_name = "MAP", action = clap::ArgAction::Append)]
    pub map_users: Vec<String>,
    /// The same for group ids.
    #[arg(long, value_name = "MAP", action = clap::ArgAction::Append)]
    pub map_groups: Vec<String>,
    /// Mount propagation: slave, shared, private (default) or unchanged.
    #[arg(long, value_name = "SLAVE|SHARED|PRIVATE|UNCHANGED")]
    pub propagation: Option<String>,
    /// Control the setgroups syscall in user namespaces: allow or deny.
    #[arg(long, value_name = "ALLOW|DENY")]
    pub setgroups: Option<String>,
    /// Run the command with its root directory set to DIR.
    #[arg(short = 'R', long, value_name = "DIR")]
    pub root: Option<String>,
    /// Change the working directory to DIR.
    #[arg(short = 'w', long, value_name = "DIR")]
    pub wd: Option<String>,
    /// Set uid in the entered namespace.
    #[arg(short = 'S', long, value_name = "UID")]
    pub setuid: Option<u32>,
    /// Set gid in the entered namespace.
    #[arg(short = 'G', long, value_name = "GID")]
    pub setgid: Option<u32>,
    /// Retain capabilities granted in the user namespace.
    #[arg(long)]
    pub keep_caps: bool,
    /// Set the clock offset of CLOCK_MONOTONIC in the time namespace (seconds).
    #[arg(long, value_name = "OFFSET", allow_hyphen_values = true)]
    pub monotonic: Option<i64>,
    /// Set the clock offset of CLOCK_BOOTTIME in the time namespace (seconds).
    #[arg(long, value_name = "OFFSET", allow_hyphen_values = true)]
    pub boottime: Option<i64>,
    /// Forward SIGINT and SIGTERM to the forked child.
    #[arg(long)]
    pub forward_signals: bool,
    /// The program and its arguments (default: $SHELL, else /bin/sh).
    #[arg(value_name = "PROGRAM", trailing_var_arg = true)]
    pub program: Vec<OsString>,
}

/// One line of a uid or gid map, as util-linux keeps it (inner [`FROM_ZERO`] means "from 0").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub inner: u32,
    pub outer: u32,
    pub count: u32,
}

/// `Range::inner` of a range that `--map-auto` and `--map-users=auto` place from inner id 0
/// (util-linux's -1). An explicit inner id 4294967295 is refused, so it never means this.
pub const FROM_ZERO: u32 = u32::MAX;

/// The highest id a map may reach: the kernel refuses a range whose first id plus count passes
/// 4294967295, which is `(uid_t)-1` and never an id.
pub const LAST_ID: u32 = u32::MAX - 1;

/// Why the kernel (or newuidmap) would refuse a range of `count` ids from `inner` (`None`: from
/// 0) to `outer`; checked before anything is unshared, so nothing wraps later.
pub fn check_range(inner: Option<u32>, outer: u32, count: u32) -> Result<(), String> {
    if count == 0 {
        return Err("the count is 0".into());
    }
    for (side, start) in [("inner", inner.unwrap_or(0)), ("outer", outer)] {
        let end = u64::from(start) + u64::from(count) - 1;
        if end > u64::from(LAST_ID) {
            let ids = if count == 1 {
                format!("{side} id {start} is")
            } else {
                format!("{side} ids {start} to {end} go")
            };
            return Err(format!("{ids} past {LAST_ID}, the highest valid id"));
        }
    }
    Ok(())
}

/// Fails like util-linux: `PROG: message`, exit 1.
struct Fail(String);

type R<T> = Result<T, Fail>;

fn fail<T>(msg: impl Into<String>) -> R<T> {
    Err(Fail(msg.into()))
}

fn errno_msg(what: &str, e: Errno) -> Fail {
    Fail(format!("{what}: {}", e.desc()))
}

/// Entry point: `args` exclude the program name; `argv0` names the tool in messages.
pub fn main(argv0: &str, args: Vec<OsString>) -> i32 {
    let mut full = vec![OsString::from(argv0)];
    full.extend(args);
    let args = match Args::try_parse_from(full) {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_FAILURE } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match run(&args) {
        Ok(code) => code,
        Err(Fail(msg)) => {
            eprintln!("{argv0}: {msg}");
            EXIT_FAILURE
        }
    }
}

struct Persist {
    proc_name: &'static str,
    file: String,
}

fn run(a: &Args) -> R<i32> {
    let mut flags = 0;
    let mut persists = Vec::new();
    // In util-linux's order of binding.
    for (opt, flag, name) in [
        (&a.user, libc::CLONE_NEWUSER, "user"),
        (&a.cgroup, libc::CLONE_NEWCGROUP, "cgroup"),
        (&a.ipc, libc::CLONE_NEWIPC, "ipc"),
        (&a.uts, libc::CLONE_NEWUTS, "uts"),
        (&a.net, libc::CLONE_NEWNET, "net"),
        (&a.pid, libc::CLONE_NEWPID, "pid_for_children"),
        (&a.mount, libc::CLONE_NEWNS, "mnt"),
        (&a.time, CLONE_NEWTIME, "time_for_children"),
    ] {
        if let Some(file) = opt {
            flags |= flag;
            if !file.is_empty() {
                persists.push(Persist {
                    proc_name: name,
                    file: file.clone(),
                });
            }
        }
    }
    let euid = nix::unistd::geteuid().as_raw();
    let egid = nix::unistd::getegid().as_raw();
    let mut map_user: Option<u32> = None;
    let mut map_group: Option<u32> = None;
    if a.map_root_user {
        (map_user, map_group) = (Some(0), Some(0));
    }
    if a.map_current_user {
        (map_user, map_group) = (Some(euid), Some(egid));
    }
    if let Some(u) = &a.map_user {
        map_user = Some(lookup_user(u)?);
    }
    if let Some(g) = &a.map_group {
        map_group = Some(lookup_group(g)?);
    }
    let mut usermap: Vec<Range> = Vec::new();
    let mut groupmap: Vec<Range> = Vec::new();
    for spec in &a.map_users {
        usermap.push(map_spec(spec, IdFile::Uid, euid)?);
    }
    for spec in &a.map_groups {
        groupmap.push(map_spec(spec, IdFile::Gid, euid)?);
    }
    if a.map_auto {
        usermap.push(subid_range(IdFile::Uid, euid, false)?);
        groupmap.push(subid_range(IdFile::Gid, euid, false)?);
    }
    if a.map_subids {
        usermap.push(subid_range(IdFile::Uid, euid, true)?);
        groupmap.push(subid_range(IdFile::Gid, euid, true)?);
    }
    if map_user.is_some() || map_group.is_some() || !usermap.is_empty() || !groupmap.is_empty() {
        flags |= libc::CLONE_NEWUSER;
    }
    let kill_child = match &a.kill_child {
        Some(sig) => Some(parse_signal(sig)?),
        None => None,
    };
    let fork = a.fork || kill_child.is_some();
    if a.mount_proc.is_some() {
        flags |= libc::CLONE_NEWNS;
    }
    let propagation = match a
        .propagation
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("private") => Some(MsFlags::MS_REC | MsFlags::MS_PRIVATE),
        Some("slave") => Some(MsFlags::MS_REC | MsFlags::MS_SLAVE),
        Some("shared") => Some(MsFlags::MS_REC | MsFlags::MS_SHARED),
        Some("unchanged") => None,
        Some(other) => return fail(format!("unsupported propagation mode: {other}")),
    };
    let setgroups = match a.setgroups.as_deref() {
        None => None,
        Some("allow") => Some("allow"),
        Some("deny") => Some("deny"),
        Some(other) => return fail(format!("unsupported --setgroups argument '{other}'")),
    };
    if (a.monotonic.is_some() || a.boottime.is_some()) && flags & CLONE_NEWTIME == 0 {
        return fail(
            "options --monotonic and --boottime require unsharing of a time namespace (-T)",
        );
    }
    // Persisting a namespace binds its file from the original mount namespace: a helper forked
    // now does it once the namespaces exist.
    let binder = if !persists.is_empty() && flags & libc::CLONE_NEWNS != 0 {
        Some(bind_ns_files_from_child(&persists)?)
    } else {
        None
    };
    // As util-linux: the single mappings are cut out of the ranges before anything is unshared.
    let users = single_into_ranges(&usermap, euid, map_user, "uid")?;
    let groups = single_into_ranges(&groupmap, egid, map_group, "gid")?;
    let mapper = if users.is_some() || groups.is_some() {
        Some(map_ids_from_child(users, groups)?)
    } else {
        None
    };

    linux::unshare(flags).map_err(|e| errno_msg("unshare failed", e))?;
    if let Some(m) = mapper {
        m.release()?;
    }
    if let Some(off) = a.boottime {
        set_time_offset(libc::CLOCK_BOOTTIME, off)?;
    }
    if let Some(off) = a.monotonic {
        set_time_offset(libc::CLOCK_MONOTONIC, off)?;
    }

    let mut child: Option<Pid> = None;
    let mut parent_pidfd: Option<OwnedFd> = None;
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGINT);
    mask.add(Signal::SIGTERM);
    if fork {
        mask.thread_block()
            .map_err(|e| errno_msg("sigprocmask block failed", e))?;
        if kill_child.is_some() {
            parent_pidfd = Some(
                linux::pidfd_open(Pid::this()).map_err(|e| errno_msg("pidfd_open failed", e))?,
            );
        }
        match linux::fork().map_err(|e| errno_msg("fork failed", e))? {
            Fork::Child => {
                mask.thread_unblock()
                    .map_err(|e| errno_msg("sigprocmask restore failed", e))?;
            }
            Fork::Parent(pid) => child = Some(pid),
        }
    }

    if !persists.is_empty() && (child.is_some() || !fork) {
        match binder {
            Some(b) => b.release()?,
            None => bind_ns_files(Pid::this(), &persists)?,
        }
    }

    if let Some(pid) = child {
        return wait_child(pid, a.forward_signals);
    }

    if let Some(sig) = kill_child {
        linux::set_pdeathsig(sig as libc::c_int).map_err(|e| errno_msg("prctl failed", e))?;
        if let Some(fd) = &parent_pidfd {
            let mut fds = [nix::poll::PollFd::new(
                std::os::fd::AsFd::as_fd(fd),
                nix::poll::PollFlags::POLLIN,
            )];
            match nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO) {
                Ok(0) => {}
                Ok(_) => std::process::exit(EXIT_FAILURE),
                Err(e) => return Err(errno_msg("poll parent pidfd failed", e)),
            }
        }
    }

    if let (Some(uid), true) = (
        map_user,
        a.map_users.is_empty() && !a.map_auto && !a.map_subids,
    ) {
        write_file("/proc/self/uid_map", &format!("{uid} {euid} 1"))?;
    }
    if let (Some(gid), true) = (
        map_group,
        a.map_groups.is_empty() && !a.map_auto && !a.map_subids,
    ) {
        if setgroups == Some("allow") {
            return fail("options --setgroups=allow and --map-group are mutually exclusive");
        }
        write_file("/proc/self/setgroups", "deny")?;
        write_file("/proc/self/gid_map", &format!("{gid} {egid} 1"))?;
    }
    if let Some(s) = setgroups {
        write_file("/proc/self/setgroups", s)?;
    }
    if flags & libc::CLONE_NEWNS != 0 {
        if let Some(p) = propagation {
            nix::mount::mount(Some("none"), "/", None::<&str>, p, None::<&str>)
                .map_err(|e| errno_msg("cannot change root filesystem propagation", e))?;
        }
    }
    let mut newdir = a.wd.clone();
    if let Some(root) = &a.root {
        nix::unistd::chroot(root.as_str())
            .map_err(|e| errno_msg(&format!("cannot change root directory to '{root}'"), e))?;
        newdir.get_or_insert_with(|| "/".into());
    }
    if let Some(dir) = &newdir {
        nix::unistd::chdir(dir.as_str())
            .map_err(|e| errno_msg(&format!("cannot chdir to '{dir}'"), e))?;
    }
    if let Some(procmnt) = &a.mount_proc {
        if a.root.is_none() && propagation != Some(MsFlags::MS_REC | MsFlags::MS_PRIVATE) {
            match nix::mount::mount(
                Some("none"),
                procmnt.as_str(),
                None::<&str>,
                MsFlags::MS_PRIVATE | MsFlags::MS_REC,
                None::<&str>,
            ) {
                Ok(()) | Err(Errno::EINVAL) => {}
                Err(e) => {
                    return Err(errno_msg(
                        &format!("cannot change {procmnt} filesystem propagation"),
                        e,
                    ))
                }
            }
        }
        nix::mount::mount(
            Some("proc"),
            procmnt.as_str(),
            Some("proc"),
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV,
            None::<&str>,
        )
        .map_err(|e| errno_msg(&format!("mount {procmnt} failed"), e))?;
    }
    if let Some(gid) = a.setgid {
        nix::unistd::setgroups(&[]).map_err(|e| errno_msg("setgroups failed", e))?;
        nix::unistd::setgid(nix::unistd::Gid::from_raw(gid))
            .map_err(|e| errno_msg("setgid() failed", e))?;
    }
    if let Some(uid) = a.setuid {
        nix::unistd::setuid(nix::unistd::Uid::from_raw(uid))
            .map_err(|e| errno_msg("setuid() failed", e))?;
    }
    if a.keep_caps && flags & libc::CLONE_NEWUSER != 0 {
        permitted_to_ambient()?;
    }
    Ok(exec_program(&a.program))
}

/// Executes the program (or the shell, as a login shell `-sh` like util-linux's exec_shell).
fn exec_program(program: &[OsString]) -> i32 {
    linux::restore_sigpipe();
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend(v.into_vec());
            CString::new(kv).ok()
        })
        .collect();
    let argv: Vec<CString> = if program.is_empty() {
        let shell = std::env::var_os("SHELL").unwrap_or_else(|| "/bin/sh".into());
        let base = std::path::Path::new(&shell)
            .file_name()
            .map(|b| b.to_os_string())
            .unwrap_or_default();
        let mut arg0 = b"-".to_vec();
        arg0.extend(base.into_vec());
        let path = CString::new(shell.into_vec()).unwrap_or_default();
        let err = linux::execve(&path, &[CString::new(arg0).unwrap_or_default()], &env);
        eprintln!(
            "unshare: failed to execute {}: {}",
            path.to_string_lossy(),
            err.desc()
        );
        return if err == Errno::ENOENT { 127 } else { 126 };
    } else {
        program
            .iter()
            .map(|a| CString::new(a.clone().into_vec()).unwrap_or_default())
            .collect()
    };
    let path = crate::exec::path_of(&env).to_vec();
    let err = crate::exec::exec(&argv, &env, &path);
    let name = argv[0].to_string_lossy();
    let code = err.exit_code();
    let why = if code == 127 {
        "No such file or directory".to_string()
    } else {
        err.to_string()
    };
    eprintln!("unshare: failed to execute {name}: {why}");
    code
}

fn write_file(path: &str, text: &str) -> R<()> {
    std::fs::write(path, text).map_err(|e| Fail(format!("write failed {path}: {e}")))
}

fn set_time_offset(clock: libc::clockid_t, offset: i64) -> R<()> {
    std::fs::write("/proc/self/timens_offsets", format!("{clock} {offset} 0"))
        .map_err(|e| Fail(format!("failed to write to /proc/self/timens_offsets: {e}")))
}

fn parse_signal(s: &str) -> R<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| Fail(format!("unknown signal: {s}")));
    }
    let name = s.to_ascii_uppercase();
    let name = if name.starts_with("SIG") {
        name
    } else {
        format!("SIG{name}")
    };
    name.parse::<Signal>()
        .map_err(|_| Fail(format!("unknown signal: {s}")))
}

fn lookup_user(s: &str) -> R<u32> {
    if let Ok(n) = s.parse() {
        return Ok(n);
    }
    uzers::get_user_by_name(s)
        .map(|u| u.uid())
        .ok_or_else(|| Fail(format!("failed to parse uid '{s}'")))
}

fn lookup_group(s: &str) -> R<u32> {
    if let Ok(n) = s.parse() {
        return Ok(n);
    }
    uzers::get_group_by_name(s)
        .map(|g| g.gid())
        .ok_or_else(|| Fail(format!("failed to parse gid '{s}'")))
}

#[derive(Clone, Copy)]
enum IdFile {
    Uid,
    Gid,
}

impl IdFile {
    fn path(self) -> &'static str {
        match self {
            IdFile::Uid => "/etc/subuid",
            IdFile::Gid => "/etc/subgid",
        }
    }
}

/// `--map-users` / `--map-groups` values.
fn map_spec(spec: &str, file: IdFile, euid: u32) -> R<Range> {
    match spec {
        "auto" => subid_range(file, euid, false),
        "subids" => subid_range(file, euid, true),
        "all" => fail("--map-users=all and --map-groups=all are not supported by sbx unshare; give the ranges"),
        _ => {
            let r = parse_map_range(spec).ok_or_else(|| Fail(format!("invalid mapping '{spec}'")))?;
            check_range(Some(r.inner), r.outer, r.count)
                .map_err(|why| Fail(format!("invalid mapping '{spec}': {why}")))?;
            Ok(r)
        }
    }
}

/// `inner:outer:count` or `outer,inner,count`.
pub fn parse_map_range(s: &str) -> Option<Range> {
    let nums = |sep: char| -> Option<Vec<u32>> {
        let v: Vec<&str> = s.split(sep).collect();
        (v.len() == 3).then_some(())?;
        v.iter().map(|n| n.parse::<u32>().ok()).collect()
    };
    if let Some(v) = nums(':') {
        return Some(Range {
            inner: v[0],
            outer: v[1],
            count: v[2],
        });
    }
    nums(',').map(|v| Range {
        outer: v[0],
        inner: v[1],
        count: v[2],
    })
}

/// The first line of the caller's subordinate ids, as util-linux reads it (by name or uid, in
/// file order): mapped to itself (`identity`) or to be placed from 0.
fn subid_range(file: IdFile, euid: u32, identity: bool) -> R<Range> {
    let user = uzers::get_user_by_uid(euid)
        .ok_or_else(|| Fail(format!("you (user {euid}) don't exist.")))?;
    let name = user.name().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(file.path())
        .map_err(|e| Fail(format!("could not open '{}': {e}", file.path())))?;
    parse_subid_range(&text, file.path(), &name, euid, identity)
}

/// [`subid_range`] on the text of `path`: a line whose values the kernel would refuse (a count
/// of 0, a range past [`LAST_ID`]) is an error here, before anything is unshared.
fn parse_subid_range(text: &str, path: &str, name: &str, euid: u32, identity: bool) -> R<Range> {
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(owner), Some(start), Some(count)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if owner != name && owner.parse::<u32>().ok() != Some(euid) {
            continue;
        }
        let (Ok(start), Ok(count)) = (start.trim().parse::<u32>(), count.trim().parse::<u32>())
        else {
            return fail("failed to parse subid map");
        };
        let inner = identity.then_some(start);
        check_range(inner, start, count)
            .map_err(|why| Fail(format!("invalid subid range '{line}' in {path}: {why}")))?;
        return Ok(Range {
            inner: inner.unwrap_or(FROM_ZERO),
            outer: start,
            count,
        });
    }
    fail(format!("no line matching user \"{name}\" in {path}"))
}

/// util-linux's add_single_map_range: put the single mapping `inner <- outer` first and cut it
/// out of the ranges (each range that it overlaps gives up one id, the topmost), splitting a
/// range in up to three pieces around it. A range whose inner is [`FROM_ZERO`] starts at 0.
/// `inner` `None` or 4294967295 (util-linux's -1) is no single mapping. Every step is checked:
/// `None` when a range does not fit (0 ids where the single mapping must take one, a piece
/// past [`LAST_ID`]), which [`check_range`] rules out for the ranges sbx reads.
pub fn add_single_map_range(
    ranges: &[Range],
    outer: u32,
    inner: Option<u32>,
) -> Option<Vec<Range>> {
    let single = inner.filter(|&i| i != u32::MAX);
    let mut out = Vec::new();
    if let Some(inner) = single {
        out.push(Range {
            inner,
            outer,
            count: 1,
        });
    }
    for r in ranges {
        let mut m = *r;
        if m.inner == FROM_ZERO {
            m.inner = 0;
        }
        let Some(inner) = single else {
            // Nothing to cut out: the range as it is (util-linux's split leaves it whole).
            push_piece(&mut out, m)?;
            continue;
        };
        // util-linux's test, end included: `x <= start + count`.
        let within = |x: u32, start: u32| {
            x >= start && u64::from(x) <= u64::from(start) + u64::from(m.count)
        };
        if within(outer, m.outer) || within(inner, m.inner) {
            m.count = m.count.checked_sub(1)?;
        }
        let outer_off = outer.saturating_sub(m.outer).min(m.count);
        let inner_off = inner.saturating_sub(m.inner).min(m.count);
        // The next piece starts `count` after `base`, one further when that is the single id.
        let next = |base: u32, count: u32, single_id: u32| -> Option<u32> {
            let start = base.checked_add(count)?;
            start.checked_add(u32::from(start == single_id))
        };
        let lo = Range {
            outer: m.outer,
            inner: m.inner,
            count: inner_off.min(outer_off),
        };
        let mid = Range {
            outer: next(lo.outer, lo.count, outer)?,
            inner: next(lo.inner, lo.count, inner)?,
            count: outer_off.abs_diff(inner_off),
        };
        let hi = Range {
            outer: next(mid.outer, mid.count, outer)?,
            inner: next(mid.inner, mid.count, inner)?,
            count: m.count.checked_sub(lo.count)?.checked_sub(mid.count)?,
        };
        for p in [lo, mid, hi] {
            push_piece(&mut out, p)?;
        }
    }
    Some(out)
}

/// Keeps a piece of [`add_single_map_range`] that has ids, all of them below 4294967295.
fn push_piece(out: &mut Vec<Range>, p: Range) -> Option<()> {
    if p.count > 0 {
        check_range(Some(p.inner), p.outer, p.count).ok()?;
        out.push(p);
    }
    Some(())
}

/// A helper forked before unshare(2), released once the namespaces exist: it then does its
/// part from the original namespaces and exits; a failure ends unshare with its status.
struct Waiter {
    pid: Pid,
    tx: OwnedFd,
}

impl Waiter {
    fn release(self) -> R<()> {
        linux::write_all_raw(self.tx.as_raw_fd(), b"G")
            .map_err(|e| errno_msg("write failed", e))?;
        drop(self.tx);
        match crate::ns::pid::wait_for(self.pid) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => Ok(()),
            Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => std::process::exit(code),
            _ => std::process::exit(EXIT_FAILURE),
        }
    }
}

/// Forks a helper that runs `work` once released (in the child; it never returns there).
fn fork_and_wait(work: impl FnOnce() -> R<()>) -> R<Waiter> {
    let (rx, tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| errno_msg("pipe failed", e))?;
    match linux::fork().map_err(|e| errno_msg("fork failed", e))? {
        Fork::Parent(pid) => {
            drop(rx);
            Ok(Waiter { pid, tx })
        }
        Fork::Child => {
            drop(tx);
            let mut go = [0u8; 1];
            if !matches!(nix::unistd::read(rx.as_raw_fd(), &mut go), Ok(1)) {
                linux::exit_now(EXIT_FAILURE);
            }
            let code = match work() {
                Ok(()) => 0,
                Err(Fail(msg)) => {
                    eprintln!("unshare: {msg}");
                    EXIT_FAILURE
                }
            };
            linux::exit_now(code)
        }
    }
}

fn bind_ns_files_from_child(persists: &[Persist]) -> R<Waiter> {
    let parent = Pid::this();
    let mnt_ino = |pid: Pid| {
        std::fs::metadata(format!("/proc/{}/ns/mnt", pid.as_raw()))
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .ok()
    };
    let before = mnt_ino(parent);
    fork_and_wait(move || {
        if mnt_ino(parent) == before {
            return fail("the mount namespace was not unshared");
        }
        bind_ns_files(parent, persists)
    })
}

fn bind_ns_files(pid: Pid, persists: &[Persist]) -> R<()> {
    for p in persists {
        let src = format!("/proc/{}/ns/{}", pid.as_raw(), p.proc_name);
        nix::mount::mount(
            Some(src.as_str()),
            p.file.as_str(),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| errno_msg(&format!("mount {src} on {} failed", p.file), e))?;
    }
    Ok(())
}

/// The lines of a uid or gid map from `--map-users`/`--map-groups` ranges and the single
/// mapping of `outer` (the caller's id) to `inner`; `None` without ranges.
fn single_into_ranges(
    ranges: &[Range],
    outer: u32,
    inner: Option<u32>,
    kind: &str,
) -> R<Option<Vec<Range>>> {
    if ranges.is_empty() {
        return Ok(None);
    }
    let lines = add_single_map_range(ranges, outer, inner).ok_or_else(|| {
        Fail(format!(
            "cannot map {kind} {outer} to {} alongside the {kind} ranges: they pass {LAST_ID}",
            inner.map_or_else(|| "nothing".into(), |i| i.to_string())
        ))
    })?;
    Ok((!lines.is_empty()).then_some(lines))
}

/// util-linux's map_ids_from_child: a child waits until the parent has unshared, then writes
/// the maps with newuidmap/newgidmap (or directly when root).
fn map_ids_from_child(users: Option<Vec<Range>>, groups: Option<Vec<Range>>) -> R<Waiter> {
    let parent = Pid::this();
    let euid = nix::unistd::geteuid().as_raw();
    fork_and_wait(move || write_maps(parent, users, groups, euid == 0))
}

fn write_maps(
    pid: Pid,
    users: Option<Vec<Range>>,
    groups: Option<Vec<Range>>,
    root: bool,
) -> R<()> {
    for (lines, file, helper) in [
        (users, "uid_map", "newuidmap"),
        (groups, "gid_map", "newgidmap"),
    ] {
        let Some(lines) = lines else { continue };
        if root {
            let text: String = lines
                .iter()
                .map(|r| format!("{} {} {}\n", r.inner, r.outer, r.count))
                .collect();
            std::fs::write(format!("/proc/{}/{file}", pid.as_raw()), text).map_err(|e| {
                Fail(format!(
                    "failed to write /proc/{}/{file}: {e}",
                    pid.as_raw()
                ))
            })?;
            continue;
        }
        let mut args = vec![pid.as_raw().to_string()];
        for r in &lines {
            args.extend([
                r.inner.to_string(),
                r.outer.to_string(),
                r.count.to_string(),
            ]);
        }
        // Like sbx itself, never from PATH: a directory on it may be a sandbox's project.
        let path = crate::hostbin::find(helper, "uidmap").map_err(|e| Fail(e.to_string()))?;
        let status = std::process::Command::new(&path)
            .args(&args)
            .status()
            .map_err(|e| Fail(format!("failed to execute {helper}: {e}")))?;
        if !status.success() {
            return fail(format!("{helper} failed"));
        }
    }
    Ok(())
}

/// util-linux: the parent waits for the child; a signal that killed the child kills unshare.
fn wait_child(pid: Pid, forward: bool) -> R<i32> {
    use nix::sys::wait::WaitStatus;
    let status = if forward {
        let mut set = SigSet::empty();
        set.add(Signal::SIGINT);
        set.add(Signal::SIGTERM);
        set.add(Signal::SIGCHLD);
        set.thread_block()
            .map_err(|e| errno_msg("sigprocmask failed", e))?;
        let mut sfd = crate::ns::pid::signalfd().map_err(|e| Fail(e.to_string()))?;
        crate::ns::pid::supervise(&mut sfd, pid, |sig| {
            let _ = nix::sys::signal::kill(pid, sig);
        })
        .map_err(|e| Fail(e.to_string()))?
    } else {
        crate::ns::pid::wait_for(pid).map_err(|e| Fail(e.to_string()))?
    };
    match status {
        WaitStatus::Exited(_, code) => Ok(code),
        WaitStatus::Signaled(_, sig, _) => {
            // Die of the same signal, so the shell sees it: default dispositions, unblocked.
            linux::reset_signal_dispositions();
            let mut set = SigSet::empty();
            set.add(sig);
            let _ = set.thread_unblock();
            let _ = nix::sys::signal::raise(sig);
            fail("child exit failed")
        }
        _ => fail("child exit failed"),
    }
}

/// util-linux's cap_permitted_to_ambient: every permitted capability becomes inheritable and
/// ambient, so it survives exec.
fn permitted_to_ambient() -> R<()> {
    let permitted = caps::read(None, caps::CapSet::Permitted)
        .map_err(|e| Fail(format!("capget failed: {e}")))?;
    caps::set(None, caps::CapSet::Inheritable, &permitted)
        .map_err(|e| Fail(format!("capset failed: {e}")))?;
    for cap in permitted {
        caps::raise(None, caps::CapSet::Ambient, cap)
            .map_err(|e| Fail(format!("prctl(PR_CAP_AMBIENT) failed: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(inner: u32, outer: u32, count: u32) -> Range {
        Range {
            inner,
            outer,
            count,
        }
    }

    #[test]
    fn map_specs_parse_both_orders() {
        assert_eq!(parse_map_range("1:100000:10"), Some(r(1, 100000, 10)));
        assert_eq!(parse_map_range("100000,1,10"), Some(r(1, 100000, 10)));
        assert_eq!(parse_map_range("1:2"), None);
    }

    #[test]
    fn single_mapping_is_cut_out_as_util_linux_does() {
        // --map-auto --map-root-user: 0 -> 1000, the range from 1 on, one id fewer.
        let out = add_single_map_range(&[r(u32::MAX, 100000, 65536)], 1000, Some(0));
        assert_eq!(out, Some(vec![r(0, 1000, 1), r(1, 100000, 65535)]));
        // --map-auto --map-current-user with uid 1000: the range is split around inner 1000.
        let out = add_single_map_range(&[r(u32::MAX, 100000, 65536)], 1000, Some(1000));
        assert_eq!(
            out,
            Some(vec![
                r(1000, 1000, 1),
                r(0, 100000, 1000),
                r(1001, 101000, 64535)
            ])
        );
        // No single mapping: the range alone, from 0.
        assert_eq!(
            add_single_map_range(&[r(u32::MAX, 100000, 10)], 1000, None),
            Some(vec![r(0, 100000, 10)])
        );
    }

    /// The message of a failure; panics on success.
    fn err<T>(res: R<T>) -> String {
        match res {
            Ok(_) => panic!("expected an error"),
            Err(Fail(msg)) => msg,
        }
    }

    #[test]
    fn a_count_of_0_is_refused() {
        assert_eq!(
            check_range(Some(0), 100000, 0),
            Err("the count is 0".into())
        );
        assert_eq!(check_range(None, 100000, 0), Err("the count is 0".into()));
        for spec in ["0:100000:0", "100000,0,0"] {
            assert_eq!(
                err(map_spec(spec, IdFile::Uid, 1000)),
                format!("invalid mapping '{spec}': the count is 0")
            );
        }
    }

    #[test]
    fn inner_plus_count_past_the_last_id_is_refused() {
        assert_eq!(
            err(map_spec("4294967290:100000:10", IdFile::Gid, 1000)),
            "invalid mapping '4294967290:100000:10': inner ids 4294967290 to 4294967299 go \
             past 4294967294, the highest valid id"
        );
        // The outer,inner,count form names the same sides.
        assert_eq!(
            err(map_spec("100000,4294967290,10", IdFile::Uid, 1000)),
            "invalid mapping '100000,4294967290,10': inner ids 4294967290 to 4294967299 go \
             past 4294967294, the highest valid id"
        );
        // One past: the range may end at 4294967294, not at 4294967295.
        assert!(check_range(Some(4294967285), 0, 10).is_ok());
        assert!(check_range(Some(4294967286), 0, 10).is_err());
    }

    #[test]
    fn outer_plus_count_past_the_last_id_is_refused() {
        assert_eq!(
            err(map_spec("0:4294967290:10", IdFile::Uid, 1000)),
            "invalid mapping '0:4294967290:10': outer ids 4294967290 to 4294967299 go past \
             4294967294, the highest valid id"
        );
        assert_eq!(
            err(map_spec("0:100000:4294967295", IdFile::Uid, 1000)),
            "invalid mapping '0:100000:4294967295': outer ids 100000 to 4295067294 go past \
             4294967294, the highest valid id"
        );
        assert!(check_range(Some(0), 4294967285, 10).is_ok());
        assert!(check_range(Some(0), 4294967286, 10).is_err());
    }

    #[test]
    fn u32_max_values() {
        // Id 4294967295 is (uid_t)-1: never mappable, on either side, and an explicit inner
        // 4294967295 is not util-linux's "from 0".
        assert_eq!(
            err(map_spec("4294967295:100000:1", IdFile::Uid, 1000)),
            "invalid mapping '4294967295:100000:1': inner id 4294967295 is past 4294967294, \
             the highest valid id"
        );
        assert_eq!(
            err(map_spec("1:4294967295:1", IdFile::Uid, 1000)),
            "invalid mapping '1:4294967295:1': outer id 4294967295 is past 4294967294, the \
             highest valid id"
        );
        assert!(map_spec("4294967295:4294967295:4294967295", IdFile::Uid, 1000).is_err());
        // A count of u32::MAX fits from 0 (ids 0 to 4294967294) and nowhere else.
        assert_eq!(
            map_spec("0:0:4294967295", IdFile::Uid, 1000).ok(),
            Some(r(0, 0, u32::MAX))
        );
        assert!(check_range(None, 0, u32::MAX).is_ok());
        assert!(check_range(Some(1), 0, u32::MAX).is_err());
        assert!(check_range(Some(0), 1, u32::MAX).is_err());
        // The last valid id on both sides.
        assert!(check_range(Some(LAST_ID), LAST_ID, 1).is_ok());
        // Beyond u32: not a number sbx takes.
        assert_eq!(
            err(map_spec("0:4294967296:1", IdFile::Uid, 1000)),
            "invalid mapping '0:4294967296:1'"
        );
    }

    #[test]
    fn subid_lines_with_bad_values_are_refused() {
        let read = |text: &str, identity: bool| {
            parse_subid_range(text, "/etc/subuid", "alice", 1000, identity)
        };
        assert_eq!(
            err(read("alice:100000:0\n", false)),
            "invalid subid range 'alice:100000:0' in /etc/subuid: the count is 0"
        );
        assert_eq!(
            err(read("1000:4294967000:65536\n", false)),
            "invalid subid range '1000:4294967000:65536' in /etc/subuid: outer ids 4294967000 \
             to 4295032535 go past 4294967294, the highest valid id"
        );
        // Mapped to themselves, the same ids are also the inner side.
        assert!(err(read("alice:4294967295:1\n", true)).contains("inner id 4294967295 is past"));
        assert!(err(read("alice:4294967295:1\n", false)).contains("outer id 4294967295 is past"));
        // The first matching line decides, as util-linux reads it; others are not looked at.
        assert!(read("alice:100000:0\nalice:200000:10\n", false).is_err());
        assert_eq!(
            read("bob:0:0\nalice:4294967294:1\n", false).ok(),
            Some(r(FROM_ZERO, 4294967294, 1))
        );
        assert_eq!(
            read("alice:4294967294:1\n", true).ok(),
            Some(r(4294967294, 4294967294, 1))
        );
        // A range from 0 may be as large as u32::MAX ids when its outer start is 0.
        assert_eq!(
            read("alice:0:4294967295\n", false).ok(),
            Some(r(FROM_ZERO, 0, u32::MAX))
        );
        assert_eq!(
            err(read("alice:100000:4294967296\n", false)),
            "failed to parse subid map"
        );
    }

    #[test]
    fn splitting_never_wraps() {
        // A count of 0 overlapped by the single mapping has no id to give: refused, not wrapped
        // to 4294967295 ids.
        assert_eq!(
            add_single_map_range(&[r(0, 100000, 0)], 1000, Some(0)),
            None
        );
        assert_eq!(
            add_single_map_range(&[r(FROM_ZERO, 100000, 0)], 1000, Some(0)),
            None
        );
        // A range ending at the last id, with and without a single mapping beside it.
        assert_eq!(
            add_single_map_range(&[r(0, LAST_ID, 1)], 1000, None),
            Some(vec![r(0, LAST_ID, 1)])
        );
        assert_eq!(
            add_single_map_range(&[r(1, LAST_ID, 1)], 0, Some(0)),
            Some(vec![r(0, 0, 1), r(1, LAST_ID, 1)])
        );
        // All the ids, the single one cut out (util-linux as root writes the same).
        assert_eq!(
            add_single_map_range(&[r(0, 0, u32::MAX)], 0, Some(0)),
            Some(vec![r(0, 0, 1), r(1, 1, u32::MAX - 1)])
        );
        // --map-users=auto with the caller's id the range's last inner id: no piece above it.
        assert_eq!(
            add_single_map_range(&[r(FROM_ZERO, 100000, 65536)], 1000, Some(65535)),
            Some(vec![r(65535, 1000, 1), r(0, 100000, 65535)])
        );
        // ... and with the caller's id inside a range that reaches the last id.
        assert_eq!(
            add_single_map_range(&[r(FROM_ZERO, 4294901759, 65536)], 1000, Some(1000)),
            Some(vec![
                r(1000, 1000, 1),
                r(0, 4294901759, 1000),
                r(1001, 4294902759, 64535)
            ])
        );
        // Ranges that were never checked: pieces past the last id, or past u32::MAX, are
        // refused rather than wrapped.
        assert_eq!(
            add_single_map_range(&[r(4294967290, 100000, 10)], 1000, Some(0)),
            None
        );
        assert_eq!(
            add_single_map_range(&[r(0, 4294967290, 10)], 1000, None),
            None
        );
        assert_eq!(
            add_single_map_range(&[r(0, u32::MAX, 5)], 7, Some(100)),
            None
        );
        // A single inner of 4294967295 is util-linux's -1: no single mapping.
        assert_eq!(
            add_single_map_range(&[r(1, 100000, 10)], 1000, Some(u32::MAX)),
            Some(vec![r(1, 100000, 10)])
        );
    }
}
