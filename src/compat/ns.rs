//! `sbx ns [PID]`: the namespaces of one process (default: the caller), as lsns(8) would list
//! them for that process alone. One line per entry of `/proc/PID/ns`:
//!
//! - TYPE: cgroup, ipc, mnt, net, pid, pid_for_children, time, time_for_children, user, uts;
//! - INODE: the namespace's inode number (what `readlink /proc/PID/ns/TYPE` shows);
//! - OWNER-USERNS: the inode of the user namespace that owns it (ioctl NS_GET_USERNS); for a
//!   user namespace, its parent (NS_GET_PARENT); `-` when that is out of the caller's sight
//!   (the initial user namespace has no parent);
//! - HOST: `yes` when it is PID 1's namespace of that type as the caller's /proc shows it,
//!   else `no`; `?` when PID 1's cannot be read.
//!
//! An entry that cannot be read has `-` in every column, then the reason. A process that does
//! not exist is sbx's own failure (125).

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

use nix::errno::Errno;

use crate::error::EXIT_SBX_FAILURE;
use crate::sys::linux;

/// The entries of `/proc/PID/ns`, in the order `ls` lists them.
pub const TYPES: [&str; 10] = [
    "cgroup",
    "ipc",
    "mnt",
    "net",
    "pid",
    "pid_for_children",
    "time",
    "time_for_children",
    "user",
    "uts",
];

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub ns_type: &'static str,
    pub inode: String,
    pub owner: String,
    pub host: String,
    /// Why the entry (or its owner) could not be read; empty when it could.
    pub note: String,
}

fn io_errno(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// The C library's text for an errno (what ls(1) would say).
fn strerror(e: Errno) -> String {
    let text = std::io::Error::from_raw_os_error(e as i32).to_string();
    match text.rfind(" (os error ") {
        Some(p) => text[..p].to_string(),
        None => text,
    }
}

/// (device, inode) of the namespace an fd refers to.
fn identity(fd: &File) -> Result<(u64, u64), Errno> {
    fd.metadata()
        .map(|m| (m.dev(), m.ino()))
        .map_err(|e| io_errno(&e))
}

/// The row of one entry of `proc_dir/ns/`.
pub fn row(proc_dir: &str, ns_type: &'static str) -> Row {
    let path = format!("{proc_dir}/ns/{ns_type}");
    let unreadable = |what: String| Row {
        ns_type,
        inode: "-".into(),
        owner: "-".into(),
        host: "-".into(),
        note: what,
    };
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) => return unreadable(format!("cannot open {path}: {}", strerror(io_errno(&e)))),
    };
    let (dev, ino) = match identity(&file) {
        Ok(id) => id,
        Err(e) => return unreadable(format!("cannot stat {path}: {}", strerror(e))),
    };
    let related = if ns_type == "user" {
        linux::ns_get_parent(file.as_raw_fd())
    } else {
        linux::ns_get_userns(file.as_raw_fd())
    };
    let mut note = String::new();
    let owner = match related.and_then(|fd: OwnedFd| identity(&File::from(fd))) {
        Ok((_, owner)) => owner.to_string(),
        // Above the caller's user namespace, or the top of the tree.
        Err(Errno::EPERM) => "-".into(),
        Err(e) => {
            note = format!("cannot get the owning user namespace: {}", strerror(e));
            "-".into()
        }
    };
    let host = match std::fs::metadata(format!("/proc/1/ns/{ns_type}")) {
        Ok(m) if (m.dev(), m.ino()) == (dev, ino) => "yes",
        Ok(_) => "no",
        Err(_) => "?",
    };
    Row {
        ns_type,
        inode: ino.to_string(),
        owner,
        host: host.into(),
        note,
    }
}

/// The table, header first, columns aligned.
pub fn render(rows: &[Row]) -> String {
    let header = Row {
        ns_type: "TYPE",
        inode: "INODE".into(),
        owner: "OWNER-USERNS".into(),
        host: "HOST".into(),
        note: String::new(),
    };
    let all: Vec<&Row> = std::iter::once(&header).chain(rows).collect();
    let w_type = all.iter().map(|r| r.ns_type.len()).max().unwrap_or(0);
    let w_inode = all.iter().map(|r| r.inode.len()).max().unwrap_or(0);
    let w_owner = all.iter().map(|r| r.owner.len()).max().unwrap_or(0);
    let w_host = all.iter().map(|r| r.host.len()).max().unwrap_or(0);
    let mut out = String::new();
    for r in all {
        let line = if r.note.is_empty() {
            format!(
                "{:w_type$} {:w_inode$} {:w_owner$} {}",
                r.ns_type, r.inode, r.owner, r.host
            )
        } else {
            format!(
                "{:w_type$} {:w_inode$} {:w_owner$} {:w_host$} {}",
                r.ns_type, r.inode, r.owner, r.host, r.note
            )
        };
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Entry point: `sbx ns [PID]`.
pub fn main(pid: Option<i32>) -> i32 {
    let proc_dir = match pid {
        Some(p) => format!("/proc/{p}"),
        None => "/proc/self".to_string(),
    };
    match pid {
        Some(p) if p <= 0 || std::fs::metadata(&proc_dir).is_err() => {
            eprintln!("sbx: ns: no such process: {p}");
            return EXIT_SBX_FAILURE;
        }
        None if std::fs::metadata(&proc_dir).is_err() => {
            eprintln!("sbx: ns: cannot read /proc/self: is /proc mounted?");
            return EXIT_SBX_FAILURE;
        }
        _ => {}
    }
    let rows: Vec<Row> = TYPES.iter().map(|t| row(&proc_dir, t)).collect();
    let text = render(&rows);
    if let Err(e) = std::io::stdout().lock().write_all(text.as_bytes()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("sbx: ns: cannot write the table: {e}");
            return EXIT_SBX_FAILURE;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_namespaces_match_proc_links() {
        for t in TYPES {
            let Ok(link) = std::fs::read_link(format!("/proc/self/ns/{t}")) else {
                continue;
            };
            let link = link.to_string_lossy().into_owned();
            let r = row("/proc/self", t);
            assert!(
                link.ends_with(&format!("[{}]", r.inode)),
                "{t}: {link} {r:?}"
            );
            assert!(["yes", "no", "?"].contains(&r.host.as_str()), "{r:?}");
        }
    }

    #[test]
    fn unreadable_entries_say_why() {
        let r = row("/proc/no-such-process", "net");
        assert_eq!((r.inode.as_str(), r.owner.as_str()), ("-", "-"));
        assert!(r.note.contains("No such file or directory"), "{r:?}");
        let table = render(&[r]);
        assert!(
            table.starts_with("TYPE INODE OWNER-USERNS HOST\n"),
            "{table}"
        );
        assert!(table
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("net  -     -            -    cannot open"));
    }
}
