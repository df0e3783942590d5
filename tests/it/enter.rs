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
         {sbx} enter $d -- sh -c 'hostname; echo $$' && \
         mkdir $d/w $d/alias && mount --bind $d/w $d/alias && mkdir -m 700 $d/w/p && \
         ! {sbx} --bind $d/alias /x --persist $d/w/p -- true && umount -R $d"
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
    // The persisted namespaces have no PID namespace: the entered command gets its own.
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "kept\n1");
    // DIR under a writable bind reached through a second path (a bind mount) is refused.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the sandbox could write it"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The test user's registry directory (no XDG_RUNTIME_DIR and no /run/user/UID for it here).
fn registry_dir() -> String {
    let user = unprivileged_user();
    let run_user = format!("/run/user/{}", user.uid);
    if std::path::Path::new(&run_user).is_dir() {
        format!("{run_user}/sbx")
    } else {
        format!("/tmp/sbx-{}", user.uid)
    }
}

/// What `sbx enter NAME` applies, read from inside: CapEff, Seccomp, NoNewPrivs and whether
/// a write outside the view's writable places went through.
const CONFINEMENT: &str =
    "grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/self/status | awk '{print $2}' | tr '\\n' ' '; \
                           touch /usr/sbx-enter-forged 2>/dev/null && echo wrote || echo refused";

#[test]
fn a_registry_entry_rewritten_from_inside_changes_nothing_enter_applies() {
    let reg = registry_dir();
    // A sandbox that sees its own registry entry, writable, and forges it once it is there.
    for (tag, forge) in [
        // Another fd of the real monitor instead of its sealed entry.
        ("fd", "sed -i 's/^entry_fd = .*/entry_fd = 0/' \"$P\""),
        // The old format, granting everything.
        (
            "full",
            "printf 'name = \"%s\"\\nmonitor_pid = 1\\nkeep_caps = 18446744073709551615\\nseccomp = false\\n' x > \"$P\"",
        ),
        // Garbage.
        ("junk", "echo '[[[' > \"$P\""),
    ] {
        let name = unique(&format!("forged-{tag}"));
        // Bound at /reg: the registry's own path is masked in every view.
        let script = format!(
            "P=/reg/{name}.toml; n=0; until grep -q entry_fd \"$P\" 2>/dev/null || [ $n -gt 500 ]; \
             do sleep 0.02; n=$((n+1)); done; {forge}; echo ready; exec sleep 100"
        );
        let mut sbx = Sbx::rootless().args([
            "--name",
            &name,
            "--policy",
            "default",
            "--bind",
            &reg,
            "/reg",
            "--",
            "sh",
            "-c",
            &script,
        ]);
        sbx.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = sbx.cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "{tag}: the sandbox did not start");
        let r = Sbx::rootless()
            .args(["enter", &name, "--", "sh", "-c", CONFINEMENT])
            .run();
        let _ = child.kill();
        let _ = child.wait();
        if r.code() == 125 {
            assert!(
                r.stderr().contains("cannot be entered") || r.stderr().contains("no running"),
                "{tag}: {}",
                r.stderr()
            );
        } else {
            assert_eq!(
                r.stdout().trim(),
                "0000000000000000 1 2 refused",
                "{tag}: {}",
                r.stderr()
            );
        }
        assert!(!std::path::Path::new("/usr/sbx-enter-forged").exists());
    }
}

