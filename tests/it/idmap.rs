//! Full id ranges (issue 5): --map-auto, --map-users, --map-groups through newuidmap and
//! newgidmap, as the test user with 100000:65536 in /etc/subuid and /etc/subgid.

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use crate::util::*;

/// util-linux 2.39+ unshare, built by .ci/setup (Debian 12 ships 2.38, without --map-auto).
pub const UNSHARE_2_41: &str = "/usr/local/lib/sbx-test/util-linux/unshare";

fn map_lines(text: &str) -> Vec<Vec<u64>> {
    text.lines()
        .map(|l| l.split_whitespace().map(|n| n.parse().unwrap()).collect())
        .collect()
}

#[test]
fn map_auto_maps_the_caller_to_root_and_the_ranges_from_one() {
    let user = unprivileged_user();
    let out = rootless_ok(&["--map-auto", "--", "cat", "/proc/self/uid_map"]);
    assert_eq!(
        map_lines(&out),
        vec![vec![0, user.uid as u64, 1], vec![1, 100000, 65536]],
        "{out}"
    );
    let out = rootless_ok(&["--map-auto", "--", "cat", "/proc/self/gid_map"]);
    assert_eq!(
        map_lines(&out),
        vec![vec![0, user.gid as u64, 1], vec![1, 100000, 65536]],
        "{out}"
    );
}

#[test]
fn chown_result_is_seen_on_the_host() {
    let user = unprivileged_user();
    let dir = TestDir::new(Some(&user));
    let out = Sbx::rootless()
        .args(["--map-auto", "--bind", dir.path.to_str().unwrap(), "/w"])
        .args(SYSTEM)
        .args([
            "--",
            "sh",
            "-c",
            "touch /w/f && chown 1000:1000 /w/f && stat -c %u:%g /w/f",
        ])
        .run()
        .ok();
    assert_eq!(out.trim(), "1000:1000");
    let meta = std::fs::metadata(dir.path.join("f")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (100999, 100999));
}

#[test]
fn a_tar_archive_with_several_owners_extracts_with_those_owners() {
    if !require(
        is_root(),
        "root",
        "run the suite as root (the test archive needs files of several owners)",
    ) {
        return;
    }
    let sbx = Sbx::rootless();
    let src = sbx.dir().join("src");
    std::fs::create_dir(&src).unwrap();
    for (name, id) in [("root-file", 0u32), ("a-file", 1000), ("b-file", 2000)] {
        let p = src.join(name);
        std::fs::write(&p, name).unwrap();
        std::os::unix::fs::chown(&p, Some(id), Some(id + 1)).unwrap();
    }
    let tar = sbx.dir().join("a.tar");
    let ok = Command::new("tar")
        .args(["--numeric-owner", "-C"])
        .arg(&src)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(ok.success());
    std::fs::set_permissions(&tar, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let script =
        "mkdir x && tar -C x -xf a.tar && stat -c '%n %u:%g' x/root-file x/a-file x/b-file";
    let out = sbx
        .args(["--map-auto", "--", "sh", "-c", script])
        .run()
        .ok();
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec![
            "x/root-file 0:1",
            "x/a-file 1000:1001",
            "x/b-file 2000:2001"
        ],
        "{out}"
    );
}

