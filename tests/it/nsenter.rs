//! `sbx nsenter` against util-linux's nsenter (2.41, built by .ci/setup): the same stdout and
//! the same exit status (or killing signal), entering processes that util-linux's unshare left
//! running in namespaces of their own, rootless and as root. And `sbx ns`, against
//! `/proc/PID/ns`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::idmap::UNSHARE_2_41;
use crate::util::*;

pub const NSENTER_2_41: &str = "/usr/local/lib/sbx-test/util-linux/nsenter";

/// Runs `argv` as the test user (through setpriv when the suite is root), or as the suite.
fn command(as_user: bool, argv: &[&str]) -> Command {
    let mut cmd = if as_user && is_root() {
        let u = unprivileged_user();
        let mut c = Command::new("/usr/bin/setpriv");
        c.arg(format!("--reuid={}", u.uid))
            .arg(format!("--regid={}", u.gid))
            .args(["--clear-groups", "--"])
            .args(argv);
        c
    } else {
        let mut c = Command::new(argv[0]);
        c.args(&argv[1..]);
        c
    };
    cmd.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .env("SHELL", "/bin/sh")
        .env("SBX_NSENTER_TEST", "caller")
        .stdin(Stdio::null());
    cmd
}

/// A process left running in namespaces of its own by util-linux's unshare; killed on drop.
struct Target {
    unshare: Child,
    pid: u32,
}

impl Target {
    /// `unshare ARGS sh -c SCRIPT`, ready once a descendant runs `comm`.
    fn start(as_user: bool, args: &[&str], script: &str, comm: &str, dir: &Path) -> Target {
        let mut argv = vec![UNSHARE_2_41];
        argv.extend(args);
        argv.extend(["sh", "-c", script]);
        let mut unshare = command(as_user, &argv)
            .env("SBX_TARGET_VAR", "target")
            .env("SBX_NSENTER_TEST", "target")
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start util-linux unshare");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = live_descendants(unshare.id()).into_iter().find(|p| {
                std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == comm)
            });
            if let Some(pid) = found {
                return Target { unshare, pid };
            }
            if let Ok(Some(status)) = unshare.try_wait() {
                let mut err = String::new();
                std::io::Read::read_to_string(unshare.stderr.as_mut().unwrap(), &mut err).ok();
                panic!("the target `unshare {args:?} sh -c {script:?}` ended ({status}): {err}");
            }
            assert!(Instant::now() < deadline, "the target never ran {comm}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        // PID 1 of its PID namespace: killing it ends the namespace, then unshare.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid as i32),
            nix::sys::signal::SIGKILL,
        );
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

/// A child process killed and reaped on drop.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The target's own hostname, a tmpfs on /mnt with a marker, its working directory there.
const TARGET_SCRIPT: &str = "hostname sbx-nsenter-target && mount -t tmpfs none /mnt && \
                             touch /mnt/marker && cd /mnt && exec sleep 600";

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    code: Option<i32>,
    signal: Option<i32>,
    stdout: String,
}

