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
    /// stdout as it came, for outputs with large ids that `normalise` would fold into NEWn.
    raw_stdout: String,
    stderr: String,
}

fn run_tool(
    as_user: Option<&User>,
    tool: &[&str],
    args: &[&str],
    dir: &std::path::Path,
) -> Outcome {
    run_tool_wrapped(&[], as_user, tool, args, dir)
}

/// [`run_tool`] under `wrapper` (a command that runs its arguments), which runs as root.
fn run_tool_wrapped(
    wrapper: &[&str],
    as_user: Option<&User>,
    tool: &[&str],
    args: &[&str],
    dir: &std::path::Path,
) -> Outcome {
    let mut argv: Vec<String> = wrapper.iter().map(|w| w.to_string()).collect();
    if let Some(u) = as_user {
        argv.extend([
            "/usr/bin/setpriv".to_string(),
            format!("--reuid={}", u.uid),
            format!("--regid={}", u.gid),
            "--clear-groups".into(),
            "--".into(),
        ]);
    }
    argv.extend(tool.iter().map(|t| t.to_string()));
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
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
        raw_stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
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

/// Id ranges at the edges: a count of 0, inner+count or outer+count past 4294967294 (the
/// highest id; 4294967295 is (uid_t)-1), ids up to u32::MAX, in both spellings. util-linux
/// 2.41 checks none of them itself: a bad range fails in newuidmap or in the kernel's check of
/// the map, exit 1, where sbx says why before unsharing; a good one gives the same map. The
/// maps are compared as printed: `normalise` would fold their large ids into NEWn.
const EDGE_CASES: &[&str] = &[
    "--map-users=0:100000:0 --map-root-user cat /proc/self/uid_map",
    "--map-groups=0:100000:0 -r cat /proc/self/gid_map",
    "--map-users=100000,0,0 -r cat /proc/self/uid_map",
    "--map-users=4294967290:100000:10 -r cat /proc/self/uid_map",
    "--map-users=100000,4294967290,10 -r cat /proc/self/uid_map",
    "--map-users=0:4294967290:10 -r cat /proc/self/uid_map",
    "--map-groups=4294967290,0,10 -r cat /proc/self/gid_map",
    "--map-users=0:100000:4294967295 -r cat /proc/self/uid_map",
    "--map-users=1:4294967295:1 -r cat /proc/self/uid_map",
    "--map-users=4294967295,1,1 -r cat /proc/self/uid_map",
    // Good ranges that end at the highest id, beside the caller's id or alone.
    "--map-users=0:4294967294:1 cat /proc/self/uid_map",
    "--map-groups=0:4294967294:1 -r cat /proc/self/gid_map",
    "--map-users=4294967294:100000:1 -r cat /proc/self/uid_map",
    "--map-users=1:4294967294:1 -c cat /proc/self/uid_map",
    "--map-users=0:0:4294967295 -r cat /proc/self/uid_map",
    "--map-users=0:4294967290:5 --map-users=5:0:10 -r cat /proc/self/uid_map",
];

/// Runs `cases` (what to say about it in a failure, a wrapper, see [`run_tool_wrapped`], and
/// unshare's arguments) with sbx and util-linux, and fails listing every case whose exit status
/// or raw stdout differ.
fn differential_raw(as_user: Option<&User>, cases: &[(String, Vec<String>, String)]) {
    if !require(
        std::path::Path::new(UNSHARE_2_41).exists(),
        "util-linux 2.39+ unshare",
        "run .ci/setup (it builds util-linux's unshare from Debian 13's source package)",
    ) {
        return;
    }
    let dir = TestDir::new(as_user);
    let sbx = sbx_bin().to_str().unwrap().to_string();
    let mut failures = Vec::new();
    for (note, wrapper, case) in cases {
        let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
        let words = shell_words(case);
        let args: Vec<&str> = words.iter().map(String::as_str).collect();
        let ours = run_tool_wrapped(&wrapper, as_user, &[&sbx, "unshare"], &args, &dir.path);
        let theirs = run_tool_wrapped(&wrapper, as_user, &[UNSHARE_2_41], &args, &dir.path);
        let outcome = |o: &Outcome| (o.code, o.signal, o.raw_stdout.clone());
        if outcome(&ours) != outcome(&theirs) || ours.stderr.contains("panicked") {
            failures.push(format!(
                "unshare {case}{note}\n  sbx:       {:?} {:?} {:?} {}\n  util-linux: {:?} {:?} {:?} {}",
                ours.code,
                ours.signal,
                ours.raw_stdout,
                ours.stderr.trim(),
                theirs.code,
                theirs.signal,
                theirs.raw_stdout,
                theirs.stderr.trim()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn id_ranges_at_the_edges_match_util_linux_rootless() {
    let cases: Vec<_> = EDGE_CASES
        .iter()
        .map(|c| (String::new(), vec![], c.to_string()))
        .collect();
    differential_raw(Some(&unprivileged_user()), &cases);
}

#[test]
fn id_ranges_at_the_edges_match_util_linux_as_root() {
    // As root both write the maps themselves: the kernel takes the good ranges, so their maps
    // are compared for real.
    if !require(is_root(), "root", "run the suite as root") {
        return;
    }
    let cases: Vec<_> = EDGE_CASES
        .iter()
        .map(|c| (String::new(), vec![], c.to_string()))
        .collect();
    differential_raw(None, &cases);
}

/// Runs `PROGRAM...` with FILE bind-mounted over /etc/subuid and /etc/subgid, in a private
/// mount namespace of its own (so the host's files are never touched); newuidmap reads the
/// same files, so util-linux's ranges come from them too.
fn with_subid_file(file: &std::path::Path) -> Vec<String> {
    vec![
        "/usr/bin/unshare".into(),
        "-m".into(),
        "--propagation=private".into(),
        "sh".into(),
        "-c".into(),
        "mount --bind \"$0\" /etc/subuid && mount --bind \"$0\" /etc/subgid && exec \"$@\"".into(),
        file.to_str().unwrap().into(),
    ]
}

/// `/etc/subuid` lines at the edges (the caller's, by uid) and the options that read them,
/// where util-linux is a sensible reference: both fail with 1 (newuidmap refuses what sbx
/// refuses first) or both write the same map.
const SUBID_EDGE_CASES: &[(&str, &str)] = &[
    ("{uid}:4294967000:65536", "-r --map-auto"),
    ("{uid}:4294967000:65536", "--map-auto"),
    ("{uid}:4294967000:65536", "-c --map-users=auto"),
    ("{uid}:4294967000:65536", "--map-subids"),
    ("{uid}:100000:0", "-r --map-auto"),
    ("{uid}:100000:0", "--map-users=auto -r"),
    ("{uid}:4294967295:1", "--map-auto"),
    ("{uid}:4294967295:1", "--map-subids"),
    ("{uid}:100000:4294967295", "-r --map-auto"),
    // Good ranges that end at the highest id.
    ("{uid}:4294967294:1", "-r --map-auto"),
    ("{uid}:4294967294:1", "--map-auto"),
    ("{uid}:4294967294:1", "-c --map-users=auto"),
    ("{uid}:4294967294:1", "--map-subids"),
    ("{uid}:4294901759:65536", "--map-auto"),
    ("{uid}:4294901759:65536", "-r --map-auto"),
    (
        "{uid}:4294901759:65536",
        "-c --map-users=auto --map-groups=auto",
    ),
    (
        "{uid}:4294901759:65536",
        "--map-user=65535 --map-users=auto",
    ),
    ("{uid}:4294901759:65536", "--map-subids"),
];

#[test]
fn subid_ranges_at_the_edges_match_util_linux() {
    // Bind-mounting over /etc/subuid needs root; the tools then run as the test user, through
    // newuidmap as anyone would.
    if !require(
        is_root(),
        "root",
        "run the suite as root (bind-mounting a test /etc/subuid needs it)",
    ) {
        return;
    }
    let user = unprivileged_user();
    let dir = TestDir::new(Some(&user));
    let mut cases = Vec::new();
    for (n, (line, args)) in SUBID_EDGE_CASES.iter().enumerate() {
        let line = line.replace("{uid}", &user.uid.to_string());
        let file = dir.path.join(format!("subid-{n}"));
        std::fs::write(&file, format!("{line}\n")).unwrap();
        cases.push((
            format!(" (with /etc/subuid and /etc/subgid: {line})"),
            with_subid_file(&file),
            format!("{args} cat /proc/self/uid_map /proc/self/gid_map"),
        ));
    }
    differential_raw(Some(&user), &cases);
}

/// Where util-linux 2.41 is no reference: it drops a count of 0 without a word when the single
/// mapping does not overlap it (the range is left out of the map, exit 0), and reads an explicit inner
/// 4294967295 as its "from 0". sbx refuses both, and every bad range, with exit 1, nothing on
/// stdout and one line saying why.
#[test]
fn bad_id_ranges_fail_with_a_clear_message() {
    let user = unprivileged_user();
    let dir = TestDir::new(Some(&user));
    let sbx = sbx_bin().to_str().unwrap().to_string();
    let highest = "past 4294967294, the highest valid id";
    for (args, msg) in [
        (
            "--map-users=0:100000:0 --map-root-user",
            "invalid mapping '0:100000:0': the count is 0".to_string(),
        ),
        (
            "--map-users=0:100000:0",
            "invalid mapping '0:100000:0': the count is 0".into(),
        ),
        (
            "-c --map-users=0:100000:0",
            "invalid mapping '0:100000:0': the count is 0".into(),
        ),
        (
            "--map-groups=100000,0,0",
            "invalid mapping '100000,0,0': the count is 0".into(),
        ),
        (
            "--map-users=4294967290:100000:10 -r",
            format!("invalid mapping '4294967290:100000:10': inner ids 4294967290 to 4294967299 go {highest}"),
        ),
        (
            "--map-groups=4294967290,0,10 -r",
            format!("invalid mapping '4294967290,0,10': outer ids 4294967290 to 4294967299 go {highest}"),
        ),
        (
            "--map-users=0:100000:4294967295",
            format!("invalid mapping '0:100000:4294967295': outer ids 100000 to 4295067294 go {highest}"),
        ),
        (
            "--map-users=4294967295:100000:1 -r",
            format!("invalid mapping '4294967295:100000:1': inner id 4294967295 is {highest}"),
        ),
    ] {
        let mut words = shell_words(args);
        words.push("true".into());
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let out = run_tool(Some(&user), &[&sbx, "unshare"], &words, &dir.path);
        assert_eq!(
            (out.code, out.raw_stdout.as_str(), out.stderr.as_str()),
            (Some(1), "", format!("sbx unshare: {msg}\n").as_str()),
            "sbx unshare {args} true"
        );
    }
}

#[test]
fn bad_subid_ranges_fail_with_a_clear_message() {
    if !require(
        is_root(),
        "root",
        "run the suite as root (bind-mounting a test /etc/subuid needs it)",
    ) {
        return;
    }
    let user = unprivileged_user();
    let dir = TestDir::new(Some(&user));
    let sbx = sbx_bin().to_str().unwrap().to_string();
    let file = dir.path.join("subid");
    let uid = user.uid;
    for (line, args, why) in [
        // util-linux leaves these namespaces unmapped, exit 0.
        ("{uid}:100000:0", "--map-auto", "the count is 0".to_string()),
        ("{uid}:100000:0", "--map-subids", "the count is 0".into()),
        (
            "{uid}:100000:0",
            "-c --map-users=auto",
            "the count is 0".into(),
        ),
        // util-linux maps only the single id here (the range gives it its one id), exit 0.
        (
            "{uid}:4294967295:1",
            "-r --map-auto",
            "outer id 4294967295 is past 4294967294, the highest valid id".into(),
        ),
        (
            "{uid}:4294967000:65536",
            "--map-subids",
            "inner ids 4294967000 to 4295032535 go past 4294967294, the highest valid id".into(),
        ),
    ] {
        let line = line.replace("{uid}", &uid.to_string());
        std::fs::write(&file, format!("{line}\n")).unwrap();
        let wrapper = with_subid_file(&file);
        let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
        let mut words = shell_words(args);
        words.push("true".into());
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let out = run_tool_wrapped(&wrapper, Some(&user), &[&sbx, "unshare"], &words, &dir.path);
        let expected = format!("sbx unshare: invalid subid range '{line}' in /etc/subuid: {why}\n");
        assert_eq!(
            (out.code, out.raw_stdout.as_str(), out.stderr.as_str()),
            (Some(1), "", expected.as_str()),
            "{line}: sbx unshare {args} true"
        );
    }
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
