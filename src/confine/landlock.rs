//! Landlock (landlock(7)), through the `landlock` crate: filesystem access limited to the
//! policy's read, write and execute paths (plus what the command line's own mounts need), TCP
//! bind and connect port allow-lists (ABI 4+), and scopes for abstract unix sockets and signals
//! (ABI 6+). Applied after the mounts, since a landlocked process cannot mount.

use std::path::PathBuf;

use landlock::{
    Access, AccessFs, AccessNet, CompatLevel, Compatible, NetPort, PathBeneath, PathFd, Ruleset,
    RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope as LlScope, ABI,
};

use crate::error::{Error, Result};

/// The newest ABI sbx asks for: filesystem (with ioctl on devices), network, scopes.
const ABI_WANTED: ABI = ABI::V6;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Enforce what the kernel supports; say with -v what was not enforced.
    BestEffort,
    /// Fail when the kernel cannot enforce everything.
    Require,
    Off,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::BestEffort => "best-effort",
            Mode::Require => "require",
            Mode::Off => "off",
        }
    }
}

/// A landlock scope (ABI 6): what a sandboxed process may not reach outside its domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Connecting to abstract unix sockets made outside the sandbox.
    AbstractUnixSocket,
    /// Sending signals to processes outside the sandbox.
    Signal,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::AbstractUnixSocket => "abstract-unix-socket",
            Scope::Signal => "signal",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LandlockPlan {
    pub mode: Mode,
    /// Whether filesystem access is restricted. Off when the command keeps CAP_SYS_ADMIN to
    /// mount (a process whose landlock domain handles filesystem access may never mount); the
    /// scopes and TCP rules still apply then.
    #[serde(default = "restricts_fs")]
    pub fs: bool,
    pub read: Vec<PathBuf>,
    pub write: Vec<PathBuf>,
    pub execute: Vec<PathBuf>,
    pub bind_tcp: Option<Vec<u16>>,
    pub connect_tcp: Option<Vec<u16>>,
    pub scope_abstract_unix: bool,
    pub scope_signal: bool,
}

fn restricts_fs() -> bool {
    true
}

fn err(what: String) -> Error {
    Error::Landlock { what }
}

/// Restricts the calling process (and what it executes) to the plan. Paths that do not exist
/// inside the sandbox are skipped. Returns notes about what was not enforced, for -v.
pub fn restrict(plan: &LandlockPlan) -> Result<Vec<String>> {
    if plan.mode == Mode::Off {
        return Ok(vec!["landlock: off".into()]);
    }
    let level = match plan.mode {
        Mode::Require => CompatLevel::HardRequirement,
        Mode::BestEffort | Mode::Off => CompatLevel::BestEffort,
    };
    let wrap = |e: landlock::RulesetError| {
        let hint = if plan.mode == Mode::Require {
            " (landlock.mode = \"require\": this kernel lacks a needed Landlock ABI; Linux 6.7 has ABI 4 \
             for TCP rules, 6.12 has ABI 6 for scopes; or use mode = \"best-effort\")"
        } else {
            ""
        };
        err(format!("{e}{hint}"))
    };
    if !plan.fs
        && plan.bind_tcp.is_none()
        && plan.connect_tcp.is_none()
        && !plan.scope_abstract_unix
        && !plan.scope_signal
    {
        return Ok(vec!["landlock: nothing to restrict".into()]);
    }
    let mut ruleset = Ruleset::default().set_compatibility(level);
    if plan.fs {
        ruleset = ruleset
            .handle_access(AccessFs::from_all(ABI_WANTED))
            .map_err(wrap)?;
    }
    if plan.bind_tcp.is_some() {
        ruleset = ruleset.handle_access(AccessNet::BindTcp).map_err(wrap)?;
    }
    if plan.connect_tcp.is_some() {
        ruleset = ruleset.handle_access(AccessNet::ConnectTcp).map_err(wrap)?;
    }
    if plan.scope_abstract_unix {
        ruleset = ruleset.scope(LlScope::AbstractUnixSocket).map_err(wrap)?;
    }
    if plan.scope_signal {
        ruleset = ruleset.scope(LlScope::Signal).map_err(wrap)?;
    }
    let mut created = ruleset.create().map_err(wrap)?;
    let mut notes = Vec::new();
    // Three distinct rights: reading a file never lets it run (the landlock crate's
    // from_read() includes Execute), and writing does not imply reading.
    let read = AccessFs::ReadFile | AccessFs::ReadDir;
    let write = AccessFs::from_write(ABI_WANTED);
    let execute = AccessFs::Execute.into();
    let no_paths = Vec::new();
    let fs_lists = if plan.fs {
        [&plan.read, &plan.write, &plan.execute]
    } else {
        [&no_paths, &no_paths, &no_paths]
    };
    for (paths, access) in [
        (fs_lists[0], read),
        (fs_lists[1], write),
        (fs_lists[2], execute),
    ] {
        for path in paths {
            match PathFd::new(path) {
                Ok(fd) => {
                    // A rule on a file may only carry file rights.
                    let is_dir = path.is_dir();
                    let access = if is_dir {
                        access
                    } else {
                        access & AccessFs::from_file(ABI_WANTED)
                    };
                    created = created
                        .add_rule(PathBeneath::new(fd, access))
                        .map_err(wrap)?;
                }
                Err(_) => notes.push(format!(
                    "landlock: {} does not exist inside; no rule",
                    path.display()
                )),
            }
        }
    }
    for (ports, access) in [
        (&plan.bind_tcp, AccessNet::BindTcp),
        (&plan.connect_tcp, AccessNet::ConnectTcp),
    ] {
        for &port in ports.iter().flatten() {
            created = created.add_rule(NetPort::new(port, access)).map_err(wrap)?;
        }
    }
    let status = created.restrict_self().map_err(wrap)?;
    match status.ruleset {
        RulesetStatus::FullyEnforced => {}
        RulesetStatus::PartiallyEnforced => {
            notes.push("landlock: partially enforced (the kernel's ABI is older than 6)".into())
        }
        RulesetStatus::NotEnforced => {
            notes.push("landlock: not enforced (not supported by this kernel)".into())
        }
    }
    Ok(notes)
}
