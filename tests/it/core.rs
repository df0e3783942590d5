//! The rootless core (issue 2): namespaces, id maps, PID 1, capabilities, exit statuses,
//! signals, cleanup. Every assertion is about what the command sees inside, or what the host
//! sees afterwards.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::*;

#[test]
fn ids_inside_match_the_mapping() {
    let user = unprivileged_user();
    assert_eq!(
        rootless_ok(&["--", "id", "-u"]).trim(),
        user.uid.to_string()
    );
    assert_eq!(
        rootless_ok(&["--", "id", "-g"]).trim(),
        user.gid.to_string()
    );
    assert_eq!(rootless_ok(&["--map-root", "--", "id", "-u"]).trim(), "0");
    let out = rootless_ok(&[
        "--map-root",
        "--",
        "cat",
        "/proc/self/uid_map",
        "/proc/self/gid_map",
        "/proc/self/setgroups",
    ]);
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        vec!["0".to_string(), user.uid.to_string(), "1".into()]
    );
    assert_eq!(
        lines[1],
        vec!["0".to_string(), user.gid.to_string(), "1".into()]
    );
    assert_eq!(lines[2], vec!["deny"]);
    assert_eq!(
        rootless_ok(&[
            "--uid",
            "4242",
            "--gid",
            "77",
            "--",
            "sh",
            "-c",
            "echo $(id -u):$(id -g)"
        ])
        .trim(),
        "4242:77"
    );
}

#[test]
fn every_namespace_is_new_unless_shared() {
    // The host's namespaces as the test user sees them: sbx's own parent (this process) shares them.
    let me = std::process::id();
    let all = ["user", "mnt", "pid", "ipc", "uts", "net", "cgroup"];
    let script = all
        .iter()
        .map(|n| format!("readlink /proc/self/ns/{n}"))
        .collect::<Vec<_>>()
        .join("; ");
    let out = rootless_ok(&["--", "sh", "-c", &script]);
    for (ns, inside) in all.iter().zip(out.lines()) {
        assert_ne!(inside, host_ns(me, ns), "{ns} namespace is the host's");
    }
    let out = rootless_ok(&["--share-net", "--", "readlink", "/proc/self/ns/net"]);
    assert_eq!(out.trim(), host_ns(me, "net"));
    let out = rootless_ok(&[
        "--share-ipc",
        "--share-uts",
        "--share-cgroup",
        "--",
        "sh",
        "-c",
        "readlink /proc/self/ns/ipc /proc/self/ns/uts /proc/self/ns/cgroup",
    ]);
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(
        got,
        vec![
            host_ns(me, "ipc"),
            host_ns(me, "uts"),
            host_ns(me, "cgroup")
        ]
    );
    let out = rootless_ok(&["--unshare-time", "--", "readlink", "/proc/self/ns/time"]);
    assert_ne!(out.trim(), host_ns(me, "time"));
}

#[test]
fn the_command_is_pid_2_under_sbx_init_and_sees_only_the_sandbox() {
    assert_eq!(rootless_ok(&["--", "sh", "-c", "echo $$"]).trim(), "2");
    assert_eq!(
        rootless_ok(&["--as-pid-1", "--", "sh", "-c", "echo $$"]).trim(),
        "1"
    );
    let out = rootless_ok(&[
        "--",
        "sh",
        "-c",
        "cd /proc && for p in [0-9]*; do echo $p; done",
    ]);
    let pids: Vec<u32> = out.lines().map(|l| l.parse().unwrap()).collect();
    assert!(pids.contains(&1) && pids.contains(&2), "{pids:?}");
    assert!(
        pids.iter().all(|&p| p < 10),
        "host processes visible: {pids:?}"
    );
    assert_eq!(rootless_ok(&["--", "cat", "/proc/1/comm"]).trim(), "sbx");
}