fn run_tool(as_user: bool, tool: &[&str], args: &[String], dir: &Path) -> (Outcome, String) {
    let mut argv: Vec<&str> = tool.to_vec();
    argv.extend(args.iter().map(String::as_str));
    let out = command(as_user, &argv).current_dir(dir).output().unwrap();
    use std::os::unix::process::ExitStatusExt;
    (
        Outcome {
            code: out.status.code(),
            signal: out.status.signal(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        },
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs each case with `sbx nsenter` and util-linux's nsenter; `{X}` in a case is the pid of
/// target X. Returns the differences.
fn differential(as_user: bool, cases: &[&str], pids: &[(&str, u32)], dir: &Path) -> Vec<String> {
    let sbx = sbx_bin().to_str().unwrap().to_string();
    let mut failures = Vec::new();
    for case in cases {
        let mut text = case.to_string();
        for (name, pid) in pids {
            text = text.replace(&format!("{{{name}}}"), &pid.to_string());
        }
        let args = shell_words(&text);
        let (ours, our_err) = run_tool(as_user, &[&sbx, "nsenter"], &args, dir);
        let (theirs, their_err) = run_tool(as_user, &[NSENTER_2_41], &args, dir);
        if ours != theirs {
            failures.push(format!(
                "nsenter {text}\n  sbx:        {ours:?} {}\n  util-linux: {theirs:?} {}",
                our_err.trim(),
                their_err.trim()
            ));
        }
    }
    failures
}

fn prerequisites() -> bool {
    require(
        Path::new(NSENTER_2_41).exists() && Path::new(UNSHARE_2_41).exists(),
        "util-linux 2.39+ nsenter and unshare",
        "run .ci/setup (it builds util-linux's nsenter and unshare from Debian 13's source package)",
    )
}

/// Rootless cases. T: the test user's process in all new namespaces, with a user namespace
/// mapped by newuidmap (setgroups allowed); D: the same mapped by `-r` (setgroups denied).
const ROOTLESS_CASES: &[&str] = &[
    "-t {T} -a sh -c 'id; hostname; cat /proc/1/comm; ls /mnt; pwd; cat /proc/self/setgroups'",
    "-t {T} -U id",
    "-t {T} -U --preserve-credentials grep -E ^(Uid|Gid|Groups): /proc/self/status",
    "-t {T} -U -S 1 -G 2 sh -c 'id -u; id -g; id -G'",
    "-t {T} -U -S follow -G follow sh -c 'id -u; id -g'",
    "-t {T} -m ls /mnt",
    "-t {T} -U -m ls /mnt",
    "-t {T} -U -u hostname",
    "-t {T} -U -n sh -c 'cat /proc/net/dev | wc -l'",
    "-t {T} -U -i readlink /proc/self/ns/ipc",
    "-t {T} -U -p readlink /proc/self/ns/pid /proc/self/ns/pid_for_children",
    "-t {T} -U -p -F readlink /proc/self/ns/pid /proc/self/ns/pid_for_children",
    "-t {T} -U -C cat /proc/self/cgroup",
    "-t {T} -U -T readlink /proc/self/ns/time /proc/self/ns/time_for_children",
    "--user=/proc/{T}/ns/user --uts=/proc/{T}/ns/uts hostname",
    "-U/proc/{T}/ns/user -u=/proc/{T}/ns/uts hostname",
    "-U=/proc/{T}/ns/user -t {T} -m ls /mnt",
    "-t {T} -U -m -w pwd",
    "-t {T} -U -r ls /mnt",
    "-t {T} -U -w=/ pwd",
    "-t {T} -U --keep-caps grep CapAmb /proc/self/status",
    "-t {T} -U -u --keep-caps grep CapAmb /proc/self/status",
    "-t {T} -a --keep-caps grep -E ^Cap(Inh|Amb) /proc/self/status",
    "-t {T} -U -e env",
    "-t {T} -U sh -c 'exit 42'",
    "-t {T} -U -p sh -c 'kill -TERM $$'",
    "-t {T} -U no-such-program-sbx",
    "-t {T} -U ./not-executable",
    "-t {T} -U --user-parent true",
    "-t {T} -mu true",
    "-t {D} -U id",
    "-t {D} -U --preserve-credentials id -u",
    "-t {D} -a id -u",
    "-t {D} -a --preserve-credentials sh -c 'id -u; hostname'",
    "-t 999999999 -a true",
    "-t 999999999 -U true",
    "-t abc -U true",
    "-a true",
    "true",
    "--no-such-option true",
];

#[test]
fn sbx_nsenter_matches_util_linux_rootless() {
    assert!(ROOTLESS_CASES.len() >= 10);
    if !prerequisites()
        || !require(
            have("newuidmap") && have("newgidmap"),
            "newuidmap and newgidmap",
            "run .ci/setup (it installs uidmap and gives the test user subordinate ids)",
        )
    {
        return;
    }
    let user = unprivileged_user();
    let dir = TestDir::new(Some(&user));
    std::fs::write(dir.path.join("not-executable"), "#!/bin/sh\n").unwrap();
    let t = Target::start(
        true,
        &[
            "-U",
            "--map-auto",
            "--map-root-user",
            "-mupinCTf",
            "--mount-proc",
        ],
        TARGET_SCRIPT,
        "sleep",
        &dir.path,
    );
    let d = Target::start(
        true,
        &["-r", "-mupinCTf", "--mount-proc"],
        TARGET_SCRIPT,
        "sleep",
        &dir.path,
    );
    let failures = differential(
        true,
        ROOTLESS_CASES,
        &[("T", t.pid), ("D", d.pid)],
        &dir.path,
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        ROOTLESS_CASES.len(),
        failures.join("\n")
    );
}

/// Cases as root. R: a root process in new namespaces (no user namespace) holding a socket of
/// its network namespace as fd 7; T and D as for the rootless table.
const ROOT_CASES: &[&str] = &[
    "-t {R} -a sh -c 'hostname; cat /proc/1/comm; ls /mnt; pwd; id'",
    "-t {R} -m ls /mnt",
    "-t {R} -u hostname",
    "-t {R} -i readlink /proc/self/ns/ipc",
    "-t {R} -n sh -c 'cat /proc/net/dev | wc -l'",
    "-t {R} -p readlink /proc/self/ns/pid /proc/self/ns/pid_for_children",
    "-t {R} -p -F readlink /proc/self/ns/pid /proc/self/ns/pid_for_children",
    "-t {R} -C cat /proc/self/cgroup",
    "-t {R} -T readlink /proc/self/ns/time /proc/self/ns/time_for_children",
    "-t {R} -N 7 readlink /proc/self/ns/net",
    "-t {R} -N 8 true",
    "--uts=/proc/{R}/ns/uts --net=/proc/{R}/ns/net sh -c 'hostname; cat /proc/net/dev | wc -l'",
    "-m=/proc/{R}/ns/mnt ls /mnt",
    "-u=/proc/{R}/ns/net true",
    "--mount= true",
    "-t {R} -u -S 1 -G 2 sh -c 'id -u; id -g; id -G'",
    "-t {R} -u -S follow -G follow id -u",
    "-t {R} -m -w pwd",
    "-t {R} -m -W/mnt pwd",
    "-t {R} -m -W /mnt pwd",
    "-t {R} -m -r -w pwd",
    "-t {R} -u -r ls /mnt",
    "-t {R} -u -w ls",
    "-t {R} -u -r=/ pwd",
    "-t {R} --root=/ -u pwd",
    "-t {R} -u -w -W/x true",
    "-t {R} -u -e env",
    "-t {R} -u --keep-caps grep CapAmb /proc/self/status",
    "-t {R} -p sh -c 'kill -TERM $$'",
    "-t {R} -u sh -c 'kill -TERM $$'",
    "-t {R} -p sh -c 'exit 3'",
    "-t {R} -u /etc/passwd",
    "-t {R} -u no-such-program-sbx",
    "-t {R} -u -- -x",
    "-t {R} --mo --ut sh -c 'ls /mnt; hostname'",
    "-t {R} --se 1 -u true",
    "-t {R} -c -u cat /proc/self/cgroup",
    "-t {T} -a sh -c 'id; hostname; cat /proc/self/setgroups'",
    "-t {T} -U --keep-caps grep CapAmb /proc/self/status",
    "-t {T} -a --keep-caps grep CapAmb /proc/self/status",
    "-t {D} -U id",
    "--user-parent -t {T} -U id -u",
    "-t 999999999 -m true",
    "-t {R} -S x -u true",
    "-t 0 -u true",
];

#[test]
fn sbx_nsenter_matches_util_linux_as_root() {
    if !require(is_root(), "root", "run the suite as root")
        || !prerequisites()
        || !require(
            have("python3") && have("newuidmap"),
            "python3 and newuidmap",
            "run .ci/setup",
        )
    {
        return;
    }
    let user = unprivileged_user();
    let dir = TestDir::new(Some(&user));
    let r = Target::start(
        false,
        &["-mupinCTf", "--mount-proc"],
        "hostname sbx-nsenter-root && mount -t tmpfs none /mnt && touch /mnt/root-marker && \
         cd /mnt && exec python3 -c 'import os, socket, time; s = socket.socket(); \
         os.dup2(s.fileno(), 7); time.sleep(600)'",
        "python3",
        &dir.path,
    );
    let t = Target::start(
        true,
        &[
            "-U",
            "--map-auto",
            "--map-root-user",
            "-mupinCTf",
            "--mount-proc",
        ],
        TARGET_SCRIPT,
        "sleep",
        &dir.path,
    );
    let d = Target::start(
        true,
        &["-r", "-mupinCTf", "--mount-proc"],
        TARGET_SCRIPT,
        "sleep",
        &dir.path,
    );
    let failures = differential(
        false,
        ROOT_CASES,
        &[("R", r.pid), ("T", t.pid), ("D", d.pid)],
        &dir.path,
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        ROOT_CASES.len(),
        failures.join("\n")
    );
}

/// Namespaces persisted by bind mounts (`unshare --uts=FILE`), entered by file.
#[test]
fn namespace_files_persisted_by_unshare_are_entered_as_root() {
    if !require(
        is_root(),
        "root",
        "run the suite as root (bind mounts need it)",
    ) || !prerequisites()
    {
        return;
    }
    let sbx = sbx_bin().to_str().unwrap().to_string();
    // In a private mount namespace of the test's own, so the bind mounts never touch the host.
    for tool in [format!("{sbx} nsenter"), NSENTER_2_41.to_string()] {
        let script = format!(
            "d=$(mktemp -d) && mount -t tmpfs none $d && touch $d/uts $d/net && \
             {UNSHARE_2_41} --uts=$d/uts --net=$d/net sh -c 'hostname persisted' && \
             {tool} --uts=$d/uts hostname && {tool} -n$d/net sh -c 'cat /proc/net/dev | wc -l' && \
             {tool} --uts=$d/net true; echo $?"
        );
        let out = Command::new(UNSHARE_2_41)
            .args(["-m", "--propagation=private", "sh", "-c", &script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{tool}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "persisted\n3\n1\n",
            "{tool}"
        );
    }
}

#[test]
fn installed_as_nsenter_sbx_behaves_as_nsenter() {
    let user = unprivileged_user();
    let dir = TestDir::new(Some(&user));
    let link = dir.path.join("nsenter");
    std::os::unix::fs::symlink(sbx_bin(), &link).unwrap();
    let link = link.to_str().unwrap();
    // No namespace: nsenter's own failure.
    let (out, err) = run_tool(true, &[link], &["true".into()], &dir.path);
    assert_eq!(out.code, Some(1), "{err}");
    assert!(err.starts_with("nsenter: "), "{err}");
    let (out, err) = run_tool(true, &[link], &["--help".into()], &dir.path);
    assert_eq!(out.code, Some(0), "{err}");
    assert!(
        out.stdout.contains("--preserve-credentials"),
        "{}",
        out.stdout
    );
    // Its own user namespace, entered through a user namespace file of a child it started.
    if !have("unshare") {
        return;
    }
    let child = Reaped(
        command(true, &["unshare", "-r", "sleep", "60"])
            .current_dir(&dir.path)
            .spawn()
            .unwrap(),
    );
    let pid = child.0.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    let me = host_ns(std::process::id(), "user");
    while host_ns(pid, "user") == me {
        assert!(Instant::now() < deadline, "unshare -r never unshared");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut args: Vec<String> = vec!["-t".into(), pid.to_string()];
    args.extend(["-U", "--preserve-credentials", "id", "-u"].map(String::from));
    let (out, err) = run_tool(true, &[link], &args, &dir.path);
    drop(child);
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), "0\n"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// sbx ns

/// The inode in a namespace link such as `net:[4026531840]`.
fn link_inode(link: &str) -> String {
    link[link.find('[').unwrap() + 1..link.find(']').unwrap()].to_string()
}

/// Whether the user that runs `sbx` (the test user) can read a namespace link.
fn readable_by_test_user(path: &str) -> bool {
    command(true, &["readlink", path])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `sbx ns` rows by type: (INODE, OWNER-USERNS, HOST, the rest).
fn parse_ns(out: &str) -> Vec<(String, [String; 4])> {
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["TYPE", "INODE", "OWNER-USERNS", "HOST"], "{out}");
    lines
        .map(|l| {
            let mut f = l.split_whitespace();
            let t = f.next().unwrap().to_string();
            let cols = [
                f.next().unwrap_or("").to_string(),
                f.next().unwrap_or("").to_string(),
                f.next().unwrap_or("").to_string(),
                f.collect::<Vec<_>>().join(" "),
            ];
            (t, cols)
        })
        .collect()
}

const NS_TYPES: [&str; 10] = [
    "cgroup",
    "ipc",
    "mnt",
    "net",
    "pid",
    "pid_for_children",
    "time",
    "time_for_children",
    "user",
    "uts",
];

#[test]
fn sbx_ns_agrees_with_proc_pid_ns() {
    if !require(have("unshare"), "unshare(1)", "run .ci/setup (util-linux)") {
        return;
    }
    let user = unprivileged_user();
    let dir = TestDir::new(Some(&user));
    // The test user's process in a user and a network namespace of its own.
    let child = Reaped(
        command(true, &["unshare", "-rn", "sleep", "60"])
            .current_dir(&dir.path)
            .spawn()
            .unwrap(),
    );
    let pid = child.0.id();
    let host_user = host_ns(std::process::id(), "user");
    let deadline = Instant::now() + Duration::from_secs(10);
    // One unshare(2) makes both namespaces: once the user namespace changed, so did the other.
    while host_ns(pid, "user") == host_user {
        assert!(Instant::now() < deadline, "unshare -rn never unshared");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = Sbx::rootless().args(["ns", &pid.to_string()]).run().ok();
    // What `ls -l /proc/PID/ns` shows, and PID 1's where the test user may read them.
    let links: Vec<String> = NS_TYPES.iter().map(|t| host_ns(pid, t)).collect();
    let pid1: Vec<Option<String>> = NS_TYPES
        .iter()
        .map(|t| readable_by_test_user(&format!("/proc/1/ns/{t}")).then(|| host_ns(1, t)))
        .collect();
    drop(child);
    let rows = parse_ns(&out);
    let types: Vec<&str> = rows.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(types, NS_TYPES, "{out}");
    let their_user = link_inode(&links[NS_TYPES.iter().position(|&t| t == "user").unwrap()]);
    let host_user = link_inode(&host_user);
    for (i, (t, [inode, owner, host, rest])) in rows.iter().enumerate() {
        assert_eq!(
            inode,
            &link_inode(&links[i]),
            "{t}: `ls -l /proc/{pid}/ns` disagrees:\n{out}"
        );
        assert!(rest.is_empty(), "{t}: {rest}\n{out}");
        // The user namespace's parent, and what was not unshared, belong to the host's user
        // namespace; the new network namespace to the new user namespace.
        let expected_owner = if t == "net" { &their_user } else { &host_user };
        assert_eq!(owner, expected_owner, "{t}: owner\n{out}");
        let expected_host = match &pid1[i] {
            None => "?",
            Some(link) if link == &links[i] => "yes",
            Some(_) => "no",
        };
        assert_eq!(host, expected_host, "{t}: HOST\n{out}");
        if t == "user" || t == "net" {
            assert_ne!(host, "yes", "{t}: unshared\n{out}");
        }
    }
}

#[test]
fn sbx_ns_defaults_to_the_caller() {
    let out = Sbx::rootless().args(["ns"]).run().ok();
    let rows = parse_ns(&out);
    assert_eq!(rows.len(), NS_TYPES.len(), "{out}");
    // setpriv (when the suite is root) changes no namespace: sbx's are the suite's.
    let me = std::process::id();
    for (t, [inode, ..]) in &rows {
        assert_eq!(inode, &link_inode(&host_ns(me, t)), "{t}\n{out}");
    }
    // The initial user namespace has no parent in sight.
    let user = rows.iter().find(|(t, _)| t == "user").unwrap();
    if host_ns(me, "user") == "user:[4026531837]" {
        assert_eq!(user.1[1], "-", "{out}");
    }
}

#[test]
fn sbx_ns_shows_unreadable_entries_with_the_reason() {
    let run = Sbx::rootless().args(["ns", "1"]).run();
    let out = run.ok();
    let rows = parse_ns(&out);
    assert_eq!(rows.len(), NS_TYPES.len(), "{out}");
    for (t, [inode, owner, host, rest]) in &rows {
        if readable_by_test_user(&format!("/proc/1/ns/{t}")) {
            assert_eq!(inode, &link_inode(&host_ns(1, t)), "{t}\n{out}");
            assert_eq!(host, "yes", "{t}\n{out}");
        } else {
            assert_eq!(
                (inode.as_str(), owner.as_str(), host.as_str()),
                ("-", "-", "-")
            );
            assert!(
                rest.contains(&format!("/proc/1/ns/{t}")) && rest.contains("denied"),
                "{t}: {rest}\n{out}"
            );
        }
    }
}

#[test]
fn sbx_ns_of_a_missing_process_is_sbx_s_failure() {
    let run = Sbx::rootless().args(["ns", "2147483647"]).run();
    assert_eq!(run.code(), 125, "{}", run.stderr());
    assert!(run.stderr().starts_with("sbx: "), "{}", run.stderr());
    assert!(run.stdout().is_empty());
}
