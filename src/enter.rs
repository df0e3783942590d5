//! `sbx enter NAME|PID|DIR [-- CMD]`: join a running sandbox of the caller's (or namespaces
//! persisted with --persist) and run a command there under the same confinement as the
//! sandbox: the user namespace first (so that a rootless caller gains the rights to join the
//! rest), then every other namespace the sandbox has, the mount namespace last; then the
//! confinement, through the same code as the sandbox's own command ([`confine_and_exec`]).
//! Entering never gives more than the sandbox has, and never runs a command without joining
//! every namespace the entry names.
//!
//! What to join and how to confine comes from the sealed entry that the sandbox's monitor
//! holds ([`crate::registry`]), never from a file a sandbox could write; for a --persist
//! directory (real root), from its `sbx.toml` once the directory, the file and every
//! namespace file check out.

use std::ffi::{CString, OsString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;

use crate::confine::{confine_and_exec, Workdir};
use crate::error::{Error, Result};
use crate::registry::{self, Entry};
use crate::sys::linux::{self, Fork};

/// The namespaces joined, in order: the user namespace first, the mount namespace last.
const JOIN_ORDER: [(&str, CloneFlags); 8] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    (
        "time",
        CloneFlags::from_bits_retain(crate::ns::CLONE_NEWTIME),
    ),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

fn err(what: String, hint: &str) -> Error {
    Error::Registry {
        what,
        hint: hint.to_string(),
    }
}

/// The namespace files of a target: /proc/PID/ns, or a --persist directory.
enum Source {
    /// The keeper's pid: its pid_for_children and time_for_children are the sandbox's.
    Proc(i32),
    Dir(PathBuf),
}

impl Source {
    fn ns_path(&self, name: &str) -> PathBuf {
        match self {
            Source::Proc(pid) => {
                let file = match name {
                    "pid" => "pid_for_children",
                    "time" => "time_for_children",
                    other => other,
                };
                PathBuf::from(format!("/proc/{pid}/ns/{file}"))
            }
            Source::Dir(dir) => dir.join(name),
        }
    }
}

/// Finds the sandbox `target` names: a --persist directory (a value with a `/`), a pid (the
/// sbx monitor's, the keeper's or the sandbox's PID 1), or a name.
fn find(target: &str, uid: u32, xdg: Option<&str>) -> Result<(Entry, Source)> {
    if target.contains('/') {
        let d = PathBuf::from(target);
        return Ok((persisted(&d, uid)?, Source::Dir(d)));
    }
    let dir = registry::runtime_dir(uid, xdg)?;
    if let Ok(pid) = target.parse::<i32>() {
        let entries = registry::live_entries(&dir);
        if let Some(e) = entries
            .into_iter()
            .find(|e| [e.monitor_pid, e.keeper_pid, e.init_pid].contains(&pid))
        {
            let keeper = e.keeper_pid;
            return Ok((e, Source::Proc(keeper)));
        }
        return Err(match std::fs::metadata(format!("/proc/{pid}")) {
            Err(_) => err(
                format!("no process {pid}"),
                "`sbx ps` lists your running sandboxes",
            ),
            Ok(m) if m.uid() != uid => err(
                format!(
                    "process {pid} belongs to uid {}: sbx enters only your own sandboxes",
                    m.uid()
                ),
                "run sbx enter as that user",
            ),
            Ok(_) => err(
                format!("process {pid} is not a sandbox of yours"),
                "`sbx ps` lists your running sandboxes",
            ),
        });
    }
    registry::validate_name(target).map_err(|e| err(e.replace("--name", "enter"), ""))?;
    let e = registry::find(&dir, target)?;
    let keeper = e.keeper_pid;
    Ok((e, Source::Proc(keeper)))
}

/// The entry of a --persist directory, after checking that nobody else could have written it:
/// the directory and its `sbx.toml` belong to the caller and only the caller may write them.
fn persisted(dir: &Path, uid: u32) -> Result<Entry> {
    let bad = |why: String| {
        err(
            format!("{}: {why}", dir.display()),
            "give the DIR of `sbx --persist DIR`, as the user who made it",
        )
    };
    let meta = std::fs::symlink_metadata(dir).map_err(|e| bad(e.to_string()))?;
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o022 != 0 {
        return Err(bad(format!(
            "not a directory of uid {uid} that only it can write"
        )));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(dir.join("sbx.toml"))
        .map_err(|e| bad(format!("no sbx.toml of persisted namespaces ({e})")))?;
    let m = file.metadata().map_err(|e| bad(e.to_string()))?;
    if !m.is_file() || m.uid() != uid || m.mode() & 0o077 != 0 {
        return Err(bad("sbx.toml must be a 0600 file of yours".into()));
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(file, 1 << 20), &mut text)
        .map_err(|e| bad(e.to_string()))?;
    toml::from_str(&text).map_err(|e| bad(format!("sbx.toml: {e}")))
}

/// `sbx enter`.
pub fn enter(target: &str, command: Vec<OsString>, uid: u32, xdg: Option<&str>) -> Result<i32> {
    let (entry, source) = find(target, uid, xdg)?;
    for name in &entry.namespaces {
        if !JOIN_ORDER.iter().any(|(n, _)| n == name) {
            return Err(err(
                format!("the entry names an unknown namespace {name:?}"),
                "",
            ));
        }
    }
    if !entry.namespaces.iter().any(|n| n == "user") || !entry.namespaces.iter().any(|n| n == "mnt")
    {
        return Err(err(
            "the entry names no user or mount namespace: entering would run on the host".into(),
            "",
        ));
    }
    // Open every namespace first, while /proc is still the host's.
    let mut fds: Vec<(&str, CloneFlags, OwnedFd)> = Vec::new();
    for (name, flag) in JOIN_ORDER {
        if !entry.namespaces.iter().any(|n| n == name) {
            continue;
        }
        let path = source.ns_path(name);
        // /proc/PID/ns files are magic links; a --persist directory holds no symlink.
        let nofollow = match source {
            Source::Dir(_) => libc::O_NOFOLLOW,
            Source::Proc(_) => 0,
        };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_CLOEXEC | nofollow)
            .open(&path)
            .map_err(|e| {
                err(
                    format!("cannot open {}: {e}", path.display()),
                    "the sandbox may have just ended",
                )
            })?;
        let fd = OwnedFd::from(file);
        let is_ns = nix::sys::statfs::fstatfs(&fd)
            .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::NSFS_MAGIC);
        if !is_ns {
            return Err(err(
                format!("{} is not a namespace file", path.display()),
                "sbx enters only namespaces that sbx persisted or a running sandbox has",
            ));
        }
        let theirs = nix::sys::stat::fstat(fd.as_raw_fd())
            .map(|st| st.st_ino)
            .ok();
        let ours = std::fs::metadata(format!("/proc/self/ns/{name}"))
            .map(|m| m.ino())
            .ok();
        if ours.is_some() && ours == theirs {
            continue; // a namespace the sandbox shares with the host: joined already
        }
        fds.push((name, flag, fd));
    }
    for (name, flag, fd) in &fds {
        nix::sched::setns(fd.as_fd(), *flag).map_err(|errno| {
            err(
                format!("cannot join the sandbox's {name} namespace: {errno}"),
                "enter works for your own sandboxes only",
            )
        })?;
    }
    drop(fds);
    if !entry.namespaces.iter().any(|n| n == "pid") {
        // Persisted namespaces have no PID namespace (it ends with its processes): the command
        // gets a new one rather than the host's processes to see and signal.
        nix::sched::unshare(CloneFlags::CLONE_NEWPID).map_err(|errno| {
            err(
                format!("cannot create a PID namespace for the command: {errno}"),
                "",
            )
        })?;
    }
    let envp: Vec<CString> = entry
        .env
        .iter()
        .filter_map(|e| CString::new(e.as_bytes()).ok())
        .collect();
    let command = if command.is_empty() {
        let shell = entry
            .env
            .iter()
            .find_map(|e| e.strip_prefix("SHELL="))
            .filter(|s| !s.is_empty())
            .unwrap_or("/bin/sh");
        vec![OsString::from(shell)]
    } else {
        command
    };
    let argv = command
        .into_iter()
        .map(|a| CString::new(a.into_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            Error::Usage("the command or one of its arguments contains a NUL byte".into())
        })?;
    let workdir = Workdir::Inherited(Some(entry.workdir.clone()));
    match linux::fork().map_err(Error::process("fork"))? {
        Fork::Child => {
            // Until it executes the command it holds every capability of the sandbox's user
            // namespace: nothing inside may ptrace it or take its fds.
            if let Err(errno) = linux::set_dumpable(false) {
                linux::exit_now(crate::run::report(&Error::Process {
                    what: "become non-dumpable",
                    errno,
                }));
            }
            let mut sys = crate::sys::Linux;
            let e = confine_and_exec(&mut sys, &entry.confinement, &workdir, &argv, &envp, false);
            linux::exit_now(crate::run::report(&e))
        }
        Fork::Parent(pid) => Ok(crate::ns::pid::exit_code(crate::ns::pid::wait_for(pid)?)),
    }
}
