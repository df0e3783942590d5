//! The seccomp filter, installed last, just before execve and after no_new_privs.
//!
//! A filter is described by a [`SeccompSpec`] (plain data, deserializable from a TOML policy)
//! and compiled by [`compile`] into a classic-BPF program that [`install`] loads with
//! seccompiler's `apply_filter`. Syscalls are named as the kernel names them (`openat`) or by
//! group (`@mount`, see [`groups`]); an unknown name is an error with a "did you mean" hint.
//!
//! Two filters ship ready-made:
//! - [`SeccompSpec::default_filter`] allows everything except a deny-list of kernel attack
//!   surface that sandboxed programs have no business using (keyrings, bpf, perf, userfaultfd,
//!   module and kexec loading, reboot, swap, acct, the clock, file handles, io_uring, `@mount`
//!   (the mount API, pivot_root and chroot), new user namespaces, TIOCSTI/TIOCLINUX terminal
//!   injection); the same list as `policies/default.toml`; see
//!   [`default_program`].
//! - [`SeccompSpec::untrusted`] allows only the `@baseline` group, plus the same argument rules.
//!
//! Every filter kills the process for a syscall from a foreign architecture (i386 through
//! `int 0x80` on x86_64) and, on x86_64, for an x32 syscall (number with bit 30 set), since the
//! x32 numbers of denied syscalls would otherwise go around the deny-list.
//!
//! The program is generated here rather than by seccompiler's `SeccompFilter` (see [`bpf`] for
//! the layout), because seccompiler 0.4 has one match action per filter (no EPERM for most
//! denials but ENOSYS for clone3, no per-rule errno), no way to reject x32 numbers (they share
//! the x86_64 audit arch and so pass its arch check), and a linear chain of syscall checks where
//! a binary search keeps the uncached paths short.
//!
//! About arguments: the kernel passes 64-bit registers but many syscalls take an `int`; a
//! 64-bit comparison on such an argument is bypassed by setting the upper half, which the
//! kernel ignores (CVE-2019-10063, TIOCSTI through flatpak's filter). Conditions therefore
//! compare only the low 32 bits unless `width = 64` is asked for.

pub mod bpf;
pub mod groups;
#[cfg(target_arch = "x86_64")]
mod precomputed;
pub mod table;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
#[cfg(not(target_arch = "x86_64"))]
use std::sync::OnceLock;

use nix::errno::Errno;
use serde::Deserialize;

pub use bpf::Arch;
use bpf::{Cmp, Cond, Outcome, Rule};
pub use seccompiler::{sock_filter, BpfProgram};

/// Why a seccomp spec cannot be compiled or a filter installed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("seccomp: unknown syscall {name:?}{hint}")]
    UnknownSyscall { name: String, hint: String },

    #[error("seccomp: unknown syscall group {name:?}{hint}")]
    UnknownGroup { name: String, hint: String },

    #[error("seccomp: errno {0} is out of range (1 to 4095)")]
    BadErrno(i32),

    #[error("seccomp: {syscall}: {what}")]
    BadRule { syscall: String, what: String },

    #[error(
        "seccomp: `allow` has no effect when the default action is `allow`; \
         set default-action = \"errno\" or \"kill\" to make it an allow-list"
    )]
    AllowWithoutDeny,

    #[error("seccomp: filters can only be compiled for {native}, not {wanted}")]
    ForeignArch {
        native: &'static str,
        wanted: &'static str,
    },

    #[error("seccomp: no syscall table for this architecture (only x86_64 and aarch64)")]
    UnsupportedArch,

    #[error("seccomp: the filter is too long ({0} instructions; the kernel takes 4096)")]
    TooLong(usize),

    #[error("cannot install the seccomp filter: {errno}")]
    Install { errno: Errno },
}

