//! The TOML schema of one policy file, strict: every table denies unknown keys, and every value
//! keeps its byte span so errors and `sbx policy show` can name file, line and column.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use toml::Spanned;

pub use crate::confine::landlock::{Mode as LandlockMode, Scope};
pub use crate::confine::seccomp::Action;
pub use crate::ns::net::NetMode;

type S<T> = Spanned<T>;

/// An enumerated or parsed value: `Err` holds serde's message for a bad one, so that
/// `sbx policy check` can report every bad value of a file, each at its line and column, and
/// resolving a policy refuses it (the typed value is the only one any code ever reads).
#[derive(Debug, Clone, PartialEq)]
pub struct Checked<T>(pub Result<T, String>);

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Checked<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = toml::Value::deserialize(d)?;
        Ok(Checked(
            T::deserialize(v).map_err(|e| e.message().trim().to_string()),
        ))
    }
}

/// `identity.map`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MapMode {
    /// The caller's ids appear unchanged.
    Current,
    /// The caller appears as root.
    Root,
    /// Root, plus the caller's subordinate ranges (newuidmap, newgidmap).
    Auto,
}

impl MapMode {
    pub fn name(self) -> &'static str {
        match self {
            MapMode::Current => "current",
            MapMode::Root => "root",
            MapMode::Auto => "auto",
        }
    }
}

/// `filesystem.view`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ViewKind {
    /// The host's root read-only, private home and temporary places, the project.
    Default,
    /// Only the mounts listed.
    Empty,
}

impl ViewKind {
    pub fn name(self) -> &'static str {
        match self {
            ViewKind::Default => "default",
            ViewKind::Empty => "empty",
        }
    }
}

/// `process.umask`: an octal string such as "022".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Umask(pub u32);

impl<'de> Deserialize<'de> for Umask {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match u32::from_str_radix(&s, 8) {
            Ok(v) if v <= 0o777 && !s.is_empty() => Ok(Umask(v)),
            _ => Err(serde::de::Error::custom(format!(
                "umask = {s:?} is not an octal mask such as \"022\""
            ))),
        }
    }
}

/// `seccomp.errno`: a name such as "EPERM", or a number from 1 to 4095.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrnoValue(pub i32);

impl<'de> Deserialize<'de> for ErrnoValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = toml::Value::deserialize(d)?;
        super::validate::errno_value(&v)
            .map(ErrnoValue)
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// One line saying what the policy is for.
    pub description: Option<S<String>>,
    /// Parent policies, applied in order before this one.
    #[serde(default)]
    pub extends: Vec<S<String>>,
    #[serde(default)]
    pub namespaces: Namespaces,
    #[serde(default)]
    pub identity: Identity,
    #[serde(default)]
    pub filesystem: Filesystem,
    #[serde(default)]
    pub environment: Environment,
    #[serde(default)]
    pub capabilities: Capabilities,
    #[serde(default)]
    pub landlock: Landlock,
    #[serde(default)]
    pub seccomp: Seccomp,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub network: Network,
    #[serde(default)]
    pub process: Process,
}

/// Which namespaces are new (`true`) or the host's (`false`). The user namespace is always new.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Namespaces {
    pub mount: Option<S<bool>>,
    pub pid: Option<S<bool>>,
    pub ipc: Option<S<bool>>,
    pub uts: Option<S<bool>>,
    pub net: Option<S<bool>>,
    pub cgroup: Option<S<bool>>,
    pub time: Option<S<bool>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// `current`, `root` or `auto` (root plus the subordinate ranges).
    pub map: Option<S<Checked<MapMode>>>,
    /// `INNER:OUTER:COUNT` lines or `auto`, written by newuidmap.
    #[serde(default)]
    pub map_users: Vec<S<String>>,
    /// The same for gids, written by newgidmap.
    #[serde(default)]
    pub map_groups: Vec<S<String>>,
    pub uid: Option<S<u32>>,
    pub gid: Option<S<u32>>,
    pub hostname: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filesystem {
    /// `default` (the safe default view) or `empty` (only the mounts listed).
    pub view: Option<S<Checked<ViewKind>>>,
    /// A root tree to start from.
    pub root: Option<S<String>>,
    /// Mounts, applied in order after the parents' ones.
    #[serde(default)]
    pub mounts: Vec<S<Mount>>,
    /// Secrets under home (relative paths), masked in every view besides the built-in set;
    /// `"!PATH"` takes one out.
    #[serde(default)]
    pub secrets: Vec<S<String>>,
    /// Paths in the project (relative) that tools on the host run or obey, kept read-only
    /// besides the built-in set; `"!PATH"` takes one out.
    #[serde(default)]
    pub protect: Vec<S<String>>,
}

