//! `sbx enter NAME|PID|DIR [-- CMD]`: join a running sandbox of the caller's (or namespaces
//! persisted with --persist) and run a command there under the same confinement as the
//! sandbox: the user namespace first (so that a rootless caller gains the rights to join the
//! rest), then the other namespaces, the sandbox's root and working directory; then landlock,
//! resource limits, capabilities, no_new_privs and seccomp, before exec. Entering never gives
//! more than the sandbox has.

use std::ffi::{CString, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;

use crate::confine::{caps, landlock, limits};
use crate::error::{Error, Result};
use crate::registry::{self, Entry};
use crate::sys::linux::{self, Fork};

/// The namespaces joined, in order: the user namespace first.
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
/// sbx monitor's or the sandbox's PID 1), or a name.
fn find(target: &str, dir: &Path, uid: u32) -> Result<(Entry, Source)> {
    if target.contains('/') {
        let d = PathBuf::from(target);
        let text = std::fs::read_to_string(d.join("sbx.toml")).map_err(|e| {
            err(
                format!("{target}: not a directory of persisted namespaces ({e})"),
                "give the DIR of `sbx --persist DIR`",
            )
        })?;
        let entry: Entry =
            toml::from_str(&text).map_err(|e| err(format!("{target}/sbx.toml: {e}"), ""))?;
        return Ok((entry, Source::Dir(d)));
    }
    let entries = registry::live_entries(dir);
    if let Ok(pid) = target.parse::<i32>() {
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
    match entries.into_iter().find(|e| e.name == target) {
        Some(e) => {
            let keeper = e.keeper_pid;
            Ok((e, Source::Proc(keeper)))
        }
        None => Err(err(
            format!("no running sandbox named {target:?}"),
            "`sbx ps` lists your running sandboxes",
        )),
    }
}

/// `sbx enter`.
pub fn enter(target: &str, command: Vec<OsString>, uid: u32, xdg: Option<&str>) -> Result<i32> {
    let dir = registry::runtime_dir(uid, xdg)?;
    let (entry, source) = find(target, &dir, uid)?;
    // Open every namespace first, while /proc is still the host's.
    let mut fds: Vec<(&str, CloneFlags, OwnedFd)> = Vec::new();
    for (name, flag) in JOIN_ORDER {
        let path = source.ns_path(name);
        let theirs = match std::fs::metadata(&path) {
            Ok(m) => m.ino(),
            Err(_) if matches!(source, Source::Dir(_)) => continue,
            Err(e) => {
                return Err(err(
                    format!("cannot open {}: {e}", path.display()),
                    "the sandbox may have just ended",
                ))
            }
        };
        let ours = std::fs::metadata(format!("/proc/self/ns/{name}"))
            .map(|m| m.ino())
            .ok();
        if ours == Some(theirs) {
            continue; // a namespace the sandbox shares with the host
        }
        let fd = std::fs::File::open(&path)
            .map_err(|e| err(format!("cannot open {}: {e}", path.display()), ""))?;
        fds.push((name, flag, fd.into()));
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
    if nix::unistd::chdir(entry.workdir.as_str()).is_err() {
        let _ = nix::unistd::chdir("/");
    }
    match linux::fork().map_err(Error::process("fork"))? {
        Fork::Child => {
            let e = confine_and_exec(&entry, command);
            linux::exit_now(crate::run::report(&e))
        }
        Fork::Parent(pid) => Ok(crate::ns::pid::exit_code(crate::ns::pid::wait_for(pid)?)),
    }
}

fn confine_and_exec(entry: &Entry, command: Vec<OsString>) -> Error {
    linux::restore_sigpipe();
    let run = || -> Result<()> {
        landlock::restrict(&entry.landlock)?;
        let mut lims = Vec::new();
        for (name, v) in &entry.limits {
            if let Some(r) = limits::resource(name) {
                lims.push((r, *v));
            }
        }
        limits::apply(&lims)?;
        let mut sys = crate::sys::Linux;
        caps::drop_capabilities(&mut sys, entry.keep_caps)?;
        caps::set_no_new_privs(&mut sys)?;
        if let Some(mask) = entry.umask {
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
        }
        linux::close_range_from(3, false).map_err(Error::process("close inherited fds"))?;
        if let Some(program) = &entry.seccomp {
            let prog: Vec<crate::confine::seccomp::sock_filter> = program
                .iter()
                .map(|&(code, jt, jf, k)| crate::confine::seccomp::sock_filter { code, jt, jf, k })
                .collect();
            crate::confine::seccomp::install(&prog)?;
        }
        Ok(())
    };
    if let Err(e) = run() {
        return e;
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
            .unwrap_or("/bin/sh");
        vec![OsString::from(shell)]
    } else {
        command
    };
    let argv: Vec<CString> = command
        .into_iter()
        .filter_map(|a| CString::new(a.into_vec()).ok())
        .collect();
    let path = crate::exec::path_of(&envp).to_vec();
    crate::exec::exec(&argv, &envp, &path)
}
