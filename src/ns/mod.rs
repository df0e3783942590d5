//! Namespaces (namespaces(7)): which ones a sandbox gets and the order they are created in.
//! The user namespace always comes first ([`user`]); the others are created together, as mapped
//! root inside it, by [`unshare_namespaces`].

pub mod mount;
pub mod net;
pub mod pid;
pub mod user;
pub mod uts;

use crate::error::{Error, Result};
use crate::sys::Sys;

/// A kind of namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ns {
    User,
    Mount,
    Pid,
    Ipc,
    Uts,
    Net,
    Cgroup,
    Time,
}

/// The canonical creation order: the user namespace first (it owns the others), then the rest.
pub const ORDER: [Ns; 8] = [
    Ns::User,
    Ns::Mount,
    Ns::Pid,
    Ns::Ipc,
    Ns::Uts,
    Ns::Net,
    Ns::Cgroup,
    Ns::Time,
];

impl Ns {
    /// The `CLONE_NEW*` flag.
    pub const fn flag(self) -> libc::c_int {
        match self {
            Ns::User => libc::CLONE_NEWUSER,
            Ns::Mount => libc::CLONE_NEWNS,
            Ns::Pid => libc::CLONE_NEWPID,
            Ns::Ipc => libc::CLONE_NEWIPC,
            Ns::Uts => libc::CLONE_NEWUTS,
            Ns::Net => libc::CLONE_NEWNET,
            Ns::Cgroup => libc::CLONE_NEWCGROUP,
            Ns::Time => CLONE_NEWTIME,
        }
    }

    /// The name of the namespace's file in `/proc/PID/ns/`.
    pub const fn proc_name(self) -> &'static str {
        match self {
            Ns::User => "user",
            Ns::Mount => "mnt",
            Ns::Pid => "pid",
            Ns::Ipc => "ipc",
            Ns::Uts => "uts",
            Ns::Net => "net",
            Ns::Cgroup => "cgroup",
            Ns::Time => "time",
        }
    }
}

/// `CLONE_NEWTIME`, which not every libc exports.
pub const CLONE_NEWTIME: libc::c_int = 0x80;

/// A set of namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NsSet(u8);

impl NsSet {
    pub const fn empty() -> NsSet {
        NsSet(0)
    }

    fn bit(ns: Ns) -> u8 {
        1 << ORDER.iter().position(|&n| n == ns).unwrap_or(0)
    }

    pub fn with(mut self, ns: Ns, on: bool) -> NsSet {
        if on {
            self.0 |= Self::bit(ns);
        } else {
            self.0 &= !Self::bit(ns);
        }
        self
    }

    pub fn contains(self, ns: Ns) -> bool {
        self.0 & Self::bit(ns) != 0
    }

    /// The members, in [`ORDER`].
    pub fn iter(self) -> impl Iterator<Item = Ns> {
        ORDER.into_iter().filter(move |&ns| self.contains(ns))
    }

    /// The `CLONE_NEW*` flags of the members.
    pub fn flags(self) -> libc::c_int {
        self.iter().fold(0, |acc, ns| acc | ns.flag())
    }
}

/// Readable names of the namespace flags in `flags`, e.g. `CLONE_NEWNS|CLONE_NEWPID`.
pub fn flag_names(flags: libc::c_int) -> String {
    let names: Vec<&str> = ORDER
        .iter()
        .filter(|ns| flags & ns.flag() != 0)
        .map(|ns| match ns {
            Ns::User => "CLONE_NEWUSER",
            Ns::Mount => "CLONE_NEWNS",
            Ns::Pid => "CLONE_NEWPID",
            Ns::Ipc => "CLONE_NEWIPC",
            Ns::Uts => "CLONE_NEWUTS",
            Ns::Net => "CLONE_NEWNET",
            Ns::Cgroup => "CLONE_NEWCGROUP",
            Ns::Time => "CLONE_NEWTIME",
        })
        .collect();
    names.join("|")
}

/// Step 2 of the setup: as mapped root in the new user namespace, create every other requested
/// namespace with one unshare(2). The PID and time namespaces apply to the children forked next.
pub fn unshare_namespaces(sys: &mut impl Sys, set: NsSet) -> Result<()> {
    let set = set.with(Ns::User, false);
    if set == NsSet::empty() {
        return Ok(());
    }
    sys.unshare(set.flags()).map_err(|errno| {
        let names: Vec<&str> = set.iter().map(Ns::proc_name).collect();
        let hint = match errno {
            nix::errno::Errno::EINVAL if set.contains(Ns::Time) => {
                "this kernel has no time namespaces (CONFIG_TIME_NS, Linux 5.6+): drop --unshare-time"
            }
            nix::errno::Errno::ENOSPC => {
                "a per-user namespace limit is reached (sysctl user.max_*_namespaces): raise it or end other sandboxes"
            }
            _ => "the kernel refused the namespaces; try sharing the failing one (--share-net, --share-ipc, ...)",
        };
        Error::Unshare {
            plural: if names.len() > 1 { "s" } else { "" },
            names: names.join(", "),
            errno,
            hint,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::fake::Fake;

    #[test]
    fn nsset_keeps_canonical_order_and_flags() {
        let set = NsSet::empty()
            .with(Ns::Net, true)
            .with(Ns::Mount, true)
            .with(Ns::Time, true);
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            vec![Ns::Mount, Ns::Net, Ns::Time]
        );
        assert_eq!(
            set.flags(),
            libc::CLONE_NEWNS | libc::CLONE_NEWNET | CLONE_NEWTIME
        );
        assert!(!set.with(Ns::Net, false).contains(Ns::Net));
    }

    #[test]
    fn unshare_never_includes_the_user_namespace() {
        let mut sys = Fake::new();
        let set = NsSet::empty()
            .with(Ns::User, true)
            .with(Ns::Pid, true)
            .with(Ns::Uts, true);
        unshare_namespaces(&mut sys, set).unwrap();
        assert_eq!(sys.calls, vec!["unshare(CLONE_NEWPID|CLONE_NEWUTS)"]);
    }

    #[test]
    fn unshare_failure_names_the_namespaces_and_a_fix() {
        let mut sys = Fake::new();
        sys.failures
            .push(("unshare".into(), nix::errno::Errno::EINVAL));
        let set = NsSet::empty().with(Ns::Time, true);
        let err = unshare_namespaces(&mut sys, set).unwrap_err().to_string();
        assert!(err.contains("time namespace"), "{err}");
        assert!(err.contains("--unshare-time"), "{err}");
    }
}
