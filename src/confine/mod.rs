//! Confinement applied to the command just before it is executed (step 4 of the setup), in
//! this order: a new session if asked, a nested user namespace when CAP_SYS_ADMIN is kept (so
//! that the view's mounts are locked), the working directory, landlock, resource limits,
//! capabilities (the bounding set too) and no_new_privs, the umask, inherited fds closed, then
//! seccomp last and exec. `sbx --` and `sbx enter` confine through this one path
//! ([`confine_and_exec`]), from the same [`Confinement`].

pub mod caps;
pub mod landlock;
pub mod limits;
pub mod seccomp;

use std::ffi::CString;
use std::path::{Path, PathBuf};

use nix::sys::resource::Resource;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sys::{linux, Sys};

/// Everything that confines the command, as planned once (and kept by a named sandbox's
/// monitor for `sbx enter`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confinement {
    /// setsid() before exec.
    pub new_session: bool,
    pub landlock: landlock::LandlockPlan,
    #[serde(with = "limits_by_name")]
    pub limits: Vec<(Resource, u64)>,
    /// Capabilities kept, as a bit mask over capability numbers.
    pub keep_caps: u64,
    pub umask: Option<u32>,
    /// The compiled seccomp filter, installed last; None when the policy disables it.
    #[serde(with = "filter_as_tuples")]
    pub seccomp: Option<Vec<seccomp::sock_filter>>,
}

impl Confinement {
    /// Whether the command runs in a nested user namespace with a mount namespace of its own,
    /// whose copy of the view is locked: when it keeps CAP_SYS_ADMIN, which can make new
    /// mounts there but never unmount, remount or move the view's. Derived, so that no entry
    /// can keep the capability without the lock.
    pub fn nested_userns(&self) -> bool {
        self.keep_caps & ::caps::Capability::CAP_SYS_ADMIN.bitmask() != 0
    }
}

/// Where the command starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Workdir {
    /// Asked for with --chdir: failing to enter it is an error.
    Explicit(PathBuf),
    /// The caller's directory, when it exists inside; else /.
    Inherited(Option<PathBuf>),
}

macro_rules! step {
    ($verbose:expr, $($arg:tt)*) => {
        if $verbose {
            eprintln!("sbx: {}", format_args!($($arg)*));
        }
    };
}

/// Confines this process and executes the command; returns only on failure.
pub fn confine_and_exec(
    sys: &mut impl Sys,
    c: &Confinement,
    workdir: &Workdir,
    argv: &[CString],
    envp: &[CString],
    verbose: bool,
) -> Error {
    if let Err(e) = crate::ns::pid::unblock_all_signals() {
        return e;
    }
    linux::restore_sigpipe();
    if let Err(e) = confine(sys, c, workdir, verbose) {
        return e;
    }
    if let Err(errno) = linux::close_range_from(3, false) {
        return Error::Process {
            what: "close inherited file descriptors",
            errno,
        };
    }
    if let Err(e) = install_seccomp(sys, c, verbose) {
        return e;
    }
    step!(verbose, "exec {:?}", argv[0]);
    crate::exec::exec(argv, envp, crate::exec::path_of(envp))
}

/// Step 4 up to seccomp: session, nested user namespace, working directory, landlock, limits,
/// capabilities, no_new_privs and umask.
pub fn confine(
    sys: &mut impl Sys,
    c: &Confinement,
    workdir: &Workdir,
    verbose: bool,
) -> Result<()> {
    if c.new_session {
        sys.setsid()
            .map_err(Error::process("create a new session"))?;
    }
    if c.nested_userns() {
        step!(
            verbose,
            "nested user and mount namespaces: the view's mounts are locked"
        );
        nest(sys)?;
    }
    enter_workdir(sys, workdir, verbose)?;
    step!(verbose, "landlock ({:?})", c.landlock.mode);
    for note in sys.landlock_restrict(&c.landlock)? {
        step!(verbose, "{note}");
    }
    if !c.limits.is_empty() {
        step!(verbose, "resource limits {:?}", c.limits);
        sys.set_rlimits(&c.limits)?;
    }
    step!(
        verbose,
        "drop capabilities (keeping {:#x}), set no_new_privs",
        c.keep_caps
    );
    caps::drop_capabilities(sys, c.keep_caps)?;
    caps::set_no_new_privs(sys)?;
    if let Some(mask) = c.umask {
        sys.umask(mask);
    }
    Ok(())
}

