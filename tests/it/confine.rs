//! Policies and confinement (issue 4): policy files, landlock, seccomp, capabilities and limits,
//! checked from inside the sandbox.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::util::*;

/// Writes a policy file readable by the test user and returns its path.
fn policy_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    path
}

#[test]
fn policy_list_show_and_check() {
    let out = rootless_ok(&["policy", "list"]);
    for name in ["default", "build", "devtool", "untrusted", "makepkg"] {
        let line = out
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing: {out}"));
        assert!(
            line.contains("built-in") && line.split_whitespace().count() > 3,
            "{line}"
        );
    }
    let out = rootless_ok(&["policy", "show", "build"]);
    let host = out.lines().find(|l| l.starts_with("hostname")).unwrap();
    assert!(
        host.contains("\"build\"") && host.contains("# <builtin>/build.toml:"),
        "{host}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("net = true") && l.contains("<builtin>/default.toml")),
        "{out}"
    );

    let policies: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/policies"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".toml"))
        .collect();
    assert_eq!(policies.len(), 5);
    let dir = TestDir::new(Some(&unprivileged_user()));
    let mut args = vec!["policy".to_string(), "check".to_string()];
    for p in &policies {
        // Copy them where the test user can read them.
        let copy = policy_file(
            &dir.path,
            Path::new(p).file_name().unwrap().to_str().unwrap(),
            &std::fs::read_to_string(p).unwrap(),
        );
        args.push(copy.display().to_string());
    }
    let run = Sbx::rootless().args(&args).run();
    assert_eq!(run.code(), 0, "{}", run.stderr());
}

#[test]
fn bad_policies_are_refused_with_file_line_column_and_a_hint() {
    let dir = TestDir::new(Some(&unprivileged_user()));
    let d = &dir.path;
    let cycle_a = d.join("cycle-a.toml");
    let cycle_b = d.join("cycle-b.toml");
    policy_file(
        d,
        "cycle-a.toml",
        &format!("extends = [{:?}]\n", cycle_b.display().to_string()),
    );
    policy_file(
        d,
        "cycle-b.toml",
        &format!(
            "description = \"b\"\nextends = [{:?}]\n",
            cycle_a.display().to_string()
        ),
    );
    let cases: Vec<(PathBuf, &str, &str)> = vec![
        (
            policy_file(d, "key.toml", "[identity]\nhostnme = \"x\"\n"),
            ":2:1:",
            "did you mean `hostname`?",
        ),
        (
            policy_file(d, "type.toml", "[namespaces]\nnet = \"yes\"\n"),
            ":2:7:",
            "bool",
        ),
        (
            policy_file(d, "sys.toml", "[seccomp]\ndeny = [\"ptrce\"]\n"),
            ":2:9:",
            "did you mean ptrace",
        ),
        (
            policy_file(d, "cap.toml", "[capabilities]\nkeep = [\"CAP_SYS_ADMN\"]\n"),
            ":2:9:",
            "did you mean CAP_SYS_ADMIN",
        ),
        (
            policy_file(d, "parent.toml", "extends = [\"defualt\"]\n"),
            ":1:12:",
            "did you mean default?",
        ),
        (cycle_a.clone(), "cycle-b.toml:2:", "cycle"),
    ];
    for (file, location, hint) in cases {
        for args in [
            vec![
                "--policy".to_string(),
                file.display().to_string(),
                "--".into(),
                "true".into(),
            ],
            vec!["policy".into(), "check".into(), file.display().to_string()],
        ] {
            let run = Sbx::rootless().args(&args).run();
            let err = run.stderr();
            assert_eq!(run.code(), 125, "{args:?}: {err}");
            assert!(err.starts_with("sbx: "), "{err}");
            assert!(err.contains(location), "{args:?}: no {location} in {err}");
            assert!(err.contains(hint), "{args:?}: no {hint:?} in {err}");
        }
    }
    let run = Sbx::rootless().args(["--policy", "no-such", "true"]).run();
    assert_eq!(run.code(), 125);
    assert!(run.stderr().contains("no such policy"), "{}", run.stderr());
}

