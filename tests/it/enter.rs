//! Named sandboxes, `sbx ps` and `sbx enter` (issue 7).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

/// A named sandbox running `sh -c 'echo ready; sleep 100'`, killed on drop.
struct Running {
    child: Child,
    name: String,
    _sbx: Sbx,
}

impl Running {
    fn start(name: &str, extra: &[&str]) -> Running {
        let mut args = vec!["--name", name];
        args.extend_from_slice(extra);
        args.extend(["--", "sh", "-c", "echo ready; exec sleep 100"]);
        let mut sbx = Sbx::rootless().args(&args);
        sbx.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = sbx.cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "sandbox {name} did not start");
        Running {
            child,
            name: name.to_string(),
            _sbx: sbx,
        }
    }

    /// The host pid of the sandbox's `sleep` (once the shell has executed it).
    fn sleep_pid(&self) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = live_descendants(self.child.id()).into_iter().find(|p| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim() == "sleep")
            });
            match found {
                Some(p) => return p,
                None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                None => panic!("the sandbox's sleep never started"),
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unique(tag: &str) -> String {
    format!("{tag}-{}", std::process::id())
}

fn ps() -> String {
    rootless_ok(&["ps"])
}

#[test]
fn enter_joins_the_sandbox_and_keeps_its_confinement() {
    let run = Running::start(&unique("enter"), &[]);
    let sleep = run.sleep_pid();
    let script = "readlink /proc/self/ns/mnt /proc/self/ns/pid /proc/self/ns/net /proc/self/ns/user; \
                  grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status | awk '{print $2}' | sort -u; \
                  touch /usr/sbx-enter-test 2>/dev/null && echo wrote || echo refused";
    let out = rootless_ok(&["enter", &run.name, "--", "sh", "-c", script]);
    let lines: Vec<&str> = out.lines().collect();
    for (i, ns) in ["mnt", "pid", "net", "user"].iter().enumerate() {
        assert_eq!(lines[i], host_ns(sleep, ns), "{ns}: {out}");
    }
    assert_eq!(
        lines[4], "0000000000000000",
        "capabilities inside enter: {out}"
    );
    assert_eq!(lines[5], "refused", "{out}");
    // By pid too (the sbx process's).
    let out = rootless_ok(&[
        "enter",
        &run.child.id().to_string(),
        "--",
        "readlink",
        "/proc/self/ns/mnt",
    ]);
    assert_eq!(out.trim(), host_ns(sleep, "mnt"));
    // The exit status comes back.
    let r = Sbx::rootless()
        .args(["enter", &run.name, "--", "sh", "-c", "exit 9"])
        .run();
    assert_eq!(r.code(), 9);
}

#[test]
fn ps_lists_running_sandboxes_and_forgets_ended_ones() {
    let name = unique("ps");
    let mut run = Running::start(&name, &[]);
    let listed = ps();
    let line = listed
        .lines()
        .find(|l| l.starts_with(&name))
        .unwrap_or_else(|| panic!("{name} not in {listed}"));
    assert!(
        line.contains(&run.child.id().to_string())
            && line.contains("default")
            && line.contains("sleep 100"),
        "{line}"
    );
    // A name in use is refused.
    let r = Sbx::rootless().args(["--name", &name, "true"]).run();
    assert_eq!(r.code(), 125);
    assert!(r.stderr().contains("already running"), "{}", r.stderr());
    // SIGKILL of sbx: the entry goes at the next ps.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.child.id() as i32),
        nix::sys::signal::SIGKILL,
    )
    .unwrap();
    let _ = run.child.wait();
    let deadline = Instant::now() + Duration::from_secs(5);
    while ps().contains(&name) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!ps().contains(&name), "stale entry kept");
    // A normal end removes it too.
    let name2 = unique("ps-end");
    rootless_ok(&["--name", &name2, "--", "true"]);
    assert!(!ps().contains(&name2));
}

#[test]
fn entering_what_is_not_ones_own_sandbox_is_refused() {
    // A process of the test user that is not a sandbox.
    let user = unprivileged_user();
    let mut sleeper = Command::new("/usr/bin/setpriv")
        .args([
            format!("--reuid={}", user.uid),
            format!("--regid={}", user.gid),
            "--clear-groups".into(),
            "--".into(),
            "sleep".into(),
            "30".into(),
        ])
        .spawn()
        .unwrap();
    let r = Sbx::rootless()
        .args(["enter", &sleeper.id().to_string(), "--", "true"])
        .run();
    assert_eq!(r.code(), 125);
    assert!(r.stderr().contains("not a sandbox"), "{}", r.stderr());
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    let r = Sbx::rootless()
        .args(["enter", "no-such-sandbox", "--", "true"])
        .run();
    assert_eq!(r.code(), 125);
    // Another user's sandbox: root tries to enter the test user's.
    if let Some(root) = Sbx::as_root() {
        let run = Running::start(&unique("other"), &[]);
        let r = root
            .args(["enter", &run.child.id().to_string(), "--", "true"])
            .run();
        assert_eq!(r.code(), 125);
        assert!(
            r.stderr().contains("belongs to uid") || r.stderr().contains("not a sandbox"),
            "{}",
            r.stderr()
        );
    }
}

#[test]
fn persist_needs_root_and_keeps_namespaces_for_enter() {
    let r = Sbx::rootless().args(["--persist", "/tmp", "true"]).run();
    assert_eq!(r.code(), 125);
    assert!(r.stderr().contains("--name"), "{}", r.stderr());
    if !require(
        is_root(),
        "root",
        "run the suite as root (--persist bind-mounts on the host)",
    ) {
        return;
    }
    // In a private mount namespace of the test, so the bind mounts never reach the host. Pinned
    // to one CPU: the kernel refuses to bind a mount namespace file unless that namespace is
    // newer than the caller's, and on 6.18 namespace ids come from per-CPU batches, so one made
    // later on another CPU can look older (util-linux's unshare --mount=FILE fails the same way).
    let sbx = sbx_bin().to_str().unwrap().to_string();
    let script = format!(
        "d=$(mktemp -d) && mount -t tmpfs -o mode=0700 none $d && \
         {sbx} --persist $d --hostname kept -- true && \
         {sbx} enter $d -- hostname && umount -R $d"
    );
    // Pinned to one CPU: the kernel binds a mount namespace file only when that namespace is
    // newer than the caller's, and on 6.18 namespace ids come from per-CPU batches, so one made
    // later on the other CPU can look older (util-linux's unshare --mount=FILE fails alike).
    let out = Command::new("taskset")
        .args([
            "-c",
            "0",
            "unshare",
            "-m",
            "--propagation=private",
            "sh",
            "-c",
            &script,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "kept");
}
