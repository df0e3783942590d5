//! Tests of the spec compiler (pure, through a BPF interpreter) and of the installed filters
//! (in forked children).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};

use super::bpf::{self, run};
use super::*;
use crate::sys::linux::{self, Fork};

fn native() -> Arch {
    Arch::native().expect("tests run on x86_64 or aarch64")
}

fn nr(name: &str) -> u32 {
    table::number(name).unwrap_or_else(|| panic!("no syscall {name}"))
}

const EPERM: u32 = bpf::RET_ERRNO | libc::EPERM as u32;
const ENOSYS: u32 = bpf::RET_ERRNO | libc::ENOSYS as u32;
const ALLOW: u32 = bpf::RET_ALLOW;

/// What the filter returns for a native syscall.
fn verdict(prog: &[sock_filter], name: &str, args: [u64; 6]) -> u32 {
    run(prog, native().audit_arch(), nr(name), Some(args)).expect("ran off the end")
}

// ---------------------------------------------------------------------------------------------
// Names and groups.

#[test]
fn names_and_groups_resolve() {
    assert_eq!(resolve("ioctl").unwrap(), BTreeSet::from([nr("ioctl")]));
    let mount = resolve("@mount").unwrap();
    assert!(mount.contains(&nr("mount")) && mount.contains(&nr("fsopen")));
    // Nested groups expand: @privileged includes @clock.
    assert!(resolve("@privileged")
        .unwrap()
        .contains(&nr("settimeofday")));
    // @aio includes @io-uring, as in systemd; @baseline does not.
    assert!(resolve("@aio").unwrap().contains(&nr("io_uring_setup")));
    let baseline = resolve("@baseline").unwrap();
    for absent in [
        "io_uring_setup",
        "ptrace",
        "mount",
        "bpf",
        "keyctl",
        "setns",
        "kcmp",
    ] {
        assert!(!baseline.contains(&nr(absent)), "{absent} in @baseline");
    }
    for present in [
        "execve", "clone", "ioctl", "openat", "socket", "wait4", "futex", "rseq",
    ] {
        assert!(
            baseline.contains(&nr(present)),
            "{present} not in @baseline"
        );
    }
}

#[test]
fn names_of_the_other_architecture_resolve_to_nothing() {
    let open = resolve("open").unwrap();
    if cfg!(target_arch = "x86_64") {
        assert_eq!(open, BTreeSet::from([2]));
        // aarch64-only literal names that x86_64 also has keep their x86_64 numbers.
        assert_eq!(resolve("renameat").unwrap(), BTreeSet::from([264]));
    } else {
        assert!(open.is_empty());
    }
}