#[test]
fn a_policy_in_the_current_directory_is_never_picked_up() {
    let sbx = Sbx::rootless();
    policy_file(
        sbx.dir(),
        "evil.toml",
        "description = \"evil\"\n[identity]\nhostname = \"evil\"\n",
    );
    let run = sbx.args(["--policy", "evil", "--", "hostname"]).run();
    assert_eq!(run.code(), 125, "{}", run.stdout());
    assert!(run.stderr().contains("no such policy"));
}

const SYSCALLS: &str = r#"
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def sc(name, nr, *args):
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    print(name, "ok" if r >= 0 else os.strerror(ctypes.get_errno()))
sc("tiocsti", 16, 0, 0x5412, 0)
sc("tiocsti-high-bits", 16, 0, 0x5412 | (1 << 32), 0)
sc("keyctl", 250, 0, 0, 0)
sc("bpf", 321, 0, 0, 0)
sc("perf_event_open", 298, 0, 0, -1, -1, 0)
sc("userfaultfd", 323, 0)
sc("io_uring_setup", 425, 1, 0)
sc("unshare-user", 272, 0x10000000)
sc("getppid", 110)
"#;

#[test]
fn the_default_seccomp_filter_denies_dangerous_calls() {
    if !require(have("python3"), "python3", "apt-get install python3")
        || !cfg!(target_arch = "x86_64")
    {
        return;
    }
    let out = rootless_ok(&["--", "python3", "-c", SYSCALLS]);
    for line in out.lines() {
        let (name, result) = line.split_once(' ').unwrap();
        let want = if name == "getppid" {
            "ok"
        } else {
            "Operation not permitted"
        };
        assert_eq!(result, want, "{name}: {out}");
    }
    // Outside sbx, TIOCSTI on a non-tty is ENOTTY, not EPERM: the filter is what answers.
    let out = std::process::Command::new("python3")
        .args(["-c", SYSCALLS])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("tiocsti Inappropriate ioctl"));
}

#[test]
fn a_syscall_through_int_0x80_kills_the_process() {
    if !require(have("gcc"), "gcc", "apt-get install gcc libc6-dev")
        || !cfg!(target_arch = "x86_64")
    {
        return;
    }
    let sbx = Sbx::rootless();
    let src = sbx.dir().join("int80.c");
    std::fs::write(&src, "#include <stdio.h>\nint main(void){long r;__asm__ volatile(\"int $0x80\":\"=a\"(r):\"a\"(20):\"memory\");printf(\"%ld\\n\",r);return 0;}\n").unwrap();
    let bin = sbx.dir().join("int80");
    let out = std::process::Command::new("gcc")
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Outside, the call works (it prints a pid); inside, SIGSYS kills it: 128 + 31.
    assert!(std::process::Command::new(&bin)
        .output()
        .unwrap()
        .status
        .success());
    let run = sbx.args(["--", "./int80"]).run();
    assert_eq!(run.code(), 159, "{} {}", run.stdout(), run.stderr());
}