#[test]
fn only_loopback_exists_and_it_is_up() {
    let out = rootless_ok(&["--", "cat", "/proc/net/dev"]);
    let ifaces: Vec<&str> = out
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(ifaces, vec!["lo"]);
    // A server and a client on 127.0.0.1 talk; that needs lo up.
    let script = r#"
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
c = socket.create_connection(s.getsockname(), timeout=5)
a, _ = s.accept(); c.sendall(b"ping"); print(a.recv(4).decode())
"#;
    if require(have("python3"), "python3", "apt-get install python3") {
        assert_eq!(rootless_ok(&["--", "python3", "-c", script]).trim(), "ping");
    }
    if require(have("ip"), "ip(8)", "apt-get install iproute2") {
        let out = rootless_ok(&["--", "ip", "-o", "link", "show", "lo"]);
        assert!(out.contains("UP"), "{out}");
    }
}

#[test]
fn hostname_is_set_inside_and_unchanged_outside() {
    let before = nix::unistd::gethostname().unwrap();
    assert_eq!(
        rootless_ok(&["--hostname", "box", "--", "hostname"]).trim(),
        "box"
    );
    assert_eq!(rootless_ok(&["--", "hostname"]).trim(), "sbx");
    assert_eq!(nix::unistd::gethostname().unwrap(), before);
    let run = Sbx::rootless()
        .args(["--share-uts", "--hostname", "x", "true"])
        .run();
    assert_eq!(
        run.code(),
        125,
        "--hostname with --share-uts must be refused: {}",
        run.stderr()
    );
}

fn cap_sets(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter(|l| l.starts_with("Cap") || l.starts_with("NoNewPrivs"))
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.to_string(), v.trim().to_string())
        })
        .collect()
}

#[test]
fn capabilities_are_all_dropped_and_no_new_privs_is_set() {
    for args in [&["--"][..], &["--map-root", "--"]] {
        let mut a = args.to_vec();
        a.extend(["cat", "/proc/self/status"]);
        let sets = cap_sets(&rootless_ok(&a));
        assert_eq!(sets.len(), 6, "{sets:?}");
        for (k, v) in sets {
            let want = if k == "NoNewPrivs" {
                "1"
            } else {
                "0000000000000000"
            };
            assert_eq!(v, want, "{k} with {args:?}");
        }
    }
    for args in [
        &["--cap-add", "CAP_NET_RAW", "--"][..],
        &["--map-root", "--cap-add", "net_raw", "--"],
    ] {
        let mut a = args.to_vec();
        a.extend(["cat", "/proc/self/status"]);
        for (k, v) in cap_sets(&rootless_ok(&a)) {
            let want = if k == "NoNewPrivs" {
                "1"
            } else {
                "0000000000002000"
            };
            assert_eq!(v, want, "{k} with {args:?}");
        }
    }
}

#[test]
fn exit_statuses() {
    let code = |args: &[&str]| Sbx::rootless().args(args).run();
    assert_eq!(code(&["--", "sh", "-c", "exit 42"]).code(), 42);
    assert_eq!(code(&["--", "sh", "-c", "kill -TERM $$"]).code(), 143);
    let r = code(&["--", "no-such-command-sbx"]);
    assert_eq!(r.code(), 127);
    assert!(
        r.stderr().starts_with("sbx: ") && r.stderr().contains("not found"),
        "{}",
        r.stderr()
    );
    let sbx = Sbx::rootless();
    let file = sbx.dir().join("not-executable");
    std::fs::write(&file, "#!/bin/sh\necho ran\n").unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let r = sbx.args(["--", "./not-executable"]).run();
    assert_eq!(r.code(), 126, "{}", r.stderr());
    assert!(r.stdout().is_empty());
    let r = code(&["--no-such-option", "true"]);
    assert_eq!(r.code(), 125);
    assert!(r.stderr().starts_with("sbx: "), "{}", r.stderr());
    let r = code(&["--cap-add", "CAP_NET_RWA", "true"]);
    assert_eq!(r.code(), 125);
    assert!(
        r.stderr().contains("did you mean CAP_NET_RAW"),
        "{}",
        r.stderr()
    );
}