/// The last step before exec: the seccomp filter.
pub fn install_seccomp(sys: &mut impl Sys, c: &Confinement, verbose: bool) -> Result<()> {
    if let Some(program) = &c.seccomp {
        step!(verbose, "seccomp filter ({} instructions)", program.len());
        sys.install_seccomp(program)?;
    }
    Ok(())
}

pub(crate) fn enter_workdir(sys: &mut impl Sys, workdir: &Workdir, verbose: bool) -> Result<()> {
    match workdir {
        Workdir::Explicit(dir) => sys.chdir(dir).map_err(|errno| Error::Chdir {
            path: dir.clone(),
            errno,
            hint: "--chdir names a directory inside the sandbox; check that it exists there",
        }),
        Workdir::Inherited(cwd) => {
            if let Some(dir) = cwd {
                if sys.chdir(dir).is_ok() {
                    return Ok(());
                }
                step!(
                    verbose,
                    "{} is not in the sandbox; starting in /",
                    dir.display()
                );
            }
            sys.chdir(Path::new("/")).map_err(|errno| Error::Chdir {
                path: "/".into(),
                errno,
                hint: "the sandbox's root is not accessible",
            })
        }
    }
}

/// The lines of a uid_map or gid_map: (inside, count).
fn map_lines(text: &str) -> Vec<(u32, u32)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().map(|x| x.parse::<u32>());
            match (f.next(), f.next(), f.next()) {
                (Some(Ok(inside)), Some(Ok(_)), Some(Ok(count))) => Some((inside, count)),
                _ => None,
            }
        })
        .collect()
}

/// The identity map of every id of the current user namespace, for a nested one.
fn identity(lines: &[(u32, u32)]) -> String {
    lines
        .iter()
        .map(|(inside, count)| format!("{inside} {inside} {count}\n"))
        .collect()
}

/// A user namespace nested in the sandbox's, with a mount namespace of its own: the copy of
/// the view it gets is locked (the kernel marks mounts copied into a less privileged mount
/// namespace MNT_LOCKED), so no capability held here can unmount a mask or remount the host's
/// root read-write. Every id of the sandbox keeps its number. With a single id this process
/// maps itself; with ranges (--map-auto) a helper forked first, still privileged in the
/// sandbox's user namespace, writes the maps.
///
/// This process is non-dumpable, and its /proc files then belong to the initial namespace's
/// root, which nothing here may write: it becomes dumpable only once it is in the nested
/// namespace (where it holds no capability over the sandbox's), for the map writes.
pub fn nest(sys: &mut impl Sys) -> Result<()> {
    let read = |p: &str| {
        std::fs::read_to_string(p).map_err(|e| Error::Process {
            what: "read the sandbox's id maps",
            errno: nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
        })
    };
    let uids = map_lines(&read("/proc/self/uid_map")?);
    let gids = map_lines(&read("/proc/self/gid_map")?);
    let flags = libc::CLONE_NEWUSER | libc::CLONE_NEWNS;
    let err = |what: &'static str| move |errno| Error::Process { what, errno };
    let single = |lines: &[(u32, u32)]| lines.len() == 1 && lines[0].1 == 1;
    if single(&uids) && single(&gids) {
        sys.unshare(flags)
            .map_err(err("create the nested user namespace"))?;
        sys.set_dumpable(true).map_err(err("become dumpable"))?;
        sys.write_file(Path::new("/proc/self/setgroups"), b"deny")
            .map_err(err("write the nested setgroups"))?;
        sys.write_file(Path::new("/proc/self/uid_map"), identity(&uids).as_bytes())
            .map_err(err("write the nested uid_map"))?;
        sys.write_file(Path::new("/proc/self/gid_map"), identity(&gids).as_bytes())
            .map_err(err("write the nested gid_map"))?;
        return sys
            .set_dumpable(false)
            .map_err(err("become non-dumpable again"));
    }
    let me = nix::unistd::getpid();
    let (rx, tx) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(err("create a pipe"))?;
    let helper = match linux::fork().map_err(err("fork the id map helper"))? {
        linux::Fork::Child => {
            drop(tx);
            let mut b = [0u8; 1];
            let ready = matches!(
                nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(&rx), &mut b),
                Ok(1)
            );
            let write = |f: &str, text: &str| {
                std::fs::write(format!("/proc/{me}/{f}"), text.as_bytes()).is_ok()
            };
            let ok = ready
                && write("setgroups", "deny")
                && write("uid_map", &identity(&uids))
                && write("gid_map", &identity(&gids));
            linux::exit_now(if ok { 0 } else { 1 })
        }
        linux::Fork::Parent(pid) => pid,
    };
    drop(rx);
    let unshared = sys.unshare(flags).and_then(|()| sys.set_dumpable(true));
    if unshared.is_ok() {
        let _ = linux::write_all_raw(std::os::fd::AsRawFd::as_raw_fd(&tx), b"u");
    }
    drop(tx);
    let status = crate::ns::pid::wait_for(helper)?;
    unshared.map_err(err("create the nested user namespace"))?;
    sys.set_dumpable(false)
        .map_err(err("become non-dumpable again"))?;
    if crate::ns::pid::exit_code(status) != 0 {
        return Err(Error::Process {
            what: "map the sandbox's ids into the nested user namespace",
            errno: nix::errno::Errno::EPERM,
        });
    }
    Ok(())
}