#[test]
fn unknown_names_come_with_hints() {
    let err = resolve("keyctll").unwrap_err();
    assert_eq!(
        err,
        Error::UnknownSyscall {
            name: "keyctll".into(),
            hint: " (did you mean keyctl?)".into()
        }
    );
    assert!(err.to_string().contains("did you mean keyctl?"), "{err}");
    let err = resolve("@mout").unwrap_err();
    assert!(err.to_string().contains("did you mean @mount?"), "{err}");
    // A group name without its @.
    let err = resolve("keyring").unwrap_err();
    assert!(err.to_string().contains("did you mean @keyring?"), "{err}");
    let err = resolve("xyzzy_plugh").unwrap_err();
    assert!(!err.to_string().contains("did you mean"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// The default filter, through the interpreter.

fn default_denied() -> BTreeSet<u32> {
    let spec = SeccompSpec::default_filter();
    let mut set = BTreeSet::new();
    for name in &spec.deny {
        set.extend(resolve(name).unwrap());
    }
    set
}

#[test]
fn default_filter_denies_the_list_with_eperm() {
    let prog = default_program().unwrap();
    bpf::check(prog).unwrap();
    let denied = default_denied();
    for name in [
        "keyctl",
        "add_key",
        "request_key",
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "kexec_load",
        "kexec_file_load",
        "init_module",
        "finit_module",
        "delete_module",
        "reboot",
        "swapon",
        "swapoff",
        "acct",
        "settimeofday",
        "clock_settime",
        "clock_adjtime",
        "adjtimex",
        "open_by_handle_at",
        "name_to_handle_at",
        "io_uring_setup",
        "io_uring_enter",
        "io_uring_register",
        "mount",
        "umount2",
        "pivot_root",
        "move_mount",
        "open_tree",
        "fsopen",
        "fsconfig",
        "fsmount",
        "fspick",
        "mount_setattr",
        "open_tree_attr",
    ] {
        assert!(denied.contains(&nr(name)), "{name} not in the deny-list");
        assert_eq!(verdict(prog, name, [0; 6]), EPERM, "{name}");
    }
    // All of @mount, chroot included.
    assert_eq!(verdict(prog, "chroot", [0; 6]), EPERM);
    for name in [
        "read", "openat", "execve", "ptrace", "getpid", "mmap", "socket",
    ] {
        assert_eq!(verdict(prog, name, [0; 6]), ALLOW, "{name}");
    }
}

#[test]
fn default_filter_checks_only_the_low_32_bits_of_ioctl_requests() {
    let prog = default_program().unwrap();
    let ioctl = |req: u64| verdict(prog, "ioctl", [0, req, 0, 0, 0, 0]);
    assert_eq!(ioctl(TIOCSTI), EPERM);
    assert_eq!(ioctl(TIOCLINUX), EPERM);
    // CVE-2019-10063: the kernel truncates the request to 32 bits.
    assert_eq!(ioctl(TIOCSTI | 1 << 32), EPERM);
    assert_eq!(ioctl(TIOCSTI | 0xffff_ffff_0000_0000), EPERM);
    assert_eq!(ioctl(TIOCLINUX | 1 << 63), EPERM);
    assert_eq!(ioctl(libc::TCGETS), ALLOW);
    assert_eq!(ioctl(libc::TIOCGWINSZ), ALLOW);
    assert_eq!(ioctl(TIOCSTI + 1), ALLOW);
}

#[test]
fn default_filter_refuses_new_user_namespaces_and_clone3() {
    let prog = default_program().unwrap();
    let newuser = libc::CLONE_NEWUSER as u64;
    let sigchld = libc::SIGCHLD as u64;
    let thread = (libc::CLONE_VM | libc::CLONE_THREAD | libc::CLONE_SIGHAND) as u64;
    for call in ["clone", "unshare"] {
        assert_eq!(verdict(prog, call, [newuser, 0, 0, 0, 0, 0]), EPERM);
        assert_eq!(
            verdict(prog, call, [newuser | sigchld, 0, 0, 0, 0, 0]),
            EPERM
        );
        assert_eq!(
            verdict(prog, call, [newuser | 1 << 40, 0, 0, 0, 0, 0]),
            EPERM
        );
        assert_eq!(verdict(prog, call, [sigchld, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(verdict(prog, call, [thread, 0, 0, 0, 0, 0]), ALLOW);
    }
    let newns = libc::CLONE_NEWNS as u64;
    assert_eq!(verdict(prog, "unshare", [newns, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(verdict(prog, "clone3", [0; 6]), ENOSYS);
}

#[test]
fn default_filter_layout() {
    let prog = default_program().unwrap();
    let audit = native().audit_arch();
    // Foreign architectures (i386: AUDIT_ARCH_I386) are killed first thing.
    assert_eq!(prog[0], bpf::stmt(0x20, bpf::OFF_ARCH));
    assert_eq!(prog[1], bpf::jump(0x15, audit, 1, 0));
    assert_eq!(prog[2], bpf::stmt(0x06, bpf::RET_KILL_PROCESS));
    assert_eq!(prog[3], bpf::stmt(0x20, bpf::OFF_NR));
    for (arch, nr) in [(0x4000_0003, 39), (0x4000_0028, 172), (0, 0)] {
        assert_eq!(run(prog, arch, nr, None), Some(bpf::RET_KILL_PROCESS));
    }
    if native() == Arch::X86_64 {
        assert_eq!(prog[4], bpf::jump(0x35, bpf::X32_SYSCALL_BIT, 0, 2));
        for nr in [
            0x4000_0000 | 39,
            0x4000_0000 | 250,
            0x4000_0000 | 513,
            0xffff_fffe,
        ] {
            assert_eq!(run(prog, audit, nr, None), Some(bpf::RET_KILL_PROCESS));
        }
        // -1 (a tracer skipping the syscall) is not an x32 syscall.
        assert_eq!(run(prog, audit, u32::MAX, None), Some(ALLOW));
    }
    eprintln!("default filter: {} instructions", prog.len());
    assert!(prog.len() < 200, "{} instructions", prog.len());
}

/// The kernel's constant-action cache (seccomp_cache_prepare) emulates the filter for every
/// native syscall number with only `nr` and `arch` known, and skips the filter for those that
/// come out as ALLOW. Every syscall without a rule must be cacheable; those with argument rules
/// (and the denied ones) must not.
#[test]
fn default_filter_is_cacheable_except_for_restricted_syscalls() {
    let prog = default_program().unwrap();
    let mut restricted = default_denied();
    for name in ["ioctl", "clone", "unshare", "clone3"] {
        restricted.insert(nr(name));
    }
    let audit = native().audit_arch();
    let mut uncached = Vec::new();
    for nr in 0..1024 {
        let cached = run(prog, audit, nr, None) == Some(ALLOW);
        assert_eq!(cached, !restricted.contains(&nr), "nr {nr}");
        if !cached {
            uncached.push(table::name(nr).unwrap_or("?"));
        }
    }
    eprintln!("not cacheable: {}", uncached.join(" "));
    // Argument rules read memory only on their own syscall's path.
    assert_eq!(run(prog, audit, nr("ioctl"), None), None);
    assert_eq!(run(prog, audit, nr("keyctl"), None), Some(EPERM));
}

// ---------------------------------------------------------------------------------------------
// Allow-lists, rules, errors.

#[test]
fn untrusted_filter_is_an_allow_list() {
    let prog = compile(&SeccompSpec::untrusted(), native()).unwrap();
    bpf::check(&prog).unwrap();
    eprintln!("untrusted filter: {} instructions", prog.len());
    let audit = native().audit_arch();
    let baseline = resolve("@baseline").unwrap();
    let ruled: BTreeSet<u32> = ["ioctl", "clone", "unshare", "clone3"].map(nr).into();
    for &(name, nr) in table::native() {
        let got = run(&prog, audit, nr, None);
        if ruled.contains(&nr) {
            continue;
        }
        let want = if baseline.contains(&nr) { ALLOW } else { EPERM };
        assert_eq!(got, Some(want), "{name}");
    }
    assert_eq!(run(&prog, audit, 1000, None), Some(EPERM));
    assert_eq!(
        verdict(&prog, "ioctl", [1, TIOCSTI | 1 << 32, 0, 0, 0, 0]),
        EPERM
    );
    assert_eq!(
        verdict(&prog, "ioctl", [1, libc::TCGETS, 0, 0, 0, 0]),
        ALLOW
    );
    assert_eq!(verdict(&prog, "clone3", [0; 6]), ENOSYS);
    let newuser = libc::CLONE_NEWUSER as u64;
    assert_eq!(verdict(&prog, "clone", [newuser, 0, 0, 0, 0, 0]), EPERM);
    assert_eq!(
        verdict(&prog, "clone", [libc::SIGCHLD as u64, 0, 0, 0, 0, 0]),
        ALLOW
    );
}

#[test]
fn errno_and_kill_defaults() {
    let spec = SeccompSpec {
        default_action: Action::Kill,
        allow: vec!["@default".into(), "write".into()],
        deny: vec!["getppid".into()],
        errno: Some(libc::EACCES),
        ..Default::default()
    };
    let prog = compile(&spec, native()).unwrap();
    assert_eq!(verdict(&prog, "write", [0; 6]), ALLOW);
    // deny wins over allow (getppid is in @default).
    let eacces = bpf::RET_ERRNO | libc::EACCES as u32;
    assert_eq!(verdict(&prog, "getppid", [0; 6]), eacces);
    assert_eq!(verdict(&prog, "read", [0; 6]), bpf::RET_KILL_PROCESS);
}

#[test]
fn rules_are_first_match_and_override_the_lists() {
    let arg = |index, op, value| ArgCondition {
        index,
        op,
        value,
        mask: None,
        width: Width::Bits64,
    };
    let spec = SeccompSpec {
        default_action: Action::Allow,
        deny: vec!["socket".into()],
        rules: vec![
            // Allow AF_UNIX sockets despite the deny-list.
            RuleSpec {
                syscall: "socket".into(),
                action: Action::Allow,
                errno: None,
                args: vec![arg(0, Op::Eq, libc::AF_UNIX as u64)],
            },
            RuleSpec {
                syscall: "read".into(),
                action: Action::Errno,
                errno: Some(libc::EIO),
                args: vec![arg(0, Op::Ge, 100), arg(2, Op::Lt, 1 << 40)],
            },
            RuleSpec {
                syscall: "read".into(),
                action: Action::Trap,
                errno: None,
                args: vec![arg(0, Op::Ge, 50)],
            },
        ],
        ..Default::default()
    };
    let prog = compile(&spec, native()).unwrap();
    bpf::check(&prog).unwrap();
    let unix = libc::AF_UNIX as u64;
    assert_eq!(verdict(&prog, "socket", [unix, 1, 0, 0, 0, 0]), ALLOW);
    assert_eq!(
        verdict(&prog, "socket", [libc::AF_INET as u64, 1, 0, 0, 0, 0]),
        EPERM
    );
    let eio = bpf::RET_ERRNO | libc::EIO as u32;
    assert_eq!(verdict(&prog, "read", [100, 0, 1, 0, 0, 0]), eio);
    assert_eq!(
        verdict(&prog, "read", [100, 0, 1 << 40, 0, 0, 0]),
        bpf::RET_TRAP
    );
    assert_eq!(verdict(&prog, "read", [60, 0, 1, 0, 0, 0]), bpf::RET_TRAP);
    assert_eq!(verdict(&prog, "read", [3, 0, 1, 0, 0, 0]), ALLOW);
}

#[test]
fn bad_specs_are_refused() {
    let with_rule = |rule: RuleSpec| SeccompSpec {
        rules: vec![rule],
        ..Default::default()
    };
    let rule = |args: Vec<ArgCondition>| RuleSpec {
        syscall: "ioctl".into(),
        action: Action::Errno,
        errno: None,
        args,
    };
    let arg = |index, op, value, mask, width| ArgCondition {
        index,
        op,
        value,
        mask,
        width,
    };
    let compile = |spec: &SeccompSpec| compile(spec, native()).unwrap_err().to_string();

    for errno in [0, -1, 4096] {
        let spec = SeccompSpec {
            errno: Some(errno),
            ..Default::default()
        };
        assert!(compile(&spec).contains("out of range"));
    }
    let spec = SeccompSpec {
        allow: vec!["read".into()],
        ..Default::default()
    };
    assert!(compile(&spec).contains("has no effect"));
    let cases = [
        (arg(6, Op::Eq, 1, None, Width::Bits32), "argument index 6"),
        (arg(1, Op::Eq, 1 << 32, None, Width::Bits32), "width = 64"),
        (arg(1, Op::MaskedEq, 1, None, Width::Bits32), "needs a mask"),
        (
            arg(1, Op::MaskedEq, 3, Some(1), Width::Bits32),
            "never matches",
        ),
        (arg(1, Op::Eq, 3, Some(1), Width::Bits32), "only for op"),
    ];
    for (cond, message) in cases {
        let got = compile(&with_rule(rule(vec![cond])));
        assert!(got.contains(message), "{got}");
    }
    let too_many = vec![arg(1, Op::Eq, 1, None, Width::Bits32); 17];
    assert!(compile(&with_rule(rule(too_many))).contains("more than 16"));
    let mut kill = rule(vec![]);
    kill.action = Action::Kill;
    kill.errno = Some(1);
    assert!(compile(&with_rule(kill)).contains("only for action"));
    let mut unknown = rule(vec![]);
    unknown.syscall = "ioctll".into();
    assert!(compile(&with_rule(unknown)).contains("did you mean ioctl?"));

    let other = match native() {
        Arch::X86_64 => Arch::Aarch64,
        Arch::Aarch64 => Arch::X86_64,
    };
    let err = super::compile(&SeccompSpec::default(), other).unwrap_err();
    assert!(matches!(err, Error::ForeignArch { .. }), "{err}");
}

#[test]
fn sixteen_64_bit_conditions_still_fit_the_jumps() {
    let cond = ArgCondition {
        index: 5,
        op: Op::MaskedEq,
        value: 1 << 40,
        mask: Some(u64::MAX),
        width: Width::Bits64,
    };
    let spec = SeccompSpec {
        rules: vec![RuleSpec {
            syscall: "@file-system".into(),
            action: Action::Kill,
            errno: None,
            args: vec![cond; 16],
        }],
        ..Default::default()
    };
    let prog = compile(&spec, native()).unwrap();
    bpf::check(&prog).unwrap();
    assert_eq!(
        verdict(&prog, "openat", [0, 0, 0, 0, 0, 1 << 40]),
        bpf::RET_KILL_PROCESS
    );
    assert_eq!(verdict(&prog, "openat", [0, 0, 0, 0, 0, 1]), ALLOW);
}

#[test]
fn specs_deserialize_from_toml() {
    #[derive(Deserialize)]
    struct Policy {
        seccomp: SeccompSpec,
    }
    let text = r#"
        [seccomp]
        default-action = "errno"
        errno = 38
        allow = ["@baseline", "ptrace"]
        deny = ["@mount"]

        [[seccomp.rule]]
        syscall = "ioctl"
        args = [{ index = 1, op = "eq", value = 0x5412 }]

        [[seccomp.rule]]
        syscall = "personality"
        action = "allow"
        args = [{ arg = 0, op = "masked-eq", value = 0, mask = 0xffff_0000, width = 64 }]
    "#;
    let spec = toml::from_str::<Policy>(text).unwrap().seccomp;
    assert_eq!(spec.default_action, Action::Errno);
    assert_eq!(spec.errno, Some(38));
    assert_eq!(spec.allow, ["@baseline", "ptrace"]);
    assert_eq!(spec.rules.len(), 2);
    assert_eq!(spec.rules[0].action, Action::Errno);
    assert_eq!(spec.rules[0].args[0].width, Width::Bits32);
    assert_eq!(spec.rules[1].args[0].width, Width::Bits64);
    assert_eq!(spec.rules[1].args[0].mask, Some(0xffff_0000));
    let prog = compile(&spec, native()).unwrap();
    assert_eq!(verdict(&prog, "ptrace", [0; 6]), ALLOW);
    assert_eq!(verdict(&prog, "mount", [0; 6]), ENOSYS);
    assert_eq!(verdict(&prog, "personality", [8, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(
        verdict(&prog, "personality", [0x0040_0000, 0, 0, 0, 0, 0]),
        ENOSYS
    );

    for bad in [
        "[seccomp]\ndefault-action = \"deny\"",
        "[seccomp]\nalow = [\"read\"]",
        "[[seccomp.rule]]\nsyscall = \"read\"\nargs = [{ index = 0, op = \"eq\", value = 1, width = 48 }]",
    ] {
        assert!(toml::from_str::<Policy>(bad).is_err(), "{bad}");
    }
}

/// Rust source of the precomputed default program (src/confine/seccomp/precomputed.rs),
/// formatted as rustfmt leaves it.
#[cfg(target_arch = "x86_64")]
fn precomputed_source(prog: &[sock_filter]) -> String {
    let mut out = String::from(
        "//! The default filter for x86_64, precomputed: `compile(&SeccompSpec::default_filter(),\n\
         //! Arch::X86_64)`. Generated; do not edit. The unit test\n\
         //! `precomputed_default_program_is_current` checks it; to regenerate, run it with\n\
         //! `SBX_BLESS=1`. The layout is described in `bpf.rs`.\n\n\
         use super::bpf::jump as i;\n\
         use super::sock_filter;\n\n",
    );
    out += &format!(
        "pub static DEFAULT_X86_64: [sock_filter; {}] = [\n",
        prog.len()
    );
    let code: Vec<String> = prog
        .iter()
        .map(|f| format!("    i({:#06x}, {:#010x}, {}, {}),", f.code, f.k, f.jt, f.jf))
        .collect();
    let width = code.iter().map(String::len).max().unwrap_or(0);
    for (line, text) in code.iter().zip(bpf::disassemble(prog, table::name)) {
        out += &format!("{line:width$} // {text}\n");
    }
    out + "];\n"
}

#[cfg(target_arch = "x86_64")]
#[test]
fn precomputed_default_program_is_current() {
    let compiled = compile(&SeccompSpec::default_filter(), Arch::X86_64).unwrap();
    let source = precomputed_source(&compiled);
    if std::env::var_os("SBX_BLESS").is_some() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/confine/seccomp/precomputed.rs"
        );
        std::fs::write(path, source).unwrap();
        return;
    }
    assert!(
        compiled.as_slice() == default_program().unwrap(),
        "src/confine/seccomp/precomputed.rs is out of date; rerun this test with SBX_BLESS=1 \
         to regenerate it. New contents:\n{source}"
    );
}

/// Compile cost of the default filter; run with `--nocapture` to see it. Not asserted.
#[test]
fn compile_cost_of_the_default_filter() {
    let start = Instant::now();
    let first = compile(&SeccompSpec::default_filter(), native()).unwrap();
    let cold = start.elapsed();
    let time = |spec: fn() -> SeccompSpec| {
        let rounds = 1000;
        let start = Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(compile(&std::hint::black_box(spec()), native()).unwrap());
        }
        start.elapsed() / rounds
    };
    let warm = time(SeccompSpec::default_filter);
    let strict = time(SeccompSpec::untrusted);
    let start = Instant::now();
    let precomputed = default_program().unwrap().len();
    let lookup = start.elapsed();
    eprintln!(
        "seccomp compile (spec + compile): default filter ({} insns) first {cold:?}, then \
         {warm:?}; untrusted filter {strict:?}; default_program() {lookup:?} ({precomputed})",
        first.len()
    );
}

// ---------------------------------------------------------------------------------------------
// Installed filters, in forked children.

/// Syscalls the children make, each with fixed integer (or null pointer) arguments.
#[derive(Clone, Copy, Debug)]
enum Probe {
    /// keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)
    Keyctl,
    /// bpf(BPF_PROG_LOAD, NULL, 0)
    Bpf,
    /// ioctl(-1, request, NULL)
    Ioctl(u64),
    /// clone(flags, NULL, ...): fork-like, the child returns 0 and exits.
    Clone(u64),
    /// clone3(NULL, 0)
    Clone3,
    /// getpid() under its x32 number.
    X32Getpid,
    /// getpid()
    Getpid,
}

#[allow(unsafe_code)]
fn probe(p: Probe) -> Result<i64, Errno> {
    let none: u64 = 0;
    let (nr, a, b, c) = match p {
        Probe::Keyctl => (libc::SYS_keyctl, 0, (-3i64) as u64, 0),
        Probe::Bpf => (libc::SYS_bpf, 5, none, 0),
        Probe::Ioctl(req) => (libc::SYS_ioctl, u64::MAX, req, none),
        Probe::Clone(flags) => (libc::SYS_clone, flags, none, none),
        Probe::Clone3 => (libc::SYS_clone3, none, 0, 0),
        Probe::X32Getpid => (0x4000_0000 | libc::SYS_getpid, 0, 0, 0),
        Probe::Getpid => (libc::SYS_getpid, 0, 0, 0),
    };
    // SAFETY: the arguments are fixed above: integers and null pointers, for syscalls that
    // only read through them (ioctl on fd -1, bpf, clone3) or take none; clone without a new
    // stack behaves like fork. None writes to memory that Rust owns.
    let r = unsafe { libc::syscall(nr, a, b, c) };
    if r == 0 && matches!(p, Probe::Clone(_)) {
        // The child of a clone that went through: leave at once.
        linux::exit_now(0);
    }
    Errno::result(r)
}

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Ok,
    Err(Errno),
    Killed(Signal),
}

/// Runs `check` in a forked child after no_new_privs and `prog`; what it returned or died of.
fn in_child(prog: &[sock_filter], check: impl FnOnce() -> Result<(), Errno>) -> Seen {
    match linux::fork().expect("fork") {
        Fork::Child => {
            // No allocation, no locks: the test harness has other threads.
            let installed = linux::set_no_new_privs().is_ok() && install(prog).is_ok();
            let code = match installed.then(check) {
                None => 255,
                Some(Ok(())) => 0,
                Some(Err(errno)) => errno as i32,
            };
            linux::exit_now(code)
        }
        Fork::Parent(pid) => {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                match waitpid(pid, Some(WaitPidFlag::WNOHANG)).expect("waitpid") {
                    WaitStatus::StillAlive if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    WaitStatus::StillAlive => {
                        let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
                        let _ = waitpid(pid, None);
                        panic!("child {pid} hung");
                    }
                    WaitStatus::Exited(_, 0) => return Seen::Ok,
                    WaitStatus::Exited(_, 255) => panic!("could not install the filter"),
                    WaitStatus::Exited(_, code) => return Seen::Err(Errno::from_raw(code)),
                    WaitStatus::Signaled(_, sig, _) => return Seen::Killed(sig),
                    other => panic!("child: {other:?}"),
                }
            }
        }
    }
}

fn probe_in_child(prog: &[sock_filter], p: Probe) -> Seen {
    in_child(prog, || probe(p).map(drop))
}

#[test]
fn installed_default_filter_denies() {
    let prog = default_program().unwrap();
    let newuser = libc::CLONE_NEWUSER as u64;
    let cases = [
        (Probe::Keyctl, Seen::Err(Errno::EPERM)),
        (Probe::Bpf, Seen::Err(Errno::EPERM)),
        (Probe::Ioctl(TIOCSTI), Seen::Err(Errno::EPERM)),
        (Probe::Ioctl(TIOCSTI | 1 << 32), Seen::Err(Errno::EPERM)),
        (
            Probe::Ioctl(TIOCLINUX | 0xdead_0000_0000),
            Seen::Err(Errno::EPERM),
        ),
        // Allowed: the kernel answers, for fd -1.
        (Probe::Ioctl(libc::TCGETS), Seen::Err(Errno::EBADF)),
        (Probe::Clone3, Seen::Err(Errno::ENOSYS)),
        (
            Probe::Clone(newuser | libc::SIGCHLD as u64),
            Seen::Err(Errno::EPERM),
        ),
        (Probe::Clone(libc::SIGCHLD as u64), Seen::Ok),
    ];
    for (p, want) in cases {
        assert_eq!(probe_in_child(prog, p), want, "{p:?}");
    }
    let unshare = |flags| move || linux::unshare(flags);
    assert_eq!(
        in_child(prog, unshare(libc::CLONE_NEWUSER)),
        Seen::Err(Errno::EPERM)
    );
    let getpid = || match probe(Probe::Getpid)? == i64::from(nix::unistd::getpid().as_raw()) {
        true => Ok(()),
        false => Err(Errno::EBADE),
    };
    assert_eq!(in_child(prog, getpid), Seen::Ok);
    if cfg!(target_arch = "x86_64") {
        let x32 = probe_in_child(prog, Probe::X32Getpid);
        assert_eq!(x32, Seen::Killed(Signal::SIGSYS));
    }
}

/// The same checks with a distinctive errno, so that it is the filter, not the kernel, that
/// refuses (an unprivileged bpf or unshare may fail with EPERM on its own).
#[test]
fn installed_filter_is_what_refuses() {
    const MARK: Errno = Errno::ENOTRECOVERABLE;
    let spec = SeccompSpec {
        errno: Some(MARK as i32),
        ..SeccompSpec::default_filter()
    };
    let prog = compile(&spec, native()).unwrap();
    for p in [
        Probe::Keyctl,
        Probe::Bpf,
        Probe::Ioctl(TIOCSTI | 1 << 32),
        Probe::Clone(libc::CLONE_NEWUSER as u64),
    ] {
        assert_eq!(probe_in_child(&prog, p), Seen::Err(MARK), "{p:?}");
    }
    let unshare = |flags| move || linux::unshare(flags);
    assert_eq!(
        in_child(&prog, unshare(libc::CLONE_NEWUSER)),
        Seen::Err(MARK)
    );
    // Other namespaces are left to the kernel (which may or may not allow them).
    assert_ne!(
        in_child(&prog, unshare(libc::CLONE_NEWUTS)),
        Seen::Err(MARK)
    );
}

/// pthread_create tries clone3 first and falls back to clone on ENOSYS.
#[test]
fn threads_and_fork_work_under_the_default_filter() {
    let prog = default_program().unwrap();
    let spawn = || match std::thread::spawn(|| 42).join() {
        Ok(42) => Ok(()),
        _ => Err(Errno::ECHILD),
    };
    assert_eq!(in_child(prog, spawn), Seen::Ok);
    let fork = || match linux::fork()? {
        Fork::Child => linux::exit_now(0),
        Fork::Parent(pid) => match waitpid(pid, None)? {
            WaitStatus::Exited(_, 0) => Ok(()),
            _ => Err(Errno::ECHILD),
        },
    };
    assert_eq!(in_child(prog, fork), Seen::Ok);
}

/// Runs `sh -c script` under `prog` and returns what happened.
fn sh_in_child(prog: &[sock_filter], script: &str) -> Seen {
    use std::ffi::CString;
    let sh = CString::new("/bin/sh").unwrap();
    let argv = ["sh", "-c", script].map(|a| CString::new(a).unwrap());
    let envp: Vec<CString> = std::env::vars()
        .map(|(k, v)| CString::new(format!("{k}={v}")).unwrap())
        .collect();
    in_child(prog, || Err(linux::execve(&sh, &argv, &envp)))
}

fn have(program: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success())
}

/// `@baseline` is enough for a shell, python3 and a C build (those present).
#[test]
fn untrusted_filter_runs_shell_python_and_gcc() {
    let prog = compile(&SeccompSpec::untrusted(), native()).unwrap();
    let shell = r#"set -e
        d=$(mktemp -d); trap 'rm -rf "$d"' EXIT; cd "$d"
        x=$(echo hi | tr a-z A-Z); [ "$x" = HI ]
        for f in a b c; do echo "$f" >> list; done; sort -r list | head -1 | grep -q c
        ls -la / >/dev/null; cp list copy; mv copy moved; ln -s moved link; cat link >/dev/null
        sleep 0.01 & wait
        tty -s </dev/null || true"#;
    assert_eq!(sh_in_child(&prog, shell), Seen::Ok, "sh");
    if have("python3") {
        let python = r#"python3 -c '
import json, os, socket, subprocess, sys, tempfile, threading
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(4) as ex: assert sum(ex.map(lambda x: x * x, range(10))) == 285
assert subprocess.run(["true"]).returncode == 0
a, b = socket.socketpair(); a.send(b"x"); assert b.recv(1) == b"x"
with tempfile.TemporaryDirectory() as d: open(os.path.join(d, "f"), "w").write(json.dumps([1]))
' "#;
        assert_eq!(sh_in_child(&prog, python), Seen::Ok, "python3");
        eprintln!("untrusted filter: python3 ran");
    }
    if have("gcc") {
        let gcc = r#"set -e
            d=$(mktemp -d); trap 'rm -rf "$d"' EXIT; cd "$d"
            printf '#include <stdio.h>\nint main(void) { puts("ok"); return 0; }\n' > t.c
            printf 't: t.c\n\tgcc -O2 -pthread -o t t.c\n' > Makefile
            if command -v make >/dev/null; then make -s -j2 >/dev/null; else gcc -o t t.c; fi
            [ "$(./t)" = ok ]"#;
        assert_eq!(sh_in_child(&prog, gcc), Seen::Ok, "gcc");
        eprintln!("untrusted filter: gcc ran");
    }
    // And what it leaves out fails: ptrace.
    let ptrace = r#"! strace -f true 2>/dev/null || exit 1"#;
    if have("strace") {
        assert_eq!(sh_in_child(&prog, ptrace), Seen::Ok, "ptrace should fail");
        eprintln!("untrusted filter: strace refused");
    }
}