#[test]
fn environment_options_apply_in_order() {
    let out = rootless_ok(&[
        "--clearenv",
        "--setenv",
        "A",
        "1",
        "--setenv",
        "B",
        "2",
        "--unsetenv",
        "A",
        "--",
        "/usr/bin/env",
    ]);
    assert_eq!(out.trim(), "B=2");
    let out = rootless_ok(&["--chdir", "/usr", "--", "pwd"]);
    assert_eq!(out.trim(), "/usr");
    let run = Sbx::rootless();
    let dir = run.dir().to_path_buf();
    assert_eq!(run.args(["pwd"]).run().ok().trim(), dir.to_str().unwrap());
}

/// Starts `sbx ARGS` rootless with stdout piped and waits for its first line.
fn spawn_ready(
    args: &[&str],
) -> (
    std::process::Child,
    BufReader<std::process::ChildStdout>,
    Sbx,
) {
    let mut sbx = Sbx::rootless().args(args);
    sbx.cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = sbx.cmd.spawn().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    (child, reader, sbx)
}

#[test]
fn sigterm_to_sbx_reaches_the_command_and_its_status_comes_back() {
    let (mut child, mut out, _sbx) = spawn_ready(&[
        "--",
        "sh",
        "-c",
        "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.05; done",
    ]);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert_eq!(rest.trim(), "got-term");
    assert_eq!(status.code(), Some(7));
}

#[test]
fn sigkill_of_sbx_leaves_nothing_of_the_sandbox() {
    let (mut child, _out, _sbx) = spawn_ready(&[
        "--",
        "sh",
        "-c",
        "sleep 1000 & sleep 1000 & echo ready; wait",
    ]);
    let pid = child.id();
    let before = live_descendants(pid);
    assert!(
        before.len() >= 4,
        "keeper, init, sh and sleeps expected: {before:?}"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(1);
    let alive = loop {
        let alive: Vec<u32> = before.iter().copied().filter(|p| is_alive(*p)).collect();
        if alive.is_empty() || Instant::now() > deadline {
            break alive;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        alive.is_empty(),
        "still alive a second after SIGKILL: {alive:?}"
    );
}

fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat[stat.rfind(')').unwrap() + 2..].chars().next().unwrap();
            state != 'Z' && state != 'X'
        }
        Err(_) => false,
    }
}

#[test]
fn a_background_child_does_not_outlive_the_command() {
    let mut sbx = Sbx::rootless().args(["--", "sh", "-c", "sleep 1000 & echo $!; exit 3"]);
    sbx.cmd.stdout(Stdio::piped());
    let start = Instant::now();
    let child = sbx.cmd.spawn().unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "sbx waited for the background child"
    );
    assert!(live_descendants(pid).is_empty());
    // No sleep of the test user is left on the host at all.
    let leftover = std::process::Command::new("pgrep")
        .args([
            "-u",
            &unprivileged_user().uid.to_string(),
            "-f",
            "sleep 1000",
        ])
        .output()
        .unwrap();
    assert!(
        leftover.stdout.is_empty() || !is_root(),
        "left: {}",
        String::from_utf8_lossy(&leftover.stdout)
    );
}

#[test]
fn orphans_are_reaped_so_no_zombie_stays_inside() {
    let script = "(sleep 0.1 &); (sleep 0.1 &); sleep 0.6; \
                  for s in /proc/[0-9]*/stat; do read -r line < $s; echo \"${line##*) }\" | cut -c1; done";
    let out = rootless_ok(&["--", "sh", "-c", script]);
    assert!(!out.contains('Z'), "zombie inside: {out}");
}

#[test]
fn host_mount_table_is_unchanged_and_no_fd_leaks_in() {
    let before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let out = rootless_ok(&["--", "sh", "-c", "ls /proc/self/fd"]);
    assert_eq!(
        std::fs::read_to_string("/proc/self/mountinfo").unwrap(),
        before
    );
    let fds: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(fds, vec!["0", "1", "2", "3"], "3 is ls's own directory fd");
    // fds the caller leaves open (without CLOEXEC) are closed before the command runs.
    let run = Sbx::rootless()
        .via_shell("exec 5</etc/hostname 7</etc/passwd")
        .args(["--", "sh", "-c", "ls /proc/self/fd"])
        .run();
    let out = run.ok();
    let fds: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(fds, vec!["0", "1", "2", "3"]);
}

