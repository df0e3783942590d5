//! Named sandboxes. A sandbox started with `--name NAME` is described by an [`Entry`]: its
//! processes (with their start times, so a recycled pid is never taken for one of them), the
//! namespaces to join and the [`Confinement`] that `sbx enter` applies. Nothing a sandbox can
//! write is trusted for any of it:
//!
//! - the entry lives in a sealed memfd (no write, grow, shrink or new seal) that the sandbox's
//!   monitor, a process on the host, holds open for as long as the sandbox runs;
//! - the runtime directory (`$XDG_RUNTIME_DIR/sbx`, else `/run/user/UID/sbx`, else
//!   `/tmp/sbx-UID`; 0700 and the caller's) holds only a pointer per name: the monitor's pid
//!   and start time and the number of that fd. `sbx enter` and `sbx ps` take the pointer as a
//!   hint and verify it: the monitor must be alive, in the caller's user namespace (no sandbox
//!   is), run the same sbx binary, and the fd must be a sealed memfd whose entry names that
//!   same monitor. A rewritten pointer finds nothing, never another confinement;
//! - pointer files are written to a fresh name (O_EXCL, never through a symlink) and renamed
//!   into place; a reservation appears whole or not at all (renameat2 RENAME_NOREPLACE);
//! - stale pointers are removed only by an sbx in the monitor's own PID namespace, where a
//!   dead monitor is really dead (`sbx ps` inside a sandbox sees no host pids and removes
//!   nothing).

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::confine::Confinement;
use crate::error::{Error, Result};

/// What `sbx enter` needs to join and confine like the sandbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub name: String,
    pub monitor_pid: i32,
    pub monitor_start: u64,
    /// The keeper: in all of the sandbox's namespaces but the PID one (whose
    /// pid_for_children it has), and, unlike PID 1, open to its owner's /proc/PID/ns.
    pub keeper_pid: i32,
    pub keeper_start: u64,
    pub init_pid: i32,
    pub init_start: u64,
    pub policy: String,
    pub command: Vec<String>,
    /// Seconds since the epoch.
    pub started: u64,
    /// Where an entered command starts (/ when that is not in the sandbox).
    pub workdir: PathBuf,
    pub env: Vec<String>,
    /// Every namespace `sbx enter` must join (names of /proc/PID/ns files).
    pub namespaces: Vec<String>,
    pub confinement: Confinement,
}

/// The file of a name in the runtime directory: where to find the entry. Untrusted.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pointer {
    monitor_pid: i32,
    monitor_start: u64,
    /// The inode of the monitor's PID namespace: only an sbx in it may judge it dead.
    pidns: u64,
    /// The monitor's fd of the sealed entry; absent while the sandbox starts.
    entry_fd: Option<i32>,
}

fn err(what: String, hint: &str) -> Error {
    Error::Registry {
        what,
        hint: hint.to_string(),
    }
}

/// The caller's runtime directory for sbx, created 0700 if missing and checked if present.
pub fn runtime_dir(uid: u32, xdg_runtime_dir: Option<&str>) -> Result<PathBuf> {
    let candidates: Vec<PathBuf> = xdg_runtime_dir
        .filter(|d| d.starts_with('/'))
        .map(|d| PathBuf::from(d).join("sbx"))
        .into_iter()
        .chain([
            PathBuf::from(format!("/run/user/{uid}/sbx")),
            PathBuf::from(format!("/tmp/sbx-{uid}")),
        ])
        .collect();
    for dir in &candidates {
        let parent = dir.parent().unwrap_or(Path::new("/"));
        let usable_parent = parent
            .metadata()
            .is_ok_and(|m| m.is_dir() && (m.uid() == uid || parent == Path::new("/tmp")));
        if !usable_parent {
            continue;
        }
        match std::fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(_) => continue,
        }
        let meta = std::fs::symlink_metadata(dir)
            .map_err(|e| err(format!("cannot inspect {}: {e}", dir.display()), ""))?;
        if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
            return Err(err(
                format!("{} is not a private directory of yours (it must be a 0700 directory owned by uid {uid})", dir.display()),
                "remove it, or set XDG_RUNTIME_DIR to a directory of your own",
            ));
        }
        return Ok(dir.clone());
    }
    Err(err(
        "no runtime directory for named sandboxes".into(),
        "set XDG_RUNTIME_DIR to a directory of your own",
    ))
}