/// What a filter does with a syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Let it run.
    #[default]
    Allow,
    /// Fail it with an errno (the rule's, else the spec's, else EPERM) without running it.
    Errno,
    /// Kill the whole process (SECCOMP_RET_KILL_PROCESS), as if by SIGSYS.
    #[serde(alias = "kill-process")]
    Kill,
    /// Let it run and log it to the audit log.
    Log,
    /// Send SIGSYS to the thread (a handler may emulate the call).
    Trap,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Errno => "errno",
            Action::Kill => "kill",
            Action::Log => "log",
            Action::Trap => "trap",
        }
    }
}

/// How a condition compares an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    Eq,
    Ne,
    /// `arg & mask == value`.
    MaskedEq,
    Gt,
    Ge,
    Lt,
    Le,
}

/// How much of an argument a condition compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "u8")]
pub enum Width {
    /// The low 32 bits: right for `int`/`unsigned int` arguments (flags, commands), which the
    /// kernel truncates, so upper bits cannot be used to slip past the comparison.
    #[default]
    Bits32,
    /// All 64 bits: for `long`, size and pointer arguments.
    Bits64,
}

impl TryFrom<u8> for Width {
    type Error = String;
    fn try_from(bits: u8) -> Result<Self, String> {
        match bits {
            32 => Ok(Width::Bits32),
            64 => Ok(Width::Bits64),
            _ => Err(format!("width must be 32 or 64, not {bits}")),
        }
    }
}

/// `arg[index] <op> value` (unsigned), e.g. `{ index = 1, op = "eq", value = 0x5412 }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgCondition {
    /// 0 to 5.
    #[serde(alias = "arg")]
    pub index: u8,
    pub op: Op,
    pub value: u64,
    /// For `masked-eq` only.
    #[serde(default)]
    pub mask: Option<u64>,
    #[serde(default)]
    pub width: Width,
}

/// A rule for a syscall (or each syscall of a group): when all `args` conditions hold (always,
/// if there are none), `action`. A syscall's rules are tried in order; the first that matches
/// decides, and when none does, the `allow`/`deny` lists and the default action do.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub syscall: String,
    #[serde(default = "errno_action")]
    pub action: Action,
    #[serde(default)]
    pub errno: Option<i32>,
    #[serde(default)]
    pub args: Vec<ArgCondition>,
}

fn errno_action() -> Action {
    Action::Errno
}

/// A seccomp filter as a policy describes it.
///
/// ```toml
/// [seccomp]
/// default-action = "errno"      # allow (default), errno, kill, log, trap
/// errno = 1                     # for `deny` and errno actions without their own; EPERM
/// allow = ["@baseline"]
/// deny = ["@mount"]             # deny wins over allow
///
/// [[seccomp.rule]]
/// syscall = "ioctl"
/// action = "errno"              # the default for rules
/// args = [{ index = 1, op = "eq", value = 0x5412 }]   # width = 32 (default) or 64
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SeccompSpec {
    /// For syscalls that no list or rule mentions.
    #[serde(default, alias = "default_action")]
    pub default_action: Action,
    /// Syscalls and groups allowed (an allow-list: needs a default action other than allow).
    #[serde(default)]
    pub allow: Vec<String>,
    /// Syscalls and groups failed with `errno`; deny wins over allow.
    #[serde(default)]
    pub deny: Vec<String>,
    /// The errno of `deny` and of errno actions that give none; EPERM when unset.
    #[serde(default)]
    pub errno: Option<i32>,
    #[serde(default, alias = "rule")]
    pub rules: Vec<RuleSpec>,
}

// ioctl requests of <asm-generic/ioctls.h>, the same on x86_64 and aarch64.
const TIOCSTI: u64 = 0x5412;
const TIOCLINUX: u64 = 0x541c;