#[test]
fn sixteen_sandboxes_start_in_parallel() {
    let handles: Vec<_> = (0..16)
        .map(|i| {
            std::thread::spawn(move || {
                let out = rootless_ok(&["--", "sh", "-c", &format!("echo {i}:$$")]);
                assert_eq!(out.trim(), format!("{i}:2"));
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn json_status_reports_the_child_and_the_exit_code() {
    // Both process shapes: sbx as the keeper, and (with --name) a keeper child.
    let name = format!("json-{}", std::process::id());
    for extra in [&[][..], &["--name", name.as_str()]] {
        let dir = TestDir::new(Some(&unprivileged_user()));
        let status = dir.path.join("status.json");
        let run = Sbx::rootless()
            .via_shell(&format!("exec 3>{}", status.display()))
            .args(extra)
            .args(["--json-status-fd", "3", "--", "sh", "-c", "exit 5"])
            .run();
        assert_eq!(run.code(), 5, "{extra:?}: {}", run.stderr());
        let text = std::fs::read_to_string(&status).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{extra:?}: {text}");
        assert!(lines[0].starts_with("{\"child-pid\": "), "{text}");
        for key in [
            "user-namespace",
            "mnt-namespace",
            "pid-namespace",
            "net-namespace",
        ] {
            assert!(lines[0].contains(key), "{extra:?}: {key} missing: {text}");
        }
        assert_eq!(lines[1], "{\"exit-code\": 5}");
    }
}

#[test]
fn real_root_maps_to_root_with_the_same_isolation() {
    let Some(sbx) = Sbx::as_root() else { return };
    let out = sbx
        .args(["--", "sh", "-c", "id -u; cat /proc/self/uid_map; echo $$; grep CapEff /proc/self/status; readlink /proc/self/ns/net"])
        .run()
        .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        vec!["0", "0", "1"]
    );
    assert_eq!(lines[2], "2");
    assert!(lines[3].ends_with("0000000000000000"), "{}", lines[3]);
    assert_ne!(lines[4], host_ns(std::process::id(), "net"));
    let before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    Sbx::as_root().unwrap().args(["true"]).run().ok();
    assert_eq!(
        std::fs::read_to_string("/proc/self/mountinfo").unwrap(),
        before
    );
}

#[test]
fn the_command_gets_default_signal_dispositions_for_sigpipe() {
    // Rust's runtime ignores SIGPIPE in sbx itself; the command must not inherit that.
    for args in [
        &["--", "grep", "SigIgn", "/proc/self/status"][..],
        &["unshare", "-r", "grep", "SigIgn", "/proc/self/status"],
    ] {
        let out = rootless_ok(args);
        let mask = u64::from_str_radix(out.split_whitespace().nth(1).unwrap(), 16).unwrap();
        assert_eq!(
            mask & (1 << (libc::SIGPIPE - 1)),
            0,
            "{args:?}: SIGPIPE ignored: {out}"
        );
    }
}

#[test]
fn disabled_user_namespaces_are_diagnosed_with_the_setting_to_change() {
    // user.max_user_namespaces is per user namespace: set it to 0 in one of the test's own
    // (util-linux unshare -Ur) and run sbx there.
    let user = unprivileged_user();
    let dir = TestDir::new(Some(&user));
    let mut cmd = std::process::Command::new("/usr/bin/setpriv");
    if is_root() {
        cmd.arg(format!("--reuid={}", user.uid))
            .arg(format!("--regid={}", user.gid))
            .arg("--clear-groups");
    }
    let script = "echo 0 > /proc/sys/user/max_user_namespaces && exec \"$0\" -- true";
    let out = cmd
        .args(["--", "unshare", "-Ur", "sh", "-c", script])
        .arg(sbx_bin())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir(&dir.path)
        .output()
        .unwrap();
    let r = Run(out);
    assert_eq!(r.code(), 125);
    let err = r.stderr();
    assert!(
        err.starts_with("sbx: cannot create a user namespace"),
        "{err}"
    );
    assert!(
        err.contains("user.max_user_namespaces") && err.contains("sysctl -w"),
        "{err}"
    );
}