/// One mount: exactly one of the kind keys (`bind`, `ro_bind`, `dev_bind`, `tmpfs`, `dir`,
/// `symlink`, `remount_ro`, `proc`, `dev`, `mqueue`, `overlay`, `mask`, `remove`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mount {
    pub bind: Option<String>,
    pub ro_bind: Option<String>,
    pub dev_bind: Option<String>,
    /// Where a bind or symlink goes (a bind's default: the source path).
    pub dest: Option<String>,
    /// A missing bind source is skipped.
    pub optional: Option<bool>,
    /// A missing bind source directory is created on the host first (a cache).
    pub create: Option<bool>,
    pub tmpfs: Option<String>,
    pub size: Option<String>,
    pub perms: Option<String>,
    pub dir: Option<String>,
    /// The symlink's target.
    pub symlink: Option<String>,
    pub remount_ro: Option<String>,
    pub proc: Option<String>,
    pub dev: Option<String>,
    pub mqueue: Option<String>,
    /// An overlay's mount point; `lower` are its layers (last highest), `upper` and `work` its
    /// writable directories (without them, writes go to an invisible tmpfs).
    pub overlay: Option<String>,
    pub lower: Option<Vec<String>>,
    pub upper: Option<String>,
    pub work: Option<String>,
    pub mask: Option<String>,
    /// Removes every inherited mount whose destination is this path.
    pub remove: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Start from an empty environment (then `keep` names what passes through).
    pub clear: Option<S<bool>>,
    #[serde(default)]
    pub keep: Vec<S<String>>,
    #[serde(default)]
    pub set: BTreeMap<String, S<String>>,
    #[serde(default)]
    pub unset: Vec<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    #[serde(default)]
    pub keep: Vec<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Landlock {
    /// `best-effort` (default), `require`, or `off`.
    pub mode: Option<S<Checked<LandlockMode>>>,
    #[serde(default)]
    pub read: Vec<S<String>>,
    #[serde(default)]
    pub write: Vec<S<String>>,
    #[serde(default)]
    pub execute: Vec<S<String>>,
    /// TCP ports the sandbox may bind; absent means no restriction.
    pub bind_tcp: Option<Vec<S<u16>>>,
    /// TCP ports the sandbox may connect to; absent means no restriction.
    pub connect_tcp: Option<Vec<S<u16>>>,
    /// `abstract-unix-socket`, `signal`; absent means both.
    pub scopes: Option<Vec<S<Checked<Scope>>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seccomp {
    /// `false` installs no filter of the policy's: only sbx's own rules (TIOCSTI and TIOCLINUX,
    /// new user namespaces, clone3, foreign architectures), which every sandbox has.
    pub enabled: Option<S<bool>>,
    /// `allow` (a deny-list), or `errno`, `kill`, `log`, `trap` (an allow-list).
    pub default_action: Option<S<Checked<Action>>>,
    /// The errno of denied calls: a name such as `EPERM`, or a number.
    pub errno: Option<S<Checked<ErrnoValue>>>,
    #[serde(default)]
    pub allow: Vec<S<String>>,
    #[serde(default)]
    pub deny: Vec<S<String>>,
    /// Argument conditions: `{ syscall = "ioctl", action = "errno", args = [{ index = 1,
    /// op = "eq", value = 0x5412 }] }`.
    #[serde(default)]
    pub rules: Vec<S<crate::confine::seccomp::RuleSpec>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub nofile: Option<S<u64>>,
    pub nproc: Option<S<u64>>,
    #[serde(rename = "as")]
    pub address_space: Option<S<u64>>,
    pub cpu: Option<S<u64>>,
    pub fsize: Option<S<u64>>,
    pub core: Option<S<u64>>,
    pub stack: Option<S<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// `none` (only `lo`), `host` or `pasta`.
    pub mode: Option<S<Checked<NetMode>>>,
    /// Published ports for `pasta`: `[HOST_IP:]HOST_PORT:PORT[/tcp|/udp]`.
    #[serde(default)]
    pub publish: Vec<S<String>>,
    /// Landlock's TCP allow-lists (added to `landlock.bind_tcp` and `landlock.connect_tcp`).
    pub bind_tcp: Option<Vec<S<u16>>>,
    pub connect_tcp: Option<Vec<S<u16>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Process {
    pub die_with_parent: Option<S<bool>>,
    pub new_session: Option<S<bool>>,
    pub as_pid_1: Option<S<bool>>,
    /// An octal string such as "022".
    pub umask: Option<S<Checked<Umask>>>,
}