impl SeccompSpec {
    /// The rules every sbx filter carries: no TIOCSTI/TIOCLINUX (typing into, or reading the
    /// selection of, the terminal outside the sandbox), no new user namespace through clone or
    /// unshare, and ENOSYS for clone3, whose flags sit in memory where seccomp cannot look, so
    /// that the C library falls back to clone.
    pub fn base_rules() -> Vec<RuleSpec> {
        let arg = |index, op, value, mask| ArgCondition {
            index,
            op,
            value,
            mask,
            width: Width::Bits32,
        };
        let deny = |syscall: &str, args| RuleSpec {
            syscall: syscall.into(),
            action: Action::Errno,
            errno: None,
            args,
        };
        let newuser = libc::CLONE_NEWUSER as u64;
        vec![
            deny("ioctl", vec![arg(1, Op::Eq, TIOCSTI, None)]),
            deny("ioctl", vec![arg(1, Op::Eq, TIOCLINUX, None)]),
            deny("clone", vec![arg(0, Op::MaskedEq, newuser, Some(newuser))]),
            deny(
                "unshare",
                vec![arg(0, Op::MaskedEq, newuser, Some(newuser))],
            ),
            RuleSpec {
                errno: Some(libc::ENOSYS),
                ..deny("clone3", vec![])
            },
        ]
    }

    /// sbx's default filter: allow all but a deny-list, with [`SeccompSpec::base_rules`].
    pub fn default_filter() -> SeccompSpec {
        let deny: Vec<String> = [
            "@keyring",
            "@bpf",
            "perf_event_open",
            "userfaultfd",
            "@reboot",
            "@module",
            "@swap",
            "acct",
            "@clock",
            "@file-handle",
            "@io-uring",
            "@mount",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        SeccompSpec {
            default_action: Action::Allow,
            allow: Vec::new(),
            deny,
            errno: None,
            rules: Self::base_rules(),
        }
    }

    /// The strictest filter, for the `untrusted` policy: only `@baseline` is allowed, everything
    /// else fails with EPERM, with [`SeccompSpec::base_rules`] on top.
    pub fn untrusted() -> SeccompSpec {
        SeccompSpec {
            default_action: Action::Errno,
            allow: vec!["@baseline".into()],
            deny: Vec::new(),
            errno: None,
            rules: Self::base_rules(),
        }
    }
}

/// A set of syscall numbers; every number in the tables is below [`NrSet::LIMIT`].
#[derive(Clone)]
struct NrSet([u64; 16]);

impl NrSet {
    const LIMIT: u32 = 1024;

    fn new() -> NrSet {
        NrSet([0; 16])
    }

    fn insert(&mut self, nr: u32) {
        assert!(nr < Self::LIMIT, "syscall number {nr} out of range");
        self.0[(nr / 64) as usize] |= 1 << (nr % 64);
    }

    fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..Self::LIMIT).filter(|nr| self.0[(nr / 64) as usize] & (1 << (nr % 64)) != 0)
    }
}

/// The numbers of syscall or group `name` on this build's architecture. Syscalls that only the
/// other architecture has resolve to nothing; unknown names are an error with a hint.
pub fn resolve(name: &str) -> Result<BTreeSet<u32>, Error> {
    let mut set = NrSet::new();
    resolve_into(name, &mut set, 0)?;
    Ok(set.iter().collect())
}

fn resolve_into(name: &str, out: &mut NrSet, depth: usize) -> Result<(), Error> {
    if name.starts_with('@') {
        let Some(group) = groups::find(name).filter(|_| depth < 8) else {
            let hint = suggest(name, groups::GROUPS.iter().map(|g| g.name));
            return Err(Error::UnknownGroup {
                name: name.into(),
                hint,
            });
        };
        for member in group.members {
            resolve_into(member, out, depth + 1)?;
        }
        return Ok(());
    }
    if let Some(nr) = table::number(name) {
        out.insert(nr);
        return Ok(());
    }
    if table::is_known(name) {
        return Ok(());
    }
    let mut hint = suggest(name, table::ALL_NAMES.iter().copied());
    if hint.is_empty() {
        let at = format!("@{name}");
        if groups::find(&at).is_some() {
            hint = format!(" (did you mean {at}?)");
        }
    }
    Err(Error::UnknownSyscall {
        name: name.into(),
        hint,
    })
}

