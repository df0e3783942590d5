//! Named sandboxes: a per-user runtime directory (`$XDG_RUNTIME_DIR/sbx`, else
//! `/run/user/UID/sbx`, else `/tmp/sbx-UID`; always 0700 and owned by the caller) with one file
//! per running sandbox. An entry records the monitor's and PID 1's pids with their start times
//! (so a recycled pid is never taken for the sandbox) and the confinement that `sbx enter`
//! applies again. Entries of sandboxes that are gone, even after sbx was killed with SIGKILL,
//! are removed by the next `sbx ps`, `sbx enter` or `--name` that sees them.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::confine::landlock::LandlockPlan;
use crate::error::{Error, Result};

/// What `sbx enter` needs to join and confine like the sandbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    pub monitor_pid: i32,
    pub monitor_start: u64,
    pub init_pid: i32,
    pub init_start: u64,
    /// The keeper: in all of the sandbox's namespaces but the PID one (whose pid_for_children
    /// it has), and, unlike PID 1, open to its owner's /proc/PID/ns.
    pub keeper_pid: i32,
    pub policy: String,
    pub command: Vec<String>,
    /// Seconds since the epoch.
    pub started: u64,
    pub workdir: String,
    pub env: Vec<String>,
    pub keep_caps: u64,
    pub umask: Option<u32>,
    pub limits: Vec<(String, u64)>,
    pub landlock: LandlockPlan,
    /// The seccomp program as (code, jt, jf, k) instructions.
    pub seccomp: Option<Vec<(u16, u8, u8, u32)>>,
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
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

/// Whether the process `pid` is the one that started at `start`.
pub fn alive(pid: i32, start: u64) -> bool {
    start_time(pid) == Some(start)
}

fn entry_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.toml"))
}

/// Reserves `name` for the monitor `pid`: fails when a live sandbox has it; a stale entry is
/// removed first.
pub fn reserve(dir: &Path, name: &str, monitor_pid: i32) -> Result<PathBuf> {
    let path = entry_path(dir, name);
    for _ in 0..2 {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut f) => {
                let start = start_time(monitor_pid).unwrap_or(0);
                let _ = writeln!(
                    f,
                    "# reserved\nmonitor_pid = {monitor_pid}\nmonitor_start = {start}"
                );
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if is_live(&path) {
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

/// Whether the entry (or reservation) at `path` belongs to a live monitor.
fn is_live(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    #[derive(Deserialize)]
    struct Head {
        monitor_pid: i32,
        monitor_start: u64,
    }
    toml::from_str::<Head>(&text).is_ok_and(|h| alive(h.monitor_pid, h.monitor_start))
}

/// Writes the full entry over the reservation (atomically, by rename).
pub fn publish(path: &Path, entry: &Entry) -> Result<()> {
    let text = toml::to_string(entry)
        .map_err(|e| err(format!("cannot encode the sandbox entry: {e}"), ""))?;
    let tmp = path.with_extension("tmp");
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| {
            err(
                format!("cannot write {}: {e}", path.display()),
                "check the runtime directory",
            )
        })
}

/// The live entries, removing the stale ones.
pub fn live_entries(dir: &Path) -> Vec<Entry> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in read.flatten() {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let entry = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| toml::from_str::<Entry>(&t).ok());
        match entry {
            Some(entry)
                if alive(entry.monitor_pid, entry.monitor_start)
                    && alive(entry.init_pid, entry.init_start) =>
            {
                out.push(entry)
            }
            // A reservation of a sandbox still starting is left alone.
            None if is_live(&path) => {}
            _ => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
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
        let base = std::env::temp_dir().join(format!("sbx-rt-{}", std::process::id()));
        std::fs::create_dir_all(&base).unwrap();
        let uid = nix::unistd::getuid().as_raw();
        let dir = runtime_dir(uid, base.to_str()).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        assert!(runtime_dir(uid, base.to_str()).is_err());
        std::fs::remove_dir_all(base).unwrap();
    }
}
