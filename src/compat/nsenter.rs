//! `sbx nsenter`: util-linux nsenter(1) (2.39+ options and semantics): run a program in the
//! namespaces of another process, or of namespace files.
//!
//! What util-linux does, in its order: the namespaces are joined in two passes, all but the
//! user namespace first (errors ignored), then whatever is left, the user namespace included
//! (errors reported), so that root leaving privilege enters the user namespace last and a user
//! gaining it enters it first. A target given by `-t` is joined through a pidfd, atomically; a
//! namespace given as a file is joined by that file. Entering a user namespace sets the uid and
//! gid to 0 (or `-S`/`-G`) and drops the supplementary groups, unless --preserve-credentials.
//! Joining a PID namespace forks (unless `-F`): the parent waits and leaves with the child's
//! status, or dies of the signal that killed it. Exit status: the program's; 1 for nsenter's
//! own failures; 126 when the program cannot be executed, 127 when it is not found.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;

use clap::{CommandFactory, FromArgMatches, Parser};
use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::{Gid, Pid, Uid};

use crate::ns::CLONE_NEWTIME;
use crate::sys::linux::{self, Fork};

const EXIT_FAILURE: i32 = 1;
/// util-linux's EX_EXEC_FAILED and EX_EXEC_ENOENT.
const EXIT_EXEC_FAILED: i32 = 126;
const EXIT_EXEC_ENOENT: i32 = 127;

/// Run a program with namespaces of other processes.
#[derive(Debug, Parser)]
#[command(
    name = "nsenter",
    disable_help_subcommand = true,
    disable_version_flag = true,
    max_term_width = 100,
    after_help = "For more details see nsenter(1)."
)]
pub struct Args {
    /// Enter all namespaces.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Target process to get namespaces from.
    #[arg(short = 't', long, value_name = "PID")]
    pub target: Option<String>,
    /// Enter mount namespace.
    #[arg(short = 'm', long = "mount", value_name = "FILE", num_args = 0..=1, require_equals = true, action = clap::ArgAction::Append)]
    pub mount: Vec<OsString>,
    /// Enter UTS namespace (hostname etc).
    #[arg(short = 'u', long = "uts", value_name = "FILE", num_args = 0..=1, require_equals = true, action = clap::ArgAction::Append)]
    pub uts: Vec<OsString>,
    /// Enter System V IPC namespace.
    #[arg(short = 'i', long = "ipc", value_name = "FILE", num_args = 0..=1, require_equals = true, action = clap::ArgAction::Append)]
    pub ipc: Vec<OsString>,
    /// Enter network namespace.
    #[arg(short = 'n', long = "net", value_name = "FILE", num_args = 0..=1, require_equals = true, action = clap::ArgAction::Append)]
    pub net: Vec<OsString>,
    /// Enter socket's network namespace (use with --target).
    #[arg(short = 'N', long = "net-socket", value_name = "FD")]
    pub net_socket: Option<String>,
    /// Enter pid namespace.
    #[arg(short = 'p', long = "pid", value_name = "FILE", num_args = 0..=1, require_equals = true, action = clap::ArgAction::Append)]
    pub pid: Vec<OsString>,
    /// Enter cgroup namespace.
    #[arg(short = 'C', long = "cgroup", value_name = "FILE", num_args = 0..=1, require_equals = true, action = clap::ArgAction::Append)]
    pub cgroup: Vec<OsString>,
    /// Enter user namespace.
    #[arg(short = 'U', long = "user", value_name = "FILE", num_args = 0..=1, require_equals = true, action = clap::ArgAction::Append)]
    pub user: Vec<OsString>,
    /// Enter parent user namespace.
    #[arg(long)]
    pub user_parent: bool,
    /// Enter time namespace.
    #[arg(short = 'T', long = "time", value_name = "FILE", num_args = 0..=1, require_equals = true, action = clap::ArgAction::Append)]
    pub time: Vec<OsString>,
    /// Set uid in entered namespace (a number, or `follow`: the target's).
    #[arg(short = 'S', long = "setuid", value_name = "UID")]
    pub setuid: Option<String>,
    /// Set gid in entered namespace (a number, or `follow`: the target's).
    #[arg(short = 'G', long = "setgid", value_name = "GID")]
    pub setgid: Option<String>,
    /// Do not touch uids or gids.
    #[arg(long)]
    pub preserve_credentials: bool,
    /// Retain capabilities granted in user namespaces.
    #[arg(long)]
    pub keep_caps: bool,
    /// Set the root directory (default: the target's).
    #[arg(short = 'r', long = "root", value_name = "DIR", num_args = 0..=1, require_equals = true, action = clap::ArgAction::Append)]
    pub root: Vec<OsString>,
    /// Set the working directory (default: the target's).
    #[arg(short = 'w', long = "wd", value_name = "DIR", num_args = 0..=1, require_equals = true, action = clap::ArgAction::Append)]
    pub wd: Vec<OsString>,
    /// Set the working directory in namespace.
    #[arg(short = 'W', long = "wdns", value_name = "DIR", num_args = 0..=1, require_equals = true, action = clap::ArgAction::Append, conflicts_with = "wd")]
    pub wdns: Vec<OsString>,
    /// Inherit environment variables from target process.
    #[arg(short = 'e', long = "env")]
    pub env: bool,
    /// Do not fork before exec'ing <program>.
    #[arg(short = 'F', long = "no-fork")]
    pub no_fork: bool,
    /// Join the cgroup of the target process.
    #[arg(short = 'c', long = "join-cgroup")]
    pub join_cgroup: bool,
    /// Set SELinux context according to --target PID.
    #[arg(short = 'Z', long = "follow-context")]
    pub follow_context: bool,
    /// Display version.
    #[arg(short = 'V', long)]
    pub version: bool,
    /// The program and its arguments (default: $SHELL, else /bin/sh).
    #[arg(value_name = "PROGRAM", trailing_var_arg = true)]
    pub program: Vec<OsString>,
}