fn suggest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    crate::suggest::closest(word, candidates)
        .map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default()
}

fn check_errno(errno: i32) -> Result<u32, Error> {
    match u32::try_from(errno) {
        Ok(e @ 1..=4095) => Ok(e),
        _ => Err(Error::BadErrno(errno)),
    }
}

/// The `SECCOMP_RET_*` value of `action`, with `errno` for [`Action::Errno`].
fn ret_value(action: Action, errno: u32) -> u32 {
    match action {
        Action::Allow => bpf::RET_ALLOW,
        Action::Errno => bpf::RET_ERRNO | errno,
        Action::Kill => bpf::RET_KILL_PROCESS,
        Action::Log => bpf::RET_LOG,
        Action::Trap => bpf::RET_TRAP,
    }
}

/// Most conditions in one rule (the rule must fit the 255-instruction reach of a jump).
const MAX_CONDITIONS: usize = 16;

fn compile_rule(rule: &RuleSpec, spec_errno: u32) -> Result<Rule, Error> {
    let bad = |what: String| Error::BadRule {
        syscall: rule.syscall.clone(),
        what,
    };
    let errno = match (rule.action, rule.errno) {
        (Action::Errno, Some(e)) => check_errno(e)?,
        (Action::Errno, None) => spec_errno,
        (_, Some(_)) => return Err(bad("errno is only for action = \"errno\"".into())),
        (_, None) => 0,
    };
    if rule.args.len() > MAX_CONDITIONS {
        return Err(bad(format!("more than {MAX_CONDITIONS} conditions")));
    }
    let mut conds = Vec::with_capacity(rule.args.len());
    for a in &rule.args {
        if a.index > 5 {
            return Err(bad(format!("argument index {} (0 to 5)", a.index)));
        }
        let full64 = a.width == Width::Bits64;
        let fits = |v: u64| full64 || v <= u64::from(u32::MAX);
        if !fits(a.value) || !fits(a.mask.unwrap_or(0)) {
            return Err(bad(format!(
                "argument {}: {:#x} does not fit the 32 bits compared (add width = 64)",
                a.index,
                a.value.max(a.mask.unwrap_or(0))
            )));
        }
        let cmp = match (a.op, a.mask) {
            (Op::MaskedEq, Some(mask)) if a.value & !mask != 0 => {
                return Err(bad(format!(
                    "argument {}: value {:#x} has bits outside mask {mask:#x}, so it never matches",
                    a.index, a.value
                )))
            }
            (Op::MaskedEq, Some(mask)) => Cmp::MaskedEq(mask),
            (Op::MaskedEq, None) => return Err(bad("masked-eq needs a mask".into())),
            (_, Some(_)) => return Err(bad("mask is only for op = \"masked-eq\"".into())),
            (Op::Eq, None) => Cmp::Eq,
            (Op::Ne, None) => Cmp::Ne,
            (Op::Gt, None) => Cmp::Gt,
            (Op::Ge, None) => Cmp::Ge,
            (Op::Lt, None) => Cmp::Lt,
            (Op::Le, None) => Cmp::Le,
        };
        conds.push(Cond {
            index: a.index,
            cmp,
            value: a.value,
            full64,
        });
    }
    Ok(Rule {
        conds,
        ret: ret_value(rule.action, errno),
    })
}