#[test]
fn maps_match_util_linux_unshare() {
    if !require(
        std::path::Path::new(UNSHARE_2_41).exists(),
        "util-linux 2.39+ unshare",
        "run .ci/setup (it builds util-linux's unshare from Debian 13's source package)",
    ) {
        return;
    }
    let user = unprivileged_user();
    let theirs = Command::new("setpriv")
        .args([
            format!("--reuid={}", user.uid),
            format!("--regid={}", user.gid),
            "--clear-groups".into(),
        ])
        .args([
            "--",
            UNSHARE_2_41,
            "--map-auto",
            "--map-root-user",
            "cat",
            "/proc/self/uid_map",
            "/proc/self/gid_map",
        ])
        .current_dir("/")
        .output()
        .unwrap();
    assert!(
        theirs.status.success(),
        "{}",
        String::from_utf8_lossy(&theirs.stderr)
    );
    let theirs = map_lines(&String::from_utf8_lossy(&theirs.stdout));
    let ours = map_lines(&rootless_ok(&[
        "--map-auto",
        "--",
        "cat",
        "/proc/self/uid_map",
        "/proc/self/gid_map",
    ]));
    assert_eq!(ours.len(), theirs.len(), "{ours:?} vs {theirs:?}");
    for (o, t) in ours.iter().zip(&theirs) {
        // Same inner and outer starts everywhere; the own mapping is identical. util-linux keeps
        // the whole map at 65536 ids and so drops the last subordinate id, where sbx (like
        // rootless Podman) maps all of them: exactly one more on the range lines.
        assert_eq!((o[0], o[1]), (t[0], t[1]), "{ours:?} vs {theirs:?}");
        if o[2] == 1 {
            assert_eq!(t[2], 1);
        } else {
            assert_eq!(o[2], t[2] + 1, "{ours:?} vs {theirs:?}");
        }
    }
}

#[test]
fn explicit_ranges_are_checked_against_the_allowed_ones() {
    let user = unprivileged_user();
    let out = rootless_ok(&[
        "--map-users",
        "1:100000:10",
        "--map-groups",
        "5:100100:1",
        "--",
        "cat",
        "/proc/self/uid_map",
        "/proc/self/gid_map",
    ]);
    assert_eq!(
        map_lines(&out),
        vec![
            vec![user.uid as u64, user.uid as u64, 1],
            vec![1, 100000, 10],
            vec![user.gid as u64, user.gid as u64, 1],
            vec![5, 100100, 1]
        ]
    );
    let r = Sbx::rootless()
        .args(["--map-users", "1:200000:10", "--", "true"])
        .run();
    assert_eq!(r.code(), 125);
    assert!(
        r.stderr().contains("1:200000:10") && r.stderr().contains("100000-165535"),
        "{}",
        r.stderr()
    );
    let r = Sbx::rootless()
        .args(["--map-users", "1:2", "--", "true"])
        .run();
    assert_eq!(r.code(), 125);
    assert!(r.stderr().contains("INNER:OUTER:COUNT"), "{}", r.stderr());
}

#[test]
fn a_user_without_ranges_gets_a_clear_error_and_nothing_is_left() {
    let name = std::env::var("SBX_TEST_USER_NOSUB").unwrap_or_else(|_| "sbxnosub".into());
    let Some(sbx) = Sbx::as_named_user(&name) else {
        return;
    };
    let before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let r = sbx.args(["--map-auto", "--", "sleep", "100"]).run();
    assert_eq!(r.code(), 125, "{}", r.stderr());
    let err = r.stderr();
    assert!(
        err.starts_with("sbx: ") && err.contains("/etc/subuid") && err.contains(&name),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {name}"
        )),
        "{err}"
    );
    let left = Command::new("pgrep").args(["-u", &name]).output().unwrap();
    assert!(
        left.stdout.is_empty(),
        "left running: {}",
        String::from_utf8_lossy(&left.stdout)
    );
    assert_eq!(
        std::fs::read_to_string("/proc/self/mountinfo").unwrap(),
        before
    );
}

#[test]
fn a_missing_newuidmap_names_the_package() {
    // sbx never searches PATH for its host helpers, so "missing" means missing from the system
    // directories: hide /usr/bin/newuidmap in a mount namespace of the test's own.
    if !require(
        is_root(),
        "running as root",
        "run the suite as root to hide /usr/bin/newuidmap in a private mount namespace",
    ) {
        return;
    }
    let sbx = Sbx::rootless().args(["--map-auto", "--", "true"]).wrapped(
        &["unshare", "-m", "--propagation", "private", "sh"],
        "mount --bind /dev/null /usr/bin/newuidmap",
    );
    let r = sbx.run();
    assert_eq!(r.code(), 125, "{}", r.stderr());
    assert!(
        r.stderr().contains("newuidmap") && r.stderr().contains("uidmap"),
        "{}",
        r.stderr()
    );
}