/// Fails like util-linux: `PROG: message`, exit 1 (or `code`).
struct Fail(String, i32);

type R<T> = Result<T, Fail>;

fn fail<T>(msg: impl Into<String>) -> R<T> {
    Err(Fail(msg.into(), EXIT_FAILURE))
}

/// The C library's text for an errno, as err(3) prints it.
fn strerror(e: Errno) -> String {
    let text = std::io::Error::from_raw_os_error(e as i32).to_string();
    match text.rfind(" (os error ") {
        Some(p) => text[..p].to_string(),
        None => text,
    }
}

/// util-linux's err(3) text: the message, then the errno's.
fn errno_msg(what: &str, e: Errno) -> Fail {
    Fail(format!("{what}: {}", strerror(e)), EXIT_FAILURE)
}

fn io_errno(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Entry point: `args` exclude the program name; `argv0` names the tool in messages.
pub fn main(argv0: &str, args: Vec<OsString>) -> i32 {
    let mut full = vec![OsString::from(argv0)];
    full.extend(getopt_normalise(&args));
    let parsed = Args::command()
        .override_usage(format!("{argv0} [options] [<program> [<argument>...]]"))
        .try_get_matches_from(full)
        .and_then(|m| Args::from_arg_matches(&m).map(|a| (a, Given::from_matches(&m))));
    let (args, given) = match parsed {
        Ok(p) => p,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_FAILURE } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    if args.version {
        println!("{argv0} from sbx {}", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    match run(&args, &given) {
        Ok(code) => code,
        Err(Fail(msg, code)) => {
            eprintln!("{argv0}: {msg}");
            code
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The command line: getopt_long(3)'s syntax, handed to clap in a form it parses the same way.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Takes {
    Nothing,
    Value,
    Optional,
}

/// nsenter's options: short letter (0 for none), long name, argument.
const OPTIONS: &[(u8, &str, Takes)] = &[
    (b'a', "all", Takes::Nothing),
    (b'h', "help", Takes::Nothing),
    (b'V', "version", Takes::Nothing),
    (b't', "target", Takes::Value),
    (b'm', "mount", Takes::Optional),
    (b'u', "uts", Takes::Optional),
    (b'i', "ipc", Takes::Optional),
    (b'n', "net", Takes::Optional),
    (b'N', "net-socket", Takes::Value),
    (b'p', "pid", Takes::Optional),
    (b'U', "user", Takes::Optional),
    (b'C', "cgroup", Takes::Optional),
    (b'T', "time", Takes::Optional),
    (b'S', "setuid", Takes::Value),
    (b'G', "setgid", Takes::Value),
    (b'r', "root", Takes::Optional),
    (b'w', "wd", Takes::Optional),
    (b'W', "wdns", Takes::Optional),
    (b'e', "env", Takes::Nothing),
    (b'F', "no-fork", Takes::Nothing),
    (b'c', "join-cgroup", Takes::Nothing),
    (0, "preserve-credentials", Takes::Nothing),
    (0, "keep-caps", Takes::Nothing),
    (0, "user-parent", Takes::Nothing),
    (b'Z', "follow-context", Takes::Nothing),
];

/// A long option as getopt_long matches it: exactly, else by a unique prefix.
fn long_option(name: &[u8]) -> Option<(&'static str, Takes)> {
    if let Some(&(_, long, takes)) = OPTIONS.iter().find(|o| o.1.as_bytes() == name) {
        return Some((long, takes));
    }
    let mut matches = OPTIONS
        .iter()
        .filter(|o| !name.is_empty() && o.1.as_bytes().starts_with(name));
    match (matches.next(), matches.next()) {
        (Some(&(_, long, takes)), None) => Some((long, takes)),
        _ => None,
    }
}

fn long_arg(long: &str, value: Option<&[u8]>) -> OsString {
    let mut s = format!("--{long}").into_bytes();
    if let Some(v) = value {
        s.push(b'=');
        s.extend_from_slice(v);
    }
    OsString::from_vec(s)
}

/// Rewrites a command line in getopt_long's syntax (`+` mode: options end at the first
/// non-option) into long options with `=VALUE`, then `--` and the program. An optional argument
/// is only what is attached to its option, as getopt has it (`-mFILE`, `-m=FILE` (the `=` is
/// kept: nsenter strips it), `--mount=FILE`); a short option's required value may follow it in
/// the next word; long options may be abbreviated. Unknown options are passed on for clap to
/// reject.
pub fn getopt_normalise(args: &[OsString]) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_bytes();
        if a == b"--" {
            i += 1;
            break;
        }
        if let Some(body) = a.strip_prefix(b"--") {
            let (name, value) = match body.iter().position(|&b| b == b'=') {
                Some(p) => (&body[..p], Some(&body[p + 1..])),
                None => (body, None),
            };
            match long_option(name) {
                Some((long, Takes::Value)) if value.is_none() => match args.get(i + 1) {
                    Some(next) => {
                        out.push(long_arg(long, Some(next.as_bytes())));
                        i += 1;
                    }
                    None => out.push(long_arg(long, None)),
                },
                Some((long, _)) => out.push(long_arg(long, value)),
                None => out.push(args[i].clone()),
            }
            i += 1;
            continue;
        }
        if a.len() < 2 || a[0] != b'-' {
            break;
        }
        let mut j = 1;
        while j < a.len() {
            let Some(&(_, long, takes)) = OPTIONS.iter().find(|o| o.0 != 0 && o.0 == a[j]) else {
                // Not an option letter: clap reports it.
                let mut rest = b"-".to_vec();
                rest.extend_from_slice(&a[j..]);
                out.push(OsString::from_vec(rest));
                break;
            };
            let rest = &a[j + 1..];
            match takes {
                Takes::Nothing => {
                    out.push(long_arg(long, None));
                    j += 1;
                    continue;
                }
                Takes::Optional => {
                    out.push(long_arg(long, (!rest.is_empty()).then_some(rest)));
                }
                Takes::Value if !rest.is_empty() => out.push(long_arg(long, Some(rest))),
                Takes::Value => match args.get(i + 1) {
                    Some(next) => {
                        out.push(long_arg(long, Some(next.as_bytes())));
                        i += 1;
                    }
                    None => out.push(long_arg(long, None)),
                },
            }
            break;
        }
        i += 1;
    }
    out.push(OsString::from("--"));
    out.extend(args[i..].iter().cloned());
    out
}

/// An option with an optional argument, given any number of times, getopt style: whether it
/// was given at all, whether once without a value, and the last value it was given.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Occurrences {
    pub given: bool,
    pub bare: bool,
    pub last: Option<OsString>,
}

impl Occurrences {
    fn of(m: &clap::ArgMatches, id: &str) -> Occurrences {
        let Some(occ) = m.get_occurrences::<OsString>(id) else {
            return Occurrences::default();
        };
        let mut out = Occurrences {
            given: true,
            ..Occurrences::default()
        };
        for mut values in occ {
            match values.next() {
                Some(v) => out.last = Some(v.clone()),
                None => out.bare = true,
            }
        }
        out
    }
}

/// The options with optional arguments (clap's derive keeps only their values).
#[derive(Debug, Default)]
pub struct Given {
    pub user: Occurrences,
    pub cgroup: Occurrences,
    pub ipc: Occurrences,
    pub uts: Occurrences,
    pub net: Occurrences,
    pub pid: Occurrences,
    pub mount: Occurrences,
    pub time: Occurrences,
    pub root: Occurrences,
    pub wd: Occurrences,
    pub wdns: Occurrences,
}

impl Given {
    fn from_matches(m: &clap::ArgMatches) -> Given {
        Given {
            user: Occurrences::of(m, "user"),
            cgroup: Occurrences::of(m, "cgroup"),
            ipc: Occurrences::of(m, "ipc"),
            uts: Occurrences::of(m, "uts"),
            net: Occurrences::of(m, "net"),
            pid: Occurrences::of(m, "pid"),
            mount: Occurrences::of(m, "mount"),
            time: Occurrences::of(m, "time"),
            root: Occurrences::of(m, "root"),
            wd: Occurrences::of(m, "wd"),
            wdns: Occurrences::of(m, "wdns"),
        }
    }
}

/// nsenter strips one `=` from an optional argument (`-m=FILE` gives `=FILE` to getopt).
fn strip_eq(v: &OsStr) -> &OsStr {
    OsStr::from_bytes(v.as_bytes().strip_prefix(b"=").unwrap_or(v.as_bytes()))
}

/// util-linux's strtoul_or_err: a decimal number (leading blanks and `+` allowed, no sign).
fn parse_number(s: &str, what: &str) -> R<u64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return fail(format!("{what}: '{s}'"));
    }
    t.parse::<u64>().map_err(|_| {
        Fail(
            format!("{what}: '{s}': {}", strerror(Errno::ERANGE)),
            EXIT_FAILURE,
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Namespaces.

/// One namespace nsenter can enter, in util-linux's order, which matters: the user namespace
/// comes first or last (see [`enter_namespaces`]).
struct NsFile {
    nstype: libc::c_int,
    name: &'static str,
    fd: Option<OwnedFd>,
    enabled: bool,
}

const NAMESPACES: [(libc::c_int, &str); 8] = [
    (libc::CLONE_NEWUSER, "ns/user"),
    (libc::CLONE_NEWCGROUP, "ns/cgroup"),
    (libc::CLONE_NEWIPC, "ns/ipc"),
    (libc::CLONE_NEWUTS, "ns/uts"),
    (libc::CLONE_NEWNET, "ns/net"),
    (libc::CLONE_NEWPID, "ns/pid"),
    (libc::CLONE_NEWNS, "ns/mnt"),
    (CLONE_NEWTIME, "ns/time"),
];

/// util-linux's open_target_fd: `path`, else `/proc/PID/TYPE` of the target.
fn open_target(target: u32, what: &str, path: Option<&OsStr>) -> R<OwnedFd> {
    let path: OsString = match path {
        Some(p) => p.to_os_string(),
        None if target != 0 => format!("/proc/{target}/{what}").into(),
        None => {
            return fail(format!(
                "neither filename nor target pid supplied for {what}"
            ))
        }
    };
    File::open(&path).map(OwnedFd::from).map_err(|e| {
        errno_msg(
            &format!("cannot open {}", path.to_string_lossy()),
            io_errno(&e),
        )
    })
}

fn ns_inode(path: &str) -> Result<u64, Errno> {
    std::fs::metadata(path)
        .map(|m| m.ino())
        .map_err(|e| io_errno(&e))
}

/// util-linux's is_usable_namespace, for --all: the kernel has the namespace, and for the user
/// namespace, the target's is not the caller's own (setns(2) refuses to re-enter it).
fn is_usable_namespace(target: u32, ns: &NsFile) -> R<bool> {
    let me = std::process::id();
    let mine = ns_inode(&format!("/proc/{me}/{}", ns.name));
    if mine == Err(Errno::ENOENT) {
        return Ok(false);
    }
    if ns.nstype == libc::CLONE_NEWUSER {
        let path = format!("/proc/{target}/{}", ns.name);
        let theirs =
            ns_inode(&path).map_err(|e| errno_msg(&format!("stat of {path} failed"), e))?;
        if mine.unwrap_or(0) == theirs {
            return Ok(false);
        }
    }
    Ok(true)
}

fn mask_of(files: &[NsFile], pred: impl Fn(&NsFile) -> bool) -> libc::c_int {
    files
        .iter()
        .filter(|n| n.enabled && pred(n))
        .fold(0, |m, n| m | n.nstype)
}

fn setns(fd: impl AsFd, nstype: libc::c_int) -> Result<(), Errno> {
    nix::sched::setns(fd, CloneFlags::from_bits_retain(nstype))
}

/// util-linux's enter_namespaces: through the pidfd, every enabled namespace in `mask` that has
/// no file, at once; then each namespace file, in order. What was entered is disabled.
fn enter_namespaces(
    files: &mut [NsFile],
    pidfd: Option<&OwnedFd>,
    mask: libc::c_int,
    ignore_errors: bool,
) -> R<()> {
    // As util-linux's next_enabled_nsfile has it, an empty mask selects every namespace: with
    // only --user, the first pass already enters it (and --keep-caps then does nothing).
    let selected = |n: &NsFile| mask == 0 || n.nstype & mask != 0;
    if let Some(pidfd) = pidfd {
        let ns = mask_of(files, |n| selected(n) && n.fd.is_none());
        if ns != 0 {
            match setns(pidfd, ns) {
                Ok(()) => {
                    for n in files.iter_mut().filter(|n| n.nstype & ns != 0) {
                        n.enabled = false;
                        n.fd = None;
                    }
                }
                Err(e) if !ignore_errors => {
                    return Err(errno_msg("reassociate to namespaces failed", e))
                }
                Err(_) => {}
            }
        }
    }
    for n in files.iter_mut().filter(|n| n.enabled && selected(n)) {
        let Some(fd) = &n.fd else { continue };
        match setns(fd, n.nstype) {
            Ok(()) => {
                n.enabled = false;
                n.fd = None;
            }
            Err(e) if !ignore_errors => {
                return Err(errno_msg(
                    &format!("reassociate to namespace '{}' failed", n.name),
                    e,
                ))
            }
            Err(_) => {}
        }
    }
    Ok(())
}

/// `KERNEL_VERSION(major, minor, patch)` of the running kernel (0 when unknown).
fn kernel_version() -> u32 {
    let Ok(uts) = nix::sys::utsname::uname() else {
        return 0;
    };
    let release = uts.release().to_string_lossy();
    let mut parts = release.split('.').map(|p| {
        p.bytes().take_while(u8::is_ascii_digit).fold(0u32, |n, d| {
            n.saturating_mul(10).saturating_add((d - b'0') as u32)
        })
    });
    let (a, b, c) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    (a << 16) + (b << 8) + c.min(255)
}

// ---------------------------------------------------------------------------------------------

fn run(a: &Args, g: &Given) -> R<i32> {
    // What getopt does while parsing: numbers checked, files given to options opened.
    let target: u32 = match &a.target {
        Some(t) => parse_number(t, "failed to parse pid")? as u32,
        None => 0,
    };
    let id_option = |v: &Option<String>, what: &str| -> R<(bool, bool, u32)> {
        match v.as_deref() {
            None => Ok((false, false, 0)),
            Some("follow") => Ok((true, true, 0)),
            Some(s) => Ok((true, false, parse_number(s, what)? as u32)),
        }
    };
    let (mut force_uid, follow_uid, mut uid) = id_option(&a.setuid, "failed to parse uid")?;
    let (mut force_gid, follow_gid, mut gid) = id_option(&a.setgid, "failed to parse gid")?;
    let sock_fd: Option<i32> = match &a.net_socket {
        Some(s) => {
            let n = parse_number(s, "failed to parse file descriptor")?;
            if n > i32::MAX as u64 {
                return Err(errno_msg(
                    &format!("failed to parse file descriptor: '{s}'"),
                    Errno::ERANGE,
                ));
            }
            Some(n as i32)
        }
        None => None,
    };

    let mut files: Vec<NsFile> = NAMESPACES
        .iter()
        .map(|&(nstype, name)| NsFile {
            nstype,
            name,
            fd: None,
            enabled: false,
        })
        .collect();
    for (occ, nstype) in [
        (&g.user, libc::CLONE_NEWUSER),
        (&g.cgroup, libc::CLONE_NEWCGROUP),
        (&g.ipc, libc::CLONE_NEWIPC),
        (&g.uts, libc::CLONE_NEWUTS),
        (&g.net, libc::CLONE_NEWNET),
        (&g.pid, libc::CLONE_NEWPID),
        (&g.mount, libc::CLONE_NEWNS),
        (&g.time, CLONE_NEWTIME),
    ] {
        if !occ.given {
            continue;
        }
        let n = files.iter_mut().find(|n| n.nstype == nstype).unwrap();
        n.enabled = true;
        if let Some(path) = &occ.last {
            n.fd = Some(open_target(target, n.name, Some(strip_eq(path)))?);
        }
    }
    // -r=FILE is not stripped of its '=', -w=FILE and -W=FILE are (util-linux's quirks).
    let mut root_fd = match &g.root.last {
        Some(p) => Some(open_target(target, "root", Some(p))?),
        None => None,
    };
    let mut wd_fd = match &g.wd.last {
        Some(p) => Some(open_target(target, "cwd", Some(strip_eq(p)))?),
        None => None,
    };
    let (do_rd, do_wd) = (g.root.bare, g.wd.bare);
    let wdns = g.wdns.last.as_deref().map(strip_eq);

    if a.follow_context && std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        follow_selinux_context(target)?;
    }

    if a.all {
        for n in files.iter_mut() {
            if n.enabled || !is_usable_namespace(target, n)? {
                continue;
            }
            n.enabled = true;
        }
    }

    // Open the remaining namespaces: through a pidfd (Linux > 5.7), else their /proc files.
    let without_fd = mask_of(&files, |n| n.fd.is_none());
    let mut pidfd: Option<OwnedFd> = None;
    if without_fd != 0 || sock_fd.is_some() || a.user_parent {
        if target == 0 {
            return fail("no target PID specified");
        }
        if kernel_version() > (5 << 16) + (7 << 8) {
            pidfd = linux::pidfd_open(Pid::from_raw(target as i32)).ok();
        }
        if pidfd.is_none() && without_fd != 0 {
            for n in files.iter_mut().filter(|n| n.enabled && n.fd.is_none()) {
                n.fd = Some(open_target(target, n.name, None)?);
            }
        }
    }

    if do_rd {
        root_fd = Some(open_target(target, "root", None)?);
    }
    if do_wd {
        wd_fd = Some(open_target(target, "cwd", None)?);
    }
    let env_fd = match a.env {
        true => Some(open_target(target, "environ", None)?),
        false => None,
    };
    let uid_gid_fd = match follow_uid || follow_gid {
        true => Some(open_target(target, "", None)?),
        false => None,
    };
    let cgroup_procs = match a.join_cgroup {
        true => Some(open_cgroup_procs(target)?),
        false => None,
    };

    if a.user_parent {
        open_parent_user_ns(&mut files, target)?;
    }
    if let Some(sock) = sock_fd {
        open_target_socket_netns(&mut files, pidfd.as_ref(), target, sock)?;
    }

    let namespaces = mask_of(&files, |_| true);
    if namespaces == 0 {
        return fail("no namespace specified");
    }
    let fork = namespaces & libc::CLONE_NEWPID != 0 && !a.no_fork;

    // Entering a user namespace always sets the uid and gid (0 by default) and drops the
    // supplementary groups, here and again once inside: only both failing is an error.
    let mut setgroups_errors = 0;
    if namespaces & libc::CLONE_NEWUSER != 0 && !a.preserve_credentials {
        force_uid = true;
        force_gid = true;
        if nix::unistd::setgroups(&[]).is_err() {
            setgroups_errors += 1;
        }
    }

    // Two passes: without the user namespace first (failures ignored), then what is left.
    enter_namespaces(
        &mut files,
        pidfd.as_ref(),
        namespaces & !libc::CLONE_NEWUSER,
        true,
    )?;
    let namespaces = mask_of(&files, |_| true);
    if namespaces != 0 {
        enter_namespaces(&mut files, pidfd.as_ref(), namespaces, false)?;
    }
    drop(pidfd);

    // Keep the working directory across the chroot unless another is asked for.
    if root_fd.is_some() && wd_fd.is_none() && wdns.is_none() {
        wd_fd = Some(
            File::open(".")
                .map(OwnedFd::from)
                .map_err(|e| errno_msg("cannot open current working directory", io_errno(&e)))?,
        );
    }
    if let Some(fd) = root_fd.take() {
        nix::unistd::fchdir(fd.as_raw_fd())
            .map_err(|e| errno_msg("change directory by root file descriptor failed", e))?;
        nix::unistd::chroot(".").map_err(|e| errno_msg("chroot failed", e))?;
        nix::unistd::chdir("/").map_err(|e| errno_msg("cannot change directory to /", e))?;
    }
    if let Some(dir) = wdns {
        wd_fd = Some(
            File::open(dir)
                .map(OwnedFd::from)
                .map_err(|e| errno_msg("cannot open current working directory", io_errno(&e)))?,
        );
    }
    if let Some(fd) = wd_fd.take() {
        nix::unistd::fchdir(fd.as_raw_fd()).map_err(|e| {
            errno_msg(
                "change directory by working directory file descriptor failed",
                e,
            )
        })?;
    }

    if let Some(fd) = env_fd {
        inherit_environment(fd)?;
    }
    if let Some(procs) = cgroup_procs {
        let pid = std::process::id().to_string();
        linux::write_all_raw(procs.as_raw_fd(), pid.as_bytes())
            .map_err(|e| errno_msg("write cgroup.procs failed", e))?;
    }
    if let Some(fd) = uid_gid_fd {
        let st = File::from(fd)
            .metadata()
            .map_err(|e| errno_msg("can not get process stat", io_errno(&e)))?;
        if follow_uid {
            uid = st.uid();
        }
        if follow_gid {
            gid = st.gid();
        }
    }

    if fork {
        match linux::fork().map_err(|e| errno_msg("fork failed", e))? {
            Fork::Parent(child) => return Ok(wait_for_child(child)),
            Fork::Child => {}
        }
    }

    if force_gid {
        match nix::unistd::setgroups(&[]) {
            Err(e) if setgroups_errors > 0 => return Err(errno_msg("setgroups failed", e)),
            _ => {}
        }
        nix::unistd::setgid(Gid::from_raw(gid)).map_err(|e| errno_msg("setgid() failed", e))?;
    }
    if force_uid {
        nix::unistd::setuid(Uid::from_raw(uid)).map_err(|e| errno_msg("setuid() failed", e))?;
    }
    if a.keep_caps && namespaces & libc::CLONE_NEWUSER != 0 {
        permitted_to_ambient()?;
    }
    Err(exec_program(&a.program))
}

/// --user-parent: the parent of the user namespace given with --user=FILE, else of the
/// target's; it replaces --user.
fn open_parent_user_ns(files: &mut [NsFile], target: u32) -> R<()> {
    let user = files
        .iter_mut()
        .find(|n| n.nstype == libc::CLONE_NEWUSER)
        .unwrap();
    let child = match user.fd.take() {
        Some(fd) if user.enabled => fd,
        _ => open_target(target, "ns/user", None)?,
    };
    let parent = linux::ns_get_userns(child.as_raw_fd())
        .map_err(|e| errno_msg("failed to open parent namespace", e))?;
    user.fd = Some(parent);
    user.enabled = true;
    Ok(())
}

/// --net-socket: the network namespace of the target's socket FD replaces --net.
fn open_target_socket_netns(
    files: &mut [NsFile],
    pidfd: Option<&OwnedFd>,
    target: u32,
    sock: i32,
) -> R<()> {
    let local;
    let pidfd = match pidfd {
        Some(fd) => fd,
        None => {
            local = linux::pidfd_open(Pid::from_raw(target as i32))
                .map_err(|e| errno_msg(&format!("failed to pidfd_open() for {target}"), e))?;
            &local
        }
    };
    let sk = linux::pidfd_getfd(pidfd.as_raw_fd(), sock)
        .map_err(|e| errno_msg(&format!("pidfd_getfd({}, {sock})", pidfd.as_raw_fd()), e))?;
    let nsfd = linux::socket_netns(sk.as_raw_fd())
        .map_err(|e| errno_msg(&format!("ioctl({}, SIOCGSKNS)", sk.as_raw_fd()), e))?;
    let net = files
        .iter_mut()
        .find(|n| n.nstype == libc::CLONE_NEWNET)
        .unwrap();
    net.fd = Some(nsfd);
    net.enabled = true;
    Ok(())
}

/// --join-cgroup: the target's cgroup (v2) `cgroup.procs`, opened before entering anything.
fn open_cgroup_procs(target: u32) -> R<OwnedFd> {
    let fs = nix::sys::statfs::statfs("/sys/fs/cgroup")
        .map_err(|e| errno_msg("statfs /sys/fs/cgroup failed", e))?;
    if fs.filesystem_type() != nix::sys::statfs::CGROUP2_SUPER_MAGIC {
        return fail("--join-cgroup is only supported in cgroup v2");
    }
    let fd = open_target(target, "cgroup", None)?;
    let mut text = String::new();
    let read = std::io::Read::read_to_string(&mut File::from(fd), &mut text);
    let path = match read {
        Ok(n) if n > 0 => text
            .split('\n')
            .find(|l| !l.is_empty())
            .and_then(|l| l.rsplit_once(':'))
            .map(|(_, p)| p.to_string()),
        Ok(_) => None,
        Err(e) => return Err(errno_msg("failed to get cgroup path", io_errno(&e))),
    };
    let Some(path) = path else {
        return Err(errno_msg("failed to get cgroup path", Errno::last()));
    };
    std::fs::OpenOptions::new()
        .append(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(format!("/sys/fs/cgroup/{path}/cgroup.procs"))
        .map(OwnedFd::from)
        .map_err(|e| errno_msg("failed to open cgroup.procs", io_errno(&e)))
}

/// --env: the target's environment replaces ours, as util-linux builds it (its list is read
/// back to front and set without overwriting: the last of duplicates wins, the order reverses).
fn inherit_environment(fd: OwnedFd) -> R<()> {
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut File::from(fd), &mut buf)
        .map_err(|e| errno_msg("failed to get environment variables", io_errno(&e)))?;
    let mut list: Vec<(&[u8], &[u8])> = Vec::new();
    for entry in buf.split(|&b| b == 0).filter(|e| !e.is_empty()) {
        match entry.iter().position(|&b| b == b'=') {
            Some(p) => list.push((&entry[..p], &entry[p + 1..])),
            // util-linux loses the list read so far at an entry without '='.
            None => list.clear(),
        }
    }
    for (key, _) in std::env::vars_os() {
        if !key.is_empty() && !key.as_bytes().contains(&b'=') {
            std::env::remove_var(key);
        }
    }
    for (name, value) in list.into_iter().rev() {
        if name.is_empty() {
            return Err(errno_msg(
                "failed to set environment variables",
                Errno::EINVAL,
            ));
        }
        let name = OsStr::from_bytes(name);
        if std::env::var_os(name).is_none() {
            std::env::set_var(name, OsStr::from_bytes(value));
        }
    }
    Ok(())
}

/// --follow-context (when SELinux is enabled): the target's context for the program.
fn follow_selinux_context(target: u32) -> R<()> {
    if target == 0 {
        return fail("no target PID specified for --follow-context");
    }
    let con = std::fs::read(format!("/proc/{target}/attr/current"))
        .map_err(|_| Fail(format!("failed to get {target} SELinux context"), 1))?;
    let con: Vec<u8> = con
        .into_iter()
        .take_while(|&b| b != 0 && b != b'\n')
        .collect();
    std::fs::write("/proc/self/attr/exec", &con).map_err(|_| {
        Fail(
            format!(
                "failed to set exec context to '{}'",
                String::from_utf8_lossy(&con)
            ),
            1,
        )
    })
}

/// util-linux's continue_as_child, parent side: wait for the child (stopping along with it),
/// then leave with its status, or die of the signal that killed it.
fn wait_for_child(child: Pid) -> i32 {
    loop {
        match nix::sys::wait::waitpid(child, Some(WaitPidFlag::WUNTRACED)) {
            Ok(WaitStatus::Stopped(..)) => {
                let _ = nix::sys::signal::kill(Pid::this(), Signal::SIGSTOP);
                let _ = nix::sys::signal::kill(child, Signal::SIGCONT);
            }
            Err(Errno::EINTR) => continue,
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => {
                // sbx ignores SIGPIPE (Rust's runtime does): back to the defaults, then die.
                linux::reset_signal_dispositions();
                let _ = nix::sys::signal::kill(Pid::this(), sig);
                return EXIT_FAILURE;
            }
            _ => return EXIT_FAILURE,
        }
    }
}

/// util-linux's cap_permitted_to_ambient: the permitted capabilities become inheritable, and
/// the effective ones ambient, so that they survive exec.
fn permitted_to_ambient() -> R<()> {
    let permitted = caps::read(None, caps::CapSet::Permitted)
        .map_err(|e| Fail(format!("capget failed: {e}"), EXIT_FAILURE))?;
    caps::set(None, caps::CapSet::Inheritable, &permitted)
        .map_err(|e| Fail(format!("capset failed: {e}"), EXIT_FAILURE))?;
    let effective = caps::read(None, caps::CapSet::Effective)
        .map_err(|e| Fail(format!("capget failed: {e}"), EXIT_FAILURE))?;
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u8>().ok())
        .unwrap_or(u8::MAX);
    let mut effective: Vec<caps::Capability> = effective.into_iter().collect();
    effective.sort_by_key(|c| c.index());
    for cap in effective.into_iter().filter(|c| c.index() <= last) {
        caps::raise(None, caps::CapSet::Ambient, cap)
            .map_err(|e| Fail(format!("prctl(PR_CAP_AMBIENT) failed: {e}"), EXIT_FAILURE))?;
    }
    Ok(())
}

/// Executes the program with execvp(3), or the shell as util-linux's exec_shell does
/// (`$SHELL`, else /bin/sh, run as a login shell `-NAME`, no PATH search). Returns the failure.
fn exec_program(program: &[OsString]) -> Fail {
    let (err, name) = match program.split_first() {
        Some((prog, args)) => (
            std::process::Command::new(prog).args(args).exec(),
            prog.clone(),
        ),
        None => {
            let shell = std::env::var_os("SHELL").unwrap_or_else(|| "/bin/sh".into());
            let base = match shell.as_bytes().iter().rposition(|&b| b == b'/') {
                Some(p) if p + 1 < shell.len() => OsStr::from_bytes(&shell.as_bytes()[p + 1..]),
                _ => shell.as_os_str(),
            };
            let mut arg0 = OsString::from("-");
            arg0.push(base);
            // execl(3) takes the path as it is: relative to the working directory.
            let path = if shell.as_bytes().contains(&b'/') {
                shell.clone()
            } else {
                let mut p = OsString::from("./");
                p.push(&shell);
                p
            };
            (
                std::process::Command::new(path).arg0(arg0).exec(),
                shell.clone(),
            )
        }
    };
    let errno = io_errno(&err);
    let code = if errno == Errno::ENOENT {
        EXIT_EXEC_ENOENT
    } else {
        EXIT_EXEC_FAILED
    };
    Fail(
        format!(
            "failed to execute {}: {}",
            name.to_string_lossy(),
            strerror(errno)
        ),
        code,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(args: &[&str]) -> Vec<String> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        getopt_normalise(&args)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn optional_arguments_are_only_attached_ones() {
        assert_eq!(
            norm(&["-t", "1", "-m", "-u/f", "-n=/g", "ls", "-l"]),
            [
                "--target=1",
                "--mount",
                "--uts=/f",
                "--net==/g",
                "--",
                "ls",
                "-l"
            ]
        );
        // `-mu` is --mount with the file "u", as getopt has it.
        assert_eq!(norm(&["-t1", "-mu"]), ["--target=1", "--mount=u", "--"]);
        assert_eq!(
            norm(&["-aFt", "5", "--", "-x"]),
            ["--all", "--no-fork", "--target=5", "--", "-x"]
        );
    }

    #[test]
    fn long_options_may_be_abbreviated() {
        assert_eq!(
            norm(&["--tar", "7", "--pres", "--mount", "/x", "--se=1"]),
            [
                "--target=7",
                "--preserve-credentials",
                "--mount",
                "--",
                "/x",
                "--se=1"
            ]
        );
        assert_eq!(norm(&["--us"]), ["--us", "--"]);
        assert_eq!(norm(&["--user"]), ["--user", "--"]);
        assert_eq!(norm(&["--user-p"]), ["--user-parent", "--"]);
    }

    #[test]
    fn the_command_line_parses_like_getopt() {
        let parse = |args: &[&str]| {
            let mut full = vec![OsString::from("nsenter")];
            full.extend(getopt_normalise(
                &args.iter().map(OsString::from).collect::<Vec<_>>(),
            ));
            Args::command()
                .try_get_matches_from(full)
                .and_then(|m| Args::from_arg_matches(&m).map(|a| (a, Given::from_matches(&m))))
        };
        let (a, g) = parse(&["-t", "9", "-m=/a", "-m", "-r", "-S", "follow", "id", "-u"]).unwrap();
        assert_eq!(a.target.as_deref(), Some("9"));
        assert_eq!(
            g.mount,
            Occurrences {
                given: true,
                bare: true,
                last: Some("=/a".into())
            }
        );
        assert_eq!(strip_eq(g.mount.last.as_deref().unwrap()), "/a");
        assert!(g.root.given && g.root.bare && g.root.last.is_none());
        assert!(!g.uts.given);
        assert_eq!(a.setuid.as_deref(), Some("follow"));
        assert_eq!(a.program, ["id", "-u"]);
        // `--mount=` is a file named "" (that cannot be opened), not a bare --mount.
        let (_, g) = parse(&["--mount="]).unwrap();
        assert_eq!(g.mount.last.as_deref(), Some(OsStr::new("")));
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["-w", "-W/x"]).is_err(), "--wd and --wdns exclude");
        assert!(parse(&["-t"]).is_err());
    }

    #[test]
    fn numbers_parse_like_strtoul_or_err() {
        assert_eq!(parse_number("42", "x").ok(), Some(42));
        assert_eq!(parse_number(" +42", "x").ok(), Some(42));
        assert!(parse_number("-1", "x").is_err());
        assert!(parse_number("4x", "x").is_err());
        assert!(parse_number("", "x").is_err());
    }
}