/// Compiles `spec` into a filter program for `arch`, which must be the architecture sbx is built
/// for (the syscall table comes from its libc).
///
/// Per syscall: its rules first, in order (the first that matches decides); else `deny` (with
/// the spec's errno); else `allow`; else the default action.
pub fn compile(spec: &SeccompSpec, arch: Arch) -> Result<BpfProgram, Error> {
    let native = Arch::native().ok_or(Error::UnsupportedArch)?;
    if arch != native {
        return Err(Error::ForeignArch {
            native: native.name(),
            wanted: arch.name(),
        });
    }
    let errno = check_errno(spec.errno.unwrap_or(libc::EPERM))?;
    if spec.default_action == Action::Allow && !spec.allow.is_empty() {
        return Err(Error::AllowWithoutDeny);
    }
    let default = ret_value(spec.default_action, errno);

    let (mut allowed, mut denied) = (NrSet::new(), NrSet::new());
    for name in &spec.allow {
        resolve_into(name, &mut allowed, 0)?;
    }
    for name in &spec.deny {
        resolve_into(name, &mut denied, 0)?;
    }
    // The action of each listed syscall; deny wins over allow.
    let mut base: BTreeMap<u32, u32> = allowed.iter().map(|nr| (nr, bpf::RET_ALLOW)).collect();
    base.extend(denied.iter().map(|nr| (nr, bpf::RET_ERRNO | errno)));

    let mut rules: BTreeMap<u32, Vec<Rule>> = BTreeMap::new();
    for rule in &spec.rules {
        let compiled = compile_rule(rule, errno)?;
        let mut nrs = NrSet::new();
        resolve_into(&rule.syscall, &mut nrs, 0)?;
        for nr in nrs.iter() {
            rules.entry(nr).or_default().push(compiled.clone());
        }
    }

    let mut outcomes: BTreeMap<u32, Outcome> = base
        .iter()
        .map(|(&nr, &ret)| (nr, Outcome::Ret(ret)))
        .collect();
    for (nr, mut list) in rules {
        let base = base.get(&nr).copied().unwrap_or(default);
        // Trailing rules that return what no match would return change nothing.
        while list.last().is_some_and(|r| r.ret == base) {
            list.pop();
        }
        let outcome = match list.first() {
            None => Outcome::Ret(base),
            Some(first) if first.conds.is_empty() => Outcome::Ret(first.ret),
            Some(_) => Outcome::Rules { rules: list, base },
        };
        outcomes.insert(nr, outcome);
    }
    bpf::generate(arch, &outcomes, default).map_err(|e| match e {
        bpf::GenError::TooLong(len) => Error::TooLong(len),
        bpf::GenError::RuleTooLong { nr, len } => Error::BadRule {
            syscall: table::name(nr).unwrap_or("?").into(),
            what: format!("a rule compiles to {len} instructions; split it"),
        },
    })
}

/// The compiled [`SeccompSpec::default_filter`] for this build's architecture.
///
/// On x86_64 it is precomputed (a static table, checked against [`compile`] by a unit test), as
/// the first compile in a fresh process costs ~50 µs, nearly all of it first-touch page faults
/// of the compiler's code and data; elsewhere it is compiled on first use.
pub fn default_program() -> Result<&'static [sock_filter], Error> {
    #[cfg(target_arch = "x86_64")]
    {
        Ok(&precomputed::DEFAULT_X86_64)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        static PROGRAM: OnceLock<Result<BpfProgram, Error>> = OnceLock::new();
        let native = Arch::native().ok_or(Error::UnsupportedArch)?;
        PROGRAM
            .get_or_init(|| compile(&SeccompSpec::default_filter(), native))
            .as_ref()
            .map(Vec::as_slice)
            .map_err(Clone::clone)
    }
}

/// Installs `program` on the calling thread, for good (it survives execve). Call it last, after
/// no_new_privs (seccompiler sets no_new_privs again, harmlessly). Does not allocate, so it is
/// fine between fork and exec.
pub fn install(program: &[sock_filter]) -> Result<(), Error> {
    seccompiler::apply_filter(program).map_err(|e| {
        let errno = match &e {
            seccompiler::Error::Prctl(io) | seccompiler::Error::Seccomp(io) => {
                Errno::from_raw(io.raw_os_error().unwrap_or(libc::EINVAL))
            }
            _ => Errno::EINVAL,
        };
        Error::Install { errno }
    })
}