/// Checks a sandbox name: letters, digits, `.`, `_`, `-`, not starting with `.`.
pub fn validate_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "--name {name:?}: use 1 to 64 letters, digits, '.', '_' or '-', not starting with '.'"
        ))
    }
}

/// The start time of a process (clock ticks since boot, field 22 of /proc/PID/stat).
pub fn start_time(pid: i32) -> Option<u64> {
    stat_field(pid, 19)
}

/// The parent of a process (field 4 of /proc/PID/stat).
fn parent_pid(pid: i32) -> Option<i32> {
    stat_field(pid, 1).map(|p| p as i32)
}

fn stat_field(pid: i32, index_after_comm: usize) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(index_after_comm)?.parse().ok()
}

/// Whether the process `pid` is the one that started at `start`.
pub fn alive(pid: i32, start: u64) -> bool {
    pid > 0 && start_time(pid) == Some(start)
}

/// The inode of a namespace of a process (`self` or a pid).
fn ns_inode(pid: &str, ns: &str) -> Option<u64> {
    std::fs::metadata(format!("/proc/{pid}/ns/{ns}"))
        .ok()
        .map(|m| m.ino())
}

fn entry_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.toml"))
}

/// Writes `text` to a fresh file beside `path` (O_EXCL, so never through a planted symlink)
/// and renames it over `path`, or (with `no_replace`) only where nothing is yet.
fn write_into_place(path: &Path, text: &str, no_replace: bool) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(
        ".{}.{}.{nanos}.tmp",
        path.file_name().map_or("x".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)?;
    let written = f.write_all(text.as_bytes());
    drop(f);
    let renamed = written.and_then(|_| {
        let flags = if no_replace {
            nix::fcntl::RenameFlags::RENAME_NOREPLACE
        } else {
            nix::fcntl::RenameFlags::empty()
        };
        nix::fcntl::renameat2(None, &tmp, None, path, flags).map_err(std::io::Error::from)
    });
    if renamed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    renamed
}

/// Reads a pointer file (never through a symlink, at most 4 KiB).
fn read_pointer(path: &Path) -> Option<Pointer> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    f.take(4096).read_to_string(&mut text).ok()?;
    toml::from_str(&text).ok()
}

/// Reserves `name` for the monitor `pid`: fails when a live sandbox has it; a stale pointer
/// (whose monitor is gone, judged in its own PID namespace) is removed first.
pub fn reserve(dir: &Path, name: &str, monitor_pid: i32) -> Result<PathBuf> {
    let path = entry_path(dir, name);
    let pointer = Pointer {
        monitor_pid,
        monitor_start: start_time(monitor_pid).unwrap_or(0),
        pidns: ns_inode("self", "pid").unwrap_or(0),
        entry_fd: None,
    };
    let text = toml::to_string(&pointer)
        .map_err(|e| err(format!("cannot encode the reservation: {e}"), ""))?;
    for _ in 0..3 {
        match write_into_place(&path, &text, true) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if !stale(&path) {
                    return Err(err(
                        format!("a sandbox named {name:?} is already running"),
                        "choose another --name, or `sbx ps` to see the running ones",
                    ));
                }
                let _ = std::fs::remove_file(&path);
            }
            Err(e) => {
                return Err(err(
                    format!("cannot create {}: {e}", path.display()),
                    "check the runtime directory",
                ))
            }
        }
    }
    Err(err(
        format!("cannot reserve the name {name:?}"),
        "try again",
    ))
}

/// Whether the pointer at `path` can be removed: unreadable garbage, or a monitor that is gone
/// as seen from the monitor's own PID namespace.
fn stale(path: &Path) -> bool {
    match read_pointer(path) {
        None => std::fs::symlink_metadata(path).is_ok(),
        Some(p) => {
            p.pidns == ns_inode("self", "pid").unwrap_or(u64::MAX)
                && !alive(p.monitor_pid, p.monitor_start)
        }
    }
}

/// An entry as the monitor keeps it: a sealed memfd. Keep it alive as long as the sandbox.
pub struct Published {
    _memfd: OwnedFd,
}

