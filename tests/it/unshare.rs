//! `sbx unshare` against util-linux's unshare (2.41, built by .ci/setup): the same output, with
//! namespace inodes normalised, and the same exit status, rootless and as root.

use std::collections::HashMap;
use std::process::Command;

use crate::idmap::UNSHARE_2_41;
use crate::util::*;

/// Namespace inodes of this (the host's) process, by inode.
fn host_inodes() -> Vec<String> {
    ["user", "mnt", "pid", "ipc", "uts", "net", "cgroup", "time"]
        .iter()
        .filter_map(|n| std::fs::read_link(format!("/proc/self/ns/{n}")).ok())
        .filter_map(|l| {
            let s = l.to_string_lossy().into_owned();
            Some(s[s.find('[')? + 1..s.find(']')?].to_string())
        })
        .collect()
}

/// Replaces namespace inodes: the host's by HOST, new ones by NEW1, NEW2... in order.
fn normalise(text: &str) -> String {
    let host = host_inodes();
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut out = String::new();
    let mut digits = String::new();
    let mut flush = |digits: &mut String, out: &mut String| {
        if digits.len() >= 9 {
            let tag = if host.contains(digits) {
                "HOST".to_string()
            } else {
                let n = seen.len() + 1;
                seen.entry(digits.clone())
                    .or_insert_with(|| format!("NEW{n}"))
                    .clone()
            };
            out.push_str(&tag);
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

struct Outcome {
    code: Option<i32>,
    signal: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run_tool(
    as_user: Option<&User>,
    tool: &[&str],
    args: &[&str],
    dir: &std::path::Path,
) -> Outcome {
    let mut cmd = match as_user {
        Some(u) => {
            let mut c = Command::new("/usr/bin/setpriv");
            c.arg(format!("--reuid={}", u.uid))
                .arg(format!("--regid={}", u.gid))
                .args(["--clear-groups", "--"]);
            c.args(tool);
            c
        }
        None => {
            let mut c = Command::new(tool[0]);
            c.args(&tool[1..]);
            c
        }
    };
    let out = cmd
        .args(args)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .env("SHELL", "/bin/sh")
        .current_dir(dir)
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    Outcome {
        code: out.status.code(),
        signal: out.status.signal(),
        stdout: normalise(&String::from_utf8_lossy(&out.stdout)),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The differential table: unshare's arguments, then the program.
const CASES: &[&str] = &[
    "-U id -u",
    "-r sh -c 'id -u; id -g'",
    "-c sh -c 'id -u; id -g'",
    "--map-user=1234 --map-group=4321 sh -c 'id -u; id -g; cat /proc/self/setgroups'",
    "-r --setgroups=deny cat /proc/self/setgroups",
    "-U --setgroups=allow cat /proc/self/setgroups",
    "-r --setgroups=allow true",
    "-rm readlink /proc/self/ns/mnt /proc/self/ns/user",
    "-ru sh -c 'hostname unshare-test && hostname'",
    "-ri readlink /proc/self/ns/ipc",
    "-rn sh -c 'readlink /proc/self/ns/net; cat /proc/net/dev | wc -l'",
    "-rp readlink /proc/self/ns/pid /proc/self/ns/pid_for_children",
    "-rpf sh -c 'echo $$'",
    "-rC readlink /proc/self/ns/cgroup",
    "-rT readlink /proc/self/ns/time_for_children",
    "-rTf --monotonic=1000 --boottime=2000 cat /proc/self/timens_offsets",
    "-r --monotonic=5 true",
    "-rmpf --mount-proc readlink /proc/self /proc/1/exe",
    "-rm --propagation=slave findmnt -no PROPAGATION /",
    "-rm --propagation=unchanged findmnt -no PROPAGATION /",
    "-rm --propagation=private findmnt -no PROPAGATION /",
    "-rm --propagation=bogus true",
    "-r --root=/ --wd=/usr pwd",
    "-r -w /etc pwd",
    "-r -R / pwd",
    "-r -S 0 -G 0 id",
    "-r --keep-caps grep CapAmb /proc/self/status",
    "-r grep CapAmb /proc/self/status",
    "-rf --kill-child sh -c 'exit 3'",
    "-rf --kill-child=TERM sh -c 'exit 4'",
    "-r sh -c 'exit 42'",
    "-rf sh -c 'kill -TERM $$'",
    "-r no-such-program-sbx",
    "-r ./not-executable",
    "--no-such-option true",
    "-U --map-users=1:100000:10 --map-groups=1:100000:10 --map-root-user cat /proc/self/uid_map /proc/self/gid_map",
    "-U --map-users=100000,1,5 -r cat /proc/self/uid_map",
];

/// Cases that read the caller's line of /etc/subuid: compared rootless only. As root,
/// util-linux 2.41 takes any line whose owner is not a number for uid 0 (strtoul("sbxtest")
/// is 0), a bug sbx does not copy: it reports that root has no line.
const SUBID_CASES: &[&str] = &[
    "-Ur --map-auto cat /proc/self/uid_map /proc/self/gid_map",
    "-Ur --map-subids cat /proc/self/uid_map",
    "-U --map-users=auto --map-groups=auto -r cat /proc/self/uid_map /proc/self/gid_map",
];

fn differential(as_user: Option<&User>) {
    if !require(
        std::path::Path::new(UNSHARE_2_41).exists(),
        "util-linux 2.39+ unshare",
        "run .ci/setup (it builds util-linux's unshare from Debian 13's source package)",
    ) {
        return;
    }
    let owner = as_user.cloned();
    let dir = TestDir::new(owner.as_ref());
    std::fs::write(dir.path.join("not-executable"), "#!/bin/sh\n").unwrap();
    let sbx = sbx_bin().to_str().unwrap().to_string();
    let mut failures = Vec::new();
    let subid: &[&str] = if as_user.is_some() { SUBID_CASES } else { &[] };
    for case in CASES.iter().chain(subid) {
        // --map-subids needs ids mapped to themselves, which only the owner of the range has.
        let words = shell_words(case);
        let args: Vec<&str> = words.iter().map(String::as_str).collect();
        let ours = run_tool(as_user, &[&sbx, "unshare"], &args, &dir.path);
        let theirs = run_tool(as_user, &[UNSHARE_2_41], &args, &dir.path);
        if (ours.code, ours.signal, &ours.stdout) != (theirs.code, theirs.signal, &theirs.stdout) {
            failures.push(format!(
                "unshare {case}\n  sbx:       {:?} {:?} {:?} {}\n  util-linux: {:?} {:?} {:?} {}",
                ours.code,
                ours.signal,
                ours.stdout,
                ours.stderr.trim(),
                theirs.code,
                theirs.signal,
                theirs.stdout,
                theirs.stderr.trim()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn sbx_unshare_matches_util_linux_rootless() {
    assert!(CASES.len() >= 25);
    differential(Some(&unprivileged_user()));
}

#[test]
fn sbx_unshare_matches_util_linux_as_root() {
    if !require(is_root(), "root", "run the suite as root") {
        return;
    }
    differential(None);
}

#[test]
fn namespaces_persist_in_files_as_root() {
    if !require(
        is_root(),
        "root",
        "run the suite as root (bind-mounting namespace files needs it)",
    ) || !require(
        std::path::Path::new(UNSHARE_2_41).exists(),
        "util-linux 2.39+ unshare",
        "run .ci/setup",
    ) {
        return;
    }
    let sbx = sbx_bin().to_str().unwrap().to_string();
    // In a private mount namespace of the test's own, so the bind mounts never touch the host.
    for tool in [format!("{sbx} unshare"), UNSHARE_2_41.to_string()] {
        let script = format!(
            "d=$(mktemp -d) && mount -t tmpfs none $d && touch $d/uts $d/net && \
             {tool} --uts=$d/uts --net=$d/net sh -c 'hostname persisted' && \
             nsenter --uts=$d/uts hostname && nsenter --net=$d/net sh -c 'cat /proc/net/dev | wc -l'"
        );
        let out = Command::new("unshare")
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
            "persisted\n3\n",
            "{tool}"
        );
    }
}

#[test]
fn forward_signals_passes_sigterm_to_the_child() {
    // util-linux 2.41 has no --forward-signals yet (it came later), so this is checked alone:
    // the child traps SIGTERM and exits 7, which is what unshare returns.
    let user = unprivileged_user();
    let dir = TestDir::new(Some(&user));
    let sbx = sbx_bin().to_str().unwrap().to_string();
    let mut child = Command::new("/usr/bin/setpriv")
        .args([
            format!("--reuid={}", user.uid),
            format!("--regid={}", user.gid),
            "--clear-groups".into(),
            "--".into(),
        ])
        .args([
            &sbx,
            "unshare",
            "-rf",
            "--forward-signals",
            "sh",
            "-c",
            "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done",
        ])
        .current_dir(&dir.path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "ready");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(7));
}

#[test]
fn installed_as_unshare_sbx_behaves_as_unshare() {
    let dir = TestDir::new(Some(&unprivileged_user()));
    let link = dir.path.join("unshare");
    std::os::unix::fs::symlink(sbx_bin(), &link).unwrap();
    let out = run_tool(
        Some(&unprivileged_user()),
        &[link.to_str().unwrap()],
        &["-r", "id", "-u"],
        &dir.path,
    );
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (Some(0), "0\n"),
        "{}",
        out.stderr
    );
}