#[test]
fn a_planted_symlink_in_the_registry_is_never_followed() {
    let reg = registry_dir();
    let user = unprivileged_user();
    let name = unique("planted");
    let dir = TestDir::new(Some(&user));
    let victim = dir.path.join("victim");
    std::fs::write(&victim, "keep").unwrap();
    std::os::unix::fs::chown(&victim, Some(user.uid), Some(user.gid)).unwrap();
    // The registry directory exists once any named sandbox ran; make sure it does.
    rootless_ok(&["--name", &unique("mkreg"), "--", "true"]);
    let planted = [
        format!("{reg}/{name}.tmp"),
        format!("{reg}/.{name}.toml.tmp"),
    ];
    for p in &planted {
        std::os::unix::fs::symlink(&victim, p).unwrap();
    }
    let run = Running::start(&name, &[]);
    let out = rootless_ok(&["enter", &run.name, "--", "echo", "entered"]);
    assert_eq!(out.trim(), "entered");
    drop(run);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    for p in &planted {
        let _ = std::fs::remove_file(p);
    }
}

#[test]
fn ps_inside_a_sandbox_removes_no_entry() {
    let reg = registry_dir();
    let run = Running::start(&unique("ps-inside"), &[]);
    let bin = sbx_bin().to_str().unwrap().to_string();
    let r = Sbx::rootless()
        .args([
            "--policy",
            "default",
            "--bind",
            &reg,
            "/tmp/x/sbx",
            "--ro-bind",
            &bin,
            "/tmp/bin/sbx",
            "--setenv",
            "XDG_RUNTIME_DIR",
            "/tmp/x",
            "--",
            "/tmp/bin/sbx",
            "ps",
        ])
        .run();
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(
        ps().contains(&run.name),
        "sbx ps run inside removed a live entry"
    );
}

#[test]
fn enter_confines_like_the_sandbox_a_new_session_included() {
    let run = Running::start(&unique("session"), &["--new-session"]);
    let out = rootless_ok(&[
        "enter",
        &run.name,
        "--",
        "sh",
        "-c",
        "read -r pid comm state ppid pgrp sid rest < /proc/$$/stat; echo $sid $$",
    ]);
    let v: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(v.len(), 2, "{out}");
    assert_eq!(v[0], v[1], "the entered command leads a session of its own");
}

#[test]
fn a_crafted_persist_directory_is_refused() {
    let Some(root) = Sbx::as_root() else { return };
    drop(root);
    let entry = |namespaces: &str| {
        format!(
            "name = \"x\"\nmonitor_pid = 1\nmonitor_start = 0\nkeeper_pid = 1\nkeeper_start = 0\n\
             init_pid = 1\ninit_start = 0\npolicy = \"default\"\ncommand = [\"sh\"]\nstarted = 0\n\
             workdir = \"/\"\nenv = []\nnamespaces = [{namespaces}]\n[confinement]\n\
             new_session = false\nlimits = []\nkeep_caps = 0\n\
             [confinement.landlock]\nmode = \"off\"\nread = []\nwrite = []\nexecute = []\n\
             scope_abstract_unix = false\nscope_signal = false\n"
        )
    };
    let marker = TestDir::new(None).path.join("ran-on-host");
    let cases: [(&str, &str, Option<&str>, u32); 4] = [
        ("no namespaces", "", None, 0o700),
        ("missing files", "\"user\", \"mnt\"", None, 0o700),
        (
            "not namespace files",
            "\"user\", \"mnt\"",
            Some("plain"),
            0o700,
        ),
        ("writable by others", "\"user\", \"mnt\"", None, 0o777),
    ];
    for (what, ns, files, mode) in cases {
        let d = TestDir::new(None);
        std::fs::write(d.path.join("sbx.toml"), entry(ns)).unwrap();
        std::fs::set_permissions(
            d.path.join("sbx.toml"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        if let Some(text) = files {
            for n in ["user", "mnt"] {
                std::fs::write(d.path.join(n), text).unwrap();
            }
        }
        std::fs::set_permissions(&d.path, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .unwrap();
        let r = Sbx::as_root()
            .unwrap()
            .args([
                "enter",
                d.path.to_str().unwrap(),
                "--",
                "touch",
                marker.to_str().unwrap(),
            ])
            .run();
        assert_eq!(r.code(), 125, "{what}: {}", r.stderr());
        assert!(!marker.exists(), "{what}: the command ran on the host");
    }
}