#[test]
fn job_control_works_in_an_interactive_shell_under_a_pty() {
    if !require(have("python3"), "python3", "apt-get install python3") {
        return;
    }
    // A pty whose child is `sbx -- bash -i`: start sleep, Ctrl-Z it, `fg` it, Ctrl-C it.
    let script = r#"
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
out = b""
def expect(token, timeout=10):
    global out
    end = time.time() + timeout
    while token not in out and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try: out += os.read(fd, 4096)
            except OSError: break
    if token not in out:
        print("MISSING", token, out); sys.exit(1)
os.write(fd, b"PS1='$ '; echo READY\n"); expect(b"READY\r\n")
os.write(fd, b"sleep 30\n"); time.sleep(0.5)
os.write(fd, b"\x1a"); expect(b"Stopped")
os.write(fd, b"fg\n"); expect(b"sleep 30"); time.sleep(0.3)
os.write(fd, b"\x03"); time.sleep(0.3)
os.write(fd, b"echo AFTER-$?\n"); expect(b"AFTER-130")
os.write(fd, b"exit\n"); os.waitpid(pid, 0); print("JOBCONTROL-OK")
"#;
    let sbx = Sbx::rootless();
    let program = sbx.cmd.get_program().to_owned();
    let args: Vec<_> = sbx.cmd.get_args().map(|a| a.to_owned()).collect();
    let mut cmd = std::process::Command::new("python3");
    cmd.arg("-c")
        .arg(script)
        .arg(program)
        .args(args)
        .args(["--", "bash", "--norc", "-i"]);
    cmd.env_clear()
        .envs(sbx.cmd.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .env("TERM", "dumb");
    cmd.current_dir(sbx.dir());
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("JOBCONTROL-OK"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn landlock_blocks_writes_the_policy_does_not_allow() {
    let user = unprivileged_user();
    let dir = TestDir::new(Some(&user));
    let data = dir.path.join("data");
    std::fs::create_dir(&data).unwrap();
    std::os::unix::fs::chown(&data, Some(user.uid), Some(user.gid)).unwrap();
    let policy = policy_file(
        &dir.path,
        "p.toml",
        &format!(
            "description = \"t\"\nextends = [\"default\"]\n[filesystem]\nview = \"empty\"\nmounts = [\n  \
             {{ ro_bind = \"/usr\" }}, {{ symlink = \"usr/bin\", dest = \"/bin\" }},\n  \
             {{ symlink = \"usr/lib\", dest = \"/lib\" }}, {{ symlink = \"usr/lib64\", dest = \"/lib64\" }},\n  \
             {{ bind = {:?}, dest = \"/data\" }}, {{ proc = \"/proc\" }}, {{ dev = \"/dev\" }},\n]\n",
            data.display().to_string()
        ),
    );
    let p = policy.display().to_string();
    // The view's root is a writable tmpfs, but no rule lets the command write there.
    let run = Sbx::rootless()
        .args(["--policy", &p, "--", "sh", "-c", "echo x > /f"])
        .run();
    assert_ne!(run.code(), 0);
    assert!(
        run.stderr().contains("Permission denied"),
        "{}",
        run.stderr()
    );
    // A writable mount of the policy gets the same rule as the same mount on the command
    // line: both are writable.
    let run = Sbx::rootless()
        .args([
            "--policy",
            &p,
            "--bind",
            data.to_str().unwrap(),
            "/data2",
            "--",
            "sh",
            "-c",
            "echo x > /data/f && echo x > /data2/g",
        ])
        .run();
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(data.join("f").exists() && data.join("g").exists());
}

#[test]
fn landlock_connect_allow_list_with_the_host_network() {
    if !require(have("python3"), "python3", "apt-get install python3") {
        return;
    }
    let allowed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (a, b) = (
        allowed.local_addr().unwrap().port(),
        other.local_addr().unwrap().port(),
    );
    let dir = TestDir::new(Some(&unprivileged_user()));
    let policy = policy_file(
        &dir.path,
        "net.toml",
        &format!("extends = [\"default\"]\n[landlock]\nconnect_tcp = [{a}]\n"),
    );
    let script = format!(
        "import socket\nfor p in ({a}, {b}):\n    try:\n        socket.create_connection(('127.0.0.1', p), timeout=5); print(p, 'ok')\n    except OSError as e: print(p, e.errno)\n"
    );
    let out = rootless_ok(&[
        "--policy",
        policy.to_str().unwrap(),
        "--share-net",
        "--",
        "python3",
        "-c",
        &script,
    ]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec![format!("{a} ok"), format!("{b} 13")],
        "{out}"
    );
    // Without the allow-list both connect.
    let out = rootless_ok(&["--share-net", "--", "python3", "-c", &script]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec![format!("{a} ok"), format!("{b} ok")],
        "{out}"
    );
}

#[test]
fn landlock_scope_stops_signals_to_host_processes() {
    let user = unprivileged_user();
    let mut sleeper = std::process::Command::new("setpriv");
    if is_root() {
        sleeper.args([
            format!("--reuid={}", user.uid),
            format!("--regid={}", user.gid),
            "--clear-groups".into(),
            "--".into(),
        ]);
    }
    let mut sleeper = sleeper.args(["sleep", "30"]).spawn().unwrap();
    let pid = sleeper.id().to_string();
    let run = Sbx::rootless()
        .args(["--share-pid", "--", "sh", "-c", &format!("kill -0 {pid}")])
        .run();
    assert_ne!(
        run.code(),
        0,
        "a host process of the same user was signalled"
    );
    assert!(run.stderr().contains("not permitted"), "{}", run.stderr());
    let _ = sleeper.kill();
    let _ = sleeper.wait();
}

#[test]
fn untrusted_still_runs_shells_interpreters_and_compilers() {
    let sbx = Sbx::rootless();
    std::fs::write(
        sbx.dir().join("hello.c"),
        "#include <stdio.h>\nint main(void){puts(\"hello\");return 0;}\n",
    )
    .unwrap();
    let mut script = "sh -c 'echo ok'".to_string();
    if require(have("python3"), "python3", "apt-get install python3") {
        script.push_str(" && python3 -c 'print(1)'");
    }
    if require(have("gcc"), "gcc", "apt-get install gcc libc6-dev") {
        // It compiles, but what it wrote does not run: the project is not on the execute list.
        script.push_str(" && gcc -o hello hello.c && { ./hello || echo refused $?; }");
    }
    let out = sbx
        .args(["--policy", "untrusted", "--", "sh", "-c", &script])
        .run()
        .ok();
    assert!(out.starts_with("ok\n"), "{out}");
    if have("gcc") {
        assert!(out.ends_with("refused 126\n"), "{out}");
    }
    // And its allow-list refuses what is not on it.
    let run = Sbx::rootless()
        .args(["--policy", "untrusted", "--", "python3", "-c", SYSCALLS])
        .run();
    if have("python3") {
        assert!(
            run.stdout().contains("keyctl Operation not permitted"),
            "{}",
            run.stdout()
        );
    }
}

#[test]
fn policy_limits_and_capabilities_show_inside() {
    let dir = TestDir::new(Some(&unprivileged_user()));
    let policy = policy_file(
        &dir.path,
        "lim.toml",
        "extends = [\"default\"]\n[limits]\nnofile = 123\ncore = 0\ncpu = 77\n[capabilities]\nkeep = [\"CAP_NET_RAW\"]\n",
    );
    let out = rootless_ok(&[
        "--policy",
        policy.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "ulimit -n; ulimit -c; ulimit -t; grep CapEff /proc/self/status",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..3], &["123", "0", "77"], "{out}");
    assert!(lines[3].ends_with("0000000000002000"), "{out}");
    let out = rootless_ok(&["--policy", "untrusted", "--", "sh", "-c", "ulimit -n"]);
    assert_eq!(out.trim(), "1024");
}

#[test]
fn build_policy_gives_a_stable_environment() {
    let sbx = Sbx::rootless();
    let run = sbx
        .via_shell("export SOURCE_DATE_EPOCH=1700000000 SECRET_TOKEN=x")
        .args([
            "--policy",
            "build",
            "--",
            "sh",
            "-c",
            "env | sort; umask; hostname; cat /proc/net/dev | wc -l",
        ])
        .run();
    let out = run.ok();
    for want in [
        "TZ=UTC",
        "LANG=C.UTF-8",
        "SOURCE_DATE_EPOCH=1700000000",
        "0022",
        "build",
    ] {
        assert!(out.lines().any(|l| l == want), "{want} missing: {out}");
    }
    assert!(!out.contains("SECRET_TOKEN"), "{out}");
    assert!(out.trim_end().ends_with('3'), "only lo: {out}");
}

#[test]
fn policy_check_reports_every_problem_of_a_file() {
    let dir = TestDir::new(Some(&unprivileged_user()));
    let bad = policy_file(
        &dir.path,
        "many.toml",
        "[identity]\nmap = \"rot\"\n[capabilities]\nkeep = [\"CAP_NET_RWA\"]\n[seccomp]\ndeny = [\"ptrce\", \"keyctl\"]\n",
    );
    let r = Sbx::rootless()
        .args(["policy", "check", bad.to_str().unwrap()])
        .run();
    assert_eq!(r.code(), 125);
    let err = r.stderr();
    for (at, hint) in [
        (":2:7:", "did you mean \"root\"?"),
        (":4:9:", "did you mean CAP_NET_RAW?"),
        (":6:9:", "did you mean ptrace?"),
    ] {
        assert!(
            err.contains(at) && err.contains(hint),
            "{at} {hint} missing: {err}"
        );
    }
}