/// Seals the entry into a memfd of this (the monitor's) process and points the reservation
/// at it.
pub fn publish(path: &Path, entry: &Entry) -> Result<Published> {
    use nix::fcntl::{fcntl, FcntlArg, SealFlag};
    use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
    let text = toml::to_string(entry)
        .map_err(|e| err(format!("cannot encode the sandbox entry: {e}"), ""))?;
    let fail = |e: nix::errno::Errno| err(format!("cannot keep the sandbox entry: {e}"), "");
    let memfd = memfd_create(
        c"sbx-entry",
        MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING,
    )
    .map_err(fail)?;
    crate::sys::linux::write_all_raw(memfd.as_raw_fd(), text.as_bytes()).map_err(fail)?;
    fcntl(
        memfd.as_raw_fd(),
        FcntlArg::F_ADD_SEALS(
            SealFlag::F_SEAL_WRITE
                | SealFlag::F_SEAL_GROW
                | SealFlag::F_SEAL_SHRINK
                | SealFlag::F_SEAL_SEAL,
        ),
    )
    .map_err(fail)?;
    let pointer = Pointer {
        monitor_pid: entry.monitor_pid,
        monitor_start: entry.monitor_start,
        pidns: ns_inode("self", "pid").unwrap_or(0),
        entry_fd: Some(memfd.as_raw_fd()),
    };
    let text = toml::to_string(&pointer)
        .map_err(|e| err(format!("cannot encode the pointer: {e}"), ""))?;
    write_into_place(path, &text, false).map_err(|e| {
        err(
            format!("cannot write {}: {e}", path.display()),
            "check the runtime directory",
        )
    })?;
    Ok(Published { _memfd: memfd })
}

/// Why the entry a pointer leads to cannot be trusted, or the entry.
fn verify(pointer: &Pointer) -> Result<Entry, String> {
    let pid = pointer.monitor_pid;
    if !alive(pid, pointer.monitor_start) {
        return Err("its sbx is no longer running".into());
    }
    if ns_inode(&pid.to_string(), "user") != ns_inode("self", "user") {
        return Err(format!(
            "process {pid} is not in your user namespace (a sandbox's process is never a monitor)"
        ));
    }
    let exe = |p: &str| {
        std::fs::metadata(format!("/proc/{p}/exe"))
            .ok()
            .map(|m| (m.dev(), m.ino()))
    };
    if exe(&pid.to_string()).is_none() || exe(&pid.to_string()) != exe("self") {
        return Err(format!(
            "process {pid} does not run this sbx binary (was sbx upgraded? restart the sandbox)"
        ));
    }
    let fd = pointer.entry_fd.ok_or("it is still starting")?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(format!("/proc/{pid}/fd/{fd}"))
        .map_err(|e| format!("cannot open its entry: {e}"))?;
    use nix::fcntl::{fcntl, FcntlArg, SealFlag};
    let seals = fcntl(file.as_raw_fd(), FcntlArg::F_GET_SEALS)
        .map(SealFlag::from_bits_truncate)
        .map_err(|_| "its entry is not a sealed memfd".to_string())?;
    let needed = SealFlag::F_SEAL_WRITE
        | SealFlag::F_SEAL_GROW
        | SealFlag::F_SEAL_SHRINK
        | SealFlag::F_SEAL_SEAL;
    if !seals.contains(needed) {
        return Err("its entry is not sealed".into());
    }
    let mut text = String::new();
    file.take(1 << 20)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read its entry: {e}"))?;
    let entry: Entry = toml::from_str(&text).map_err(|e| format!("its entry: {e}"))?;
    if entry.monitor_pid != pid || entry.monitor_start != pointer.monitor_start {
        return Err("its entry belongs to another sbx".into());
    }
    if !alive(entry.keeper_pid, entry.keeper_start) || parent_pid(entry.keeper_pid) != Some(pid) {
        return Err("its keeper process is gone".into());
    }
    if !alive(entry.init_pid, entry.init_start) {
        return Err("its PID 1 is gone".into());
    }
    Ok(entry)
}