mod limits_by_name {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[(Resource, u64)], s: S) -> Result<S::Ok, S::Error> {
        let named: Vec<(&str, u64)> = v.iter().map(|(r, n)| (limits::name(*r), *n)).collect();
        named.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(Resource, u64)>, D::Error> {
        let named: Vec<(String, u64)> = Vec::deserialize(d)?;
        named
            .into_iter()
            .map(|(name, n)| {
                limits::resource(&name)
                    .map(|r| (r, n))
                    .ok_or_else(|| serde::de::Error::custom(format!("unknown limit {name:?}")))
            })
            .collect()
    }
}

mod filter_as_tuples {
    use super::seccomp::sock_filter;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<sock_filter>>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref()
            .map(|p| {
                p.iter()
                    .map(|i| (i.code, i.jt, i.jf, i.k))
                    .collect::<Vec<_>>()
            })
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<sock_filter>>, D::Error> {
        let t: Option<Vec<(u16, u8, u8, u32)>> = Option::deserialize(d)?;
        Ok(t.map(|p| {
            p.into_iter()
                .map(|(code, jt, jf, k)| sock_filter { code, jt, jf, k })
                .collect()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_maps_keep_every_id() {
        let lines =
            map_lines("         0       1000          1\n         1     100000      65536\n");
        assert_eq!(lines, vec![(0, 1), (1, 65536)]);
        assert_eq!(identity(&lines), "0 0 1\n1 1 65536\n");
    }

    #[test]
    fn a_confinement_round_trips_and_refuses_unknown_limits() {
        let c = Confinement {
            new_session: true,
            landlock: landlock::LandlockPlan {
                fs: true,
                mode: landlock::Mode::BestEffort,
                read: vec!["/".into()],
                write: vec![],
                execute: vec![],
                bind_tcp: None,
                connect_tcp: Some(vec![443]),
                scope_abstract_unix: true,
                scope_signal: true,
            },
            limits: vec![(Resource::RLIMIT_NOFILE, 64)],
            keep_caps: 0,
            umask: Some(0o22),
            seccomp: Some(vec![seccomp::sock_filter {
                code: 6,
                jt: 0,
                jf: 0,
                k: 0x7fff0000,
            }]),
        };
        let text = toml::to_string(&c).unwrap();
        assert_eq!(toml::from_str::<Confinement>(&text).unwrap(), c);
        let bad = text.replace("nofile", "nofiles");
        assert!(toml::from_str::<Confinement>(&bad).is_err());
    }
}