/// The verified entries of running sandboxes; stale pointers are removed (see the module
/// documentation), others that fail verification are left alone and reported with -v only.
pub fn live_entries(dir: &Path) -> Vec<Entry> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in read.flatten() {
        let path = e.path();
        let is_pointer = path.extension().is_some_and(|x| x == "toml")
            && !path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if !is_pointer {
            continue;
        }
        let name = path
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match read_pointer(&path).map(|p| verify(&p)) {
            Some(Ok(entry)) if entry.name == name => out.push(entry),
            _ if stale(&path) => {
                let _ = std::fs::remove_file(&path);
            }
            _ => {}
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The verified entry of the sandbox `name`, or why there is none.
pub fn find(dir: &Path, name: &str) -> Result<Entry> {
    let path = entry_path(dir, name);
    let pointer = read_pointer(&path).ok_or_else(|| {
        err(
            format!("no running sandbox named {name:?}"),
            "`sbx ps` lists your running sandboxes",
        )
    })?;
    let entry = verify(&pointer).map_err(|why| {
        err(
            format!("the sandbox named {name:?} cannot be entered: {why}"),
            "`sbx ps` lists your running sandboxes",
        )
    })?;
    if entry.name != name {
        return Err(err(
            format!("the entry for {name:?} names another sandbox"),
            "`sbx ps` lists your running sandboxes",
        ));
    }
    Ok(entry)
}

/// `sbx ps`.
pub fn ps(dir: &Path) -> i32 {
    let entries = live_entries(dir);
    println!(
        "{:<16} {:>8} {:<12} {:<20} COMMAND",
        "NAME", "PID", "POLICY", "STARTED"
    );
    for e in entries {
        println!(
            "{:<16} {:>8} {:<12} {:<20} {}",
            e.name,
            e.monitor_pid,
            e.policy,
            format_time(e.started),
            e.command.join(" ")
        );
    }
    0
}

/// A UTC timestamp, `YYYY-MM-DD HH:MM:SS`.
pub fn format_time(secs: u64) -> String {
    let days = secs / 86400;
    let rem = secs % 86400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sbx-reg-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn names_are_checked() {
        assert!(validate_name("b1").is_ok());
        assert!(validate_name("my.box-2_x").is_ok());
        for bad in ["", ".hidden", "a/b", "x y", &"a".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_format_as_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_time(1_732_867_200), "2024-11-29 08:00:00");
    }

    #[test]
    fn this_process_is_alive_and_a_wrong_start_time_is_not() {
        let me = std::process::id() as i32;
        let start = start_time(me).unwrap();
        assert!(alive(me, start));
        assert!(!alive(me, start + 1));
    }

    #[test]
    fn the_runtime_dir_must_be_private() {
        let base = tmpdir("rt");
        let uid = nix::unistd::getuid().as_raw();
        let dir = runtime_dir(uid, base.to_str()).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        assert!(runtime_dir(uid, base.to_str()).is_err());
        std::fs::remove_dir_all(base).unwrap();
    }

    #[test]
    fn a_reservation_is_whole_and_never_follows_a_planted_symlink() {
        let dir = tmpdir("reserve");
        let victim = dir.join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let me = std::process::id() as i32;
        let path = reserve(&dir, "b", me).unwrap();
        let p = read_pointer(&path).unwrap();
        assert_eq!((p.monitor_pid, p.entry_fd), (me, None));
        // The name is taken while this process lives.
        assert!(reserve(&dir, "b", me).is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        // A planted symlink as the pointer itself is not read through.
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        assert!(read_pointer(&path).is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_pointer_to_something_else_is_not_an_entry() {
        let me = std::process::id() as i32;
        let start = start_time(me).unwrap();
        let ours = ns_inode("self", "pid").unwrap();
        // An fd of this process that is not a sealed memfd.
        let f = std::fs::File::open("/etc/hostname").unwrap();
        let p = Pointer {
            monitor_pid: me,
            monitor_start: start,
            pidns: ours,
            entry_fd: Some(f.as_raw_fd()),
        };
        let why = verify(&p).unwrap_err();
        assert!(why.contains("memfd"), "{why}");
        // A dead or recycled pid.
        let p = Pointer {
            monitor_start: start + 1,
            ..p
        };
        assert!(verify(&p).unwrap_err().contains("no longer running"));
    }
}
