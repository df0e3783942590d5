//! The filesystem view: a new tmpfs root that sbx pivots into, the bwrap-compatible filesystem
//! options (binds, tmpfs, dirs, symlinks, overlays, --root, --mask, /dev, /proc, propagation),
//! and the default view that shows the host read-only and hides the caller's home. Every
//! assertion is about what the command sees inside, or what the host sees during and afterwards.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use crate::util::*;

/// The toolchain directories of home that the default view brings back (top-level names).
const TOOLCHAIN_DIRS: &[&str] = &[".cargo", ".rustup", ".local", ".pyenv", ".nvm", "go"];

/// What `--dev` (and the default view's /dev) holds, and nothing else.
const DEV_ENTRIES: &[&str] = &[
    "core", "fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout",
    "tty", "urandom", "zero",
];

fn sh(script: &str) -> [&str; 4] {
    ["--", "sh", "-c", script]
}

/// A name no other test (or run) uses.
fn unique(tag: &str) -> String {
    format!("sbx-it-{}-{tag}", std::process::id())
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn host_mountinfo() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap()
}

fn give_to(path: &Path, user: &User) {
    std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid)).unwrap();
}

fn write_file(path: &Path, contents: &str, mode: u32, user: &User) {
    std::fs::write(path, contents).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    give_to(path, user);
}

fn make_dir(path: &Path, user: &User) {
    std::fs::create_dir(path).unwrap();
    give_to(path, user);
}

fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

/// The names in a directory of the host.
fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Every path below `dir` (symlinks not followed) with its type, mode, size and owner.
fn tree(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = p.symlink_metadata().unwrap();
            out.insert(format!(
                "{} {:o} {} {}:{}",
                p.strip_prefix(dir).unwrap().display(),
                m.mode(),
                if m.is_dir() { 0 } else { m.len() },
                m.uid(),
                m.gid()
            ));
            if m.is_dir() {
                todo.push(p);
            }
        }
    }
    out
}

/// One line of /proc/PID/mountinfo.
#[derive(Debug, Clone)]
struct Mount {
    id: u32,
    parent: u32,
    dev: String,
    root: String,
    point: String,
    opts: String,
    fstype: String,
}

fn parse_mounts(mountinfo: &str) -> Vec<Mount> {
    mountinfo
        .lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let f: Vec<&str> = pre.split(' ').collect();
            Some(Mount {
                id: f.first()?.parse().ok()?,
                parent: f.get(1)?.parse().ok()?,
                dev: f.get(2)?.to_string(),
                root: f.get(3)?.to_string(),
                point: f.get(4)?.to_string(),
                opts: f.get(5)?.to_string(),
                fstype: post.split(' ').next()?.to_string(),
            })
        })
        .collect()
}

/// Whether `path` is `dir` or below it.
fn is_under(path: &str, dir: &str) -> bool {
    dir == "/"
        || path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The mount that `path` lies on, walked down from the root through the mount tree: a mount
/// stacked on another's mount point covers it with its submounts, so shadowed mounts (still
/// listed in mountinfo) are never picked.
fn mount_of<'a>(mounts: &'a [Mount], path: &str) -> &'a Mount {
    let ids: BTreeSet<u32> = mounts.iter().map(|m| m.id).collect();
    let mut cur = mounts
        .iter()
        .find(|m| m.point == "/" && !ids.contains(&m.parent))
        .unwrap_or_else(|| panic!("no root mount: {mounts:#?}"));
    loop {
        let children = || {
            mounts
                .iter()
                .filter(|m| m.parent == cur.id && m.id != cur.id)
        };
        let next = children().rfind(|m| m.point == cur.point).or_else(|| {
            children()
                .filter(|m| is_under(path, &m.point))
                .max_by_key(|m| m.point.len())
        });
        match next {
            Some(m) => cur = m,
            None => return cur,
        }
    }
}

fn has_opt(m: &Mount, opt: &str) -> bool {
    m.opts.split(',').any(|o| o == opt)
}

/// No mount inside shows the setup's old or new root.
#[track_caller]
fn assert_no_staging(m: &Mount, mountinfo: &str) {
    for word in ["oldroot", "newroot"] {
        assert!(
            !m.root.contains(word) && !m.point.contains(word),
            "the setup shows inside: {m:?}\n{mountinfo}"
        );
    }
}

/// Paths planted on (or watched for on) the host, removed on drop, the last planted first.
#[derive(Default)]
struct Planted(Vec<PathBuf>);

impl Planted {
    /// Creates `dir` and its missing parents for `user`; only what did not exist is removed.
    fn dir(&mut self, dir: &Path, mode: u32, user: &User) {
        let mut missing = Vec::new();
        let mut p = dir;
        while !exists(p) {
            missing.push(p.to_path_buf());
            p = p.parent().unwrap();
        }
        for d in missing.into_iter().rev() {
            make_dir(&d, user);
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).unwrap();
            self.0.push(d);
        }
    }

    fn file(&mut self, path: &Path, contents: &str, mode: u32, user: &User) {
        assert!(!exists(path), "{} already exists", path.display());
        self.0.push(path.to_path_buf());
        write_file(path, contents, mode, user);
    }

    /// A path the sandbox must not create on the host: removed anyway if it appears.
    fn watch(&mut self, path: &Path) {
        if !exists(path) {
            self.0.push(path.to_path_buf());
        }
    }
}

impl Drop for Planted {
    fn drop(&mut self) {
        for p in self.0.iter().rev() {
            match p.symlink_metadata() {
                Ok(m) if m.is_dir() => {
                    let _ = std::fs::remove_dir_all(p);
                }
                Ok(_) => {
                    let _ = std::fs::remove_file(p);
                }
                Err(_) => {}
            }
        }
    }
}

/// Unmounts (lazily) whatever the host has mounted on its path when dropped: a mount that
/// leaked out of a sandbox run by root must not stay on the host.
struct UnmountOnDrop(PathBuf);

impl Drop for UnmountOnDrop {
    fn drop(&mut self) {
        let point = path_str(&self.0).to_string();
        while parse_mounts(&host_mountinfo())
            .iter()
            .any(|m| m.point == point)
        {
            if nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH).is_err() {
                break;
            }
        }
    }
}

/// Gives every directory below a path mode 0700 when dropped: overlayfs leaves a mode-0 `work`
/// directory in its WORKDIR, which the test user (running the suite unprivileged) could not
/// remove with its TestDir otherwise.
struct OpenDirsOnDrop(PathBuf);

impl Drop for OpenDirsOnDrop {
    fn drop(&mut self) {
        let mut todo = vec![self.0.clone()];
        while let Some(d) = todo.pop() {
            let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700));
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    todo.push(e.path());
                }
            }
        }
    }
}

/// A command run on the host as the test user.
fn as_user(user: &User, program: &str) -> Command {
    let mut c = if is_root() {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={}", user.uid))
            .arg(format!("--regid={}", user.gid))
            .arg("--clear-groups")
            .arg("--")
            .arg(program);
        c
    } else {
        Command::new(program)
    };
    c.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &user.home)
        .current_dir("/")
        .stdin(Stdio::null());
    c
}

const UNIX_CLIENT: &str = "import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
    print('connected')
except OSError as e:
    print('connect-failed', e.errno)
";

/// A unix socket listening on the host, served by python3 as the test user; stopped and
/// removed on drop.
struct UnixServer {
    child: Child,
    path: PathBuf,
}

impl UnixServer {
    fn start(path: &Path, user: &User) -> UnixServer {
        let script = "import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(16)
print('ready', flush=True)
while True:
    s.accept()[0].close()
";
        let child = as_user(user, "python3")
            .args(["-c", script])
            .arg(path)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python3");
        let mut server = UnixServer {
            child,
            path: path.to_path_buf(),
        };
        let mut line = String::new();
        BufReader::new(server.child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the unix socket server did not start");
        server
    }
}

impl Drop for UnixServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Starts sbx with its stdin and stdout piped and waits for the command's first line, `ready`.
/// The command is meant to wait in `read x` afterwards, until [`finish`].
fn start_ready(sbx: &mut Sbx) -> (Child, BufReader<ChildStdout>) {
    sbx.cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = sbx.cmd.spawn().expect("start sbx");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready", "the sandbox did not get ready");
    (child, out)
}

/// Sends `go` to a command waiting in `read x`; returns the rest of its output and its status.
fn finish(mut child: Child, mut out: BufReader<ChildStdout>) -> (String, Option<i32>) {
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"go\n").unwrap();
    drop(stdin);
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    (rest, child.wait().unwrap().code())
}

/// Replaces sbx's command line by `unshare --mount -- sh -c 'SETUP && exec sbx ...'`: sbx then
/// starts in a private mount namespace of the host's root that has SETUP's mounts, which the
/// host's mount table (compared by other tests running in parallel) never shows.
fn in_private_mount_ns(sbx: Sbx, setup: &str) -> Sbx {
    sbx.wrapped(
        &["unshare", "--mount", "--propagation", "private", "--", "sh"],
        setup,
    )
}

/// Whether an ELF file has no program interpreter (is statically linked).
fn is_static_elf(bytes: &[u8]) -> bool {
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 || bytes[5] != 1 {
        return false;
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().unwrap()) as usize;
    let (size, count) = (u16_at(0x36), u16_at(0x38));
    (0..count).all(|i| {
        let o = phoff + i * size;
        o + 4 <= bytes.len() && u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap()) != 3
    })
}

/// A small root tree for --root: a static busybox as /bin/sh (and /bin/ls), and empty /proc,
/// /dev and /tmp, owned by `owner`. None (after saying why) without a static /bin/busybox.
fn busybox_tree(owner: &User) -> Option<TestDir> {
    let busybox = Path::new("/bin/busybox");
    let ok = have("busybox") && std::fs::read(busybox).is_ok_and(|b| is_static_elf(&b));
    if !require(
        ok,
        "a static /bin/busybox",
        "apt-get install busybox-static",
    ) {
        return None;
    }
    let dir = TestDir::new(Some(owner));
    for d in ["bin", "proc", "dev", "tmp"] {
        make_dir(&dir.path.join(d), owner);
    }
    let bin = dir.path.join("bin");
    std::fs::copy(busybox, bin.join("busybox")).unwrap();
    std::fs::set_permissions(bin.join("busybox"), std::fs::Permissions::from_mode(0o755)).unwrap();
    give_to(&bin.join("busybox"), owner);
    for link in ["sh", "ls"] {
        std::os::unix::fs::symlink("busybox", bin.join(link)).unwrap();
        give_to(&bin.join(link), owner);
    }
    Some(dir)
}

/// Runs `/bin/sh -c 'echo hi; ls /'` in the busybox tree and checks what it sees, and that the
/// tree on the host is unchanged.
fn check_busybox_root(sbx: Sbx, tree_dir: &TestDir) {
    let before = tree(&tree_dir.path);
    let out = sbx
        .args(["--root", path_str(&tree_dir.path)])
        .args(["--", "/bin/sh", "-c", "echo hi; ls /"])
        .run()
        .ok();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("hi"), "{out}");
    let listing: BTreeSet<&str> = lines.flat_map(str::split_whitespace).collect();
    assert_eq!(
        listing,
        BTreeSet::from(["bin", "dev", "proc", "tmp"]),
        "/ inside is not the tree: {out}"
    );
    assert_eq!(tree(&tree_dir.path), before, "the tree changed on the host");
}

// ---------------------------------------------------------------------------------------------
// 1. The new root.

#[test]
fn nothing_of_the_setup_is_visible_inside() {
    let script = "for p in /oldroot /newroot /.oldroot /.newroot; do \
                  test -e $p && echo \"exists $p\"; done; \
                  ls -A /; echo ---; cat /proc/self/mountinfo";
    // An explicit view: / holds exactly what was asked for, and every mount is one of those.
    let out = Sbx::rootless().args(SYSTEM).args(sh(script)).run().ok();
    let (listing, mountinfo) = out.split_once("---\n").unwrap();
    assert!(!listing.contains("exists"), "{listing}");
    let seen: BTreeSet<&str> = listing.split_whitespace().collect();
    assert_eq!(
        seen,
        BTreeSet::from(["bin", "dev", "lib", "lib64", "proc", "usr"])
    );
    for m in parse_mounts(mountinfo) {
        assert!(
            m.point == "/"
                || ["/usr", "/proc", "/dev"]
                    .iter()
                    .any(|d| is_under(&m.point, d)),
            "a mount nobody asked for: {m:?}\n{mountinfo}"
        );
        assert_no_staging(&m, mountinfo);
    }

    // The default view: the host's root with sbx's own mounts on top, nothing else.
    let user = unprivileged_user();
    let sbx = Sbx::rootless();
    let cwd = path_str(sbx.dir()).to_string();
    let out = sbx.args(sh(script)).run().ok();
    let (listing, mountinfo) = out.split_once("---\n").unwrap();
    assert!(!listing.contains("exists"), "{listing}");
    let host_root = names(Path::new("/"));
    for name in listing.split_whitespace() {
        assert!(
            host_root.contains(name),
            "/{name} inside is not in the host's /"
        );
    }
    let host_points: BTreeSet<String> = parse_mounts(&host_mountinfo())
        .into_iter()
        .map(|m| m.point)
        .collect();
    let home = path_str(&user.home);
    for m in parse_mounts(mountinfo) {
        let expected = m.point == "/"
            || ["/tmp", "/var/tmp", "/run", cwd.as_str()].contains(&m.point.as_str())
            // The network mode's own /etc/hosts and /etc/resolv.conf.
            || ["/etc/hosts", "/etc/resolv.conf"].contains(&m.point.as_str())
            || ["/proc", "/dev", "/sys", home]
                .iter()
                .any(|d| is_under(&m.point, d))
            || host_points.contains(&m.point);
        assert!(expected, "a mount of the setup shows: {m:?}\n{mountinfo}");
        assert_no_staging(&m, mountinfo);
    }
}

#[test]
fn the_host_sees_no_mount_of_a_running_sandbox() {
    let before = host_mountinfo();
    for view in [&[][..], SYSTEM] {
        let mut sbx = Sbx::rootless()
            .args(view)
            .args(sh("echo ready; read x; echo got $x"));
        let (child, out) = start_ready(&mut sbx);
        assert_eq!(
            host_mountinfo(),
            before,
            "the host sees the sandbox's mounts (view {view:?})"
        );
        let (rest, code) = finish(child, out);
        assert_eq!(rest.trim(), "got go");
        assert_eq!(code, Some(0));
    }
    assert_eq!(host_mountinfo(), before);
}

// ---------------------------------------------------------------------------------------------
// 2 and 3. Filesystem options, binds and their flags.

#[test]
fn bind_and_ro_bind_show_a_host_directory_nosuid_and_nodev() {
    let user = unprivileged_user();
    let data = TestDir::new(Some(&user));
    write_file(&data.path.join("host-file"), "from-host\n", 0o644, &user);
    let d = path_str(&data.path);
    let run = Sbx::rootless()
        .args(SYSTEM)
        .args(["--bind", d, "/rw", "--ro-bind", d, "/ro"])
        .args(sh(
            "cat /rw/host-file /ro/host-file; echo made > /rw/new; \
                  touch /ro/nope; echo rc=$?; echo ---; cat /proc/self/mountinfo",
        ))
        .run();
    let out = run.ok();
    let (head, mountinfo) = out.split_once("---\n").unwrap();
    assert_eq!(head, "from-host\nfrom-host\nrc=1\n", "{}", run.stderr());
    assert!(
        run.stderr().contains("Read-only file system"),
        "{}",
        run.stderr()
    );
    let new = data.path.join("new");
    assert_eq!(std::fs::read_to_string(&new).unwrap(), "made\n");
    let meta = new.metadata().unwrap();
    assert_eq!((meta.uid(), meta.gid()), (user.uid, user.gid));
    assert!(!exists(&data.path.join("nope")));
    let mounts = parse_mounts(mountinfo);
    let (rw, ro) = (mount_of(&mounts, "/rw"), mount_of(&mounts, "/ro"));
    assert_eq!((rw.point.as_str(), ro.point.as_str()), ("/rw", "/ro"));
    for m in [rw, ro] {
        assert!(has_opt(m, "nosuid") && has_opt(m, "nodev"), "{m:?}");
    }
    assert!(has_opt(rw, "rw"), "{rw:?}");
    assert!(has_opt(ro, "ro"), "{ro:?}");
}

#[test]
fn try_forms_skip_a_missing_source() {
    let user = unprivileged_user();
    let data = TestDir::new(Some(&user));
    write_file(&data.path.join("host-file"), "from-host\n", 0o644, &user);
    let missing = format!("/nonexistent-{}", unique("src"));
    let out = Sbx::rootless()
        .args(SYSTEM)
        .args(["--bind-try", &missing, "/a"])
        .args(["--ro-bind-try", &missing, "/b"])
        .args(["--dev-bind-try", &missing, "/c"])
        .args(["--ro-bind-try", path_str(&data.path), "/d"])
        .args(sh(
            "for p in /a /b /c; do test -e $p && echo \"exists $p\"; done; cat /d/host-file",
        ))
        .run()
        .ok();
    assert_eq!(out, "from-host\n");
}

#[test]
fn dev_bind_keeps_device_nodes_usable_and_bind_does_not() {
    let host = parse_mounts(&host_mountinfo());
    if !require(
        !has_opt(mount_of(&host, "/dev/null"), "nodev"),
        "a host /dev mounted without nodev",
        "run the suite on a machine (not a container) whose /dev allows devices",
    ) {
        return;
    }
    let run = Sbx::rootless()
        .args(SYSTEM)
        .args([
            "--dev-bind",
            "/dev",
            "/hostdev",
            "--bind",
            "/dev",
            "/nodevs",
        ])
        .args(sh("echo x > /hostdev/null && echo dev-bind-ok; \
                  echo x > /nodevs/null || echo bind-refused; \
                  echo ---; cat /proc/self/mountinfo"))
        .run();
    let out = run.ok();
    let (head, mountinfo) = out.split_once("---\n").unwrap();
    assert_eq!(head, "dev-bind-ok\nbind-refused\n", "{}", run.stderr());
    let mounts = parse_mounts(mountinfo);
    let dev = mount_of(&mounts, "/hostdev/null");
    assert!(!has_opt(dev, "nodev"), "{dev:?}");
    let nodev = mount_of(&mounts, "/nodevs/null");
    assert!(
        has_opt(nodev, "nodev") && has_opt(nodev, "nosuid"),
        "{nodev:?}"
    );
}

#[test]
fn perms_and_size_apply_to_the_next_tmpfs_or_dir_only() {
    let out = Sbx::rootless()
        .args(SYSTEM)
        .args(["--perms", "0700", "--tmpfs", "/a", "--tmpfs", "/b"])
        .args(["--size", "1048576", "--tmpfs", "/c", "--tmpfs", "/f"])
        .args(["--perms", "0750", "--dir", "/d", "--dir", "/e"])
        .args(sh(
            "stat -c '%n %a' /a /b /d /e; df -B1 --output=size /c /f | tail -n 2; \
                  touch /b/x && echo tmpfs-writable",
        ))
        .run()
        .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 7, "{out}");
    assert_eq!(lines[0], "/a 700");
    assert_ne!(lines[1], "/b 700", "--perms applied to a second --tmpfs");
    assert_eq!(lines[2], "/d 750");
    assert_ne!(lines[3], "/e 750", "--perms applied to a second --dir");
    assert_eq!(lines[4].trim(), "1048576", "--size of /c: {out}");
    assert_ne!(
        lines[5].trim(),
        "1048576",
        "--size applied to a second --tmpfs"
    );
    assert_eq!(lines[6], "tmpfs-writable");
}

#[test]
fn view_options_apply_in_command_line_order() {
    let out = Sbx::rootless()
        .args(SYSTEM)
        // A tmpfs over a dir hides it; a dir in a tmpfs stays.
        .args(["--dir", "/x/early", "--tmpfs", "/x"])
        .args([
            "--tmpfs",
            "/y",
            "--dir",
            "/y/late",
            "--symlink",
            "late",
            "/y/link",
        ])
        .args(["--symlink", "/usr/bin/true", "/t"])
        .args(sh(
            "test -e /x/early && echo x-early; test -d /y/late && echo y-late; \
                  readlink /y/link /t; /t && echo true-ran",
        ))
        .run()
        .ok();
    assert_eq!(out, "y-late\nlate\n/usr/bin/true\ntrue-ran\n");
}

#[test]
fn remount_ro_makes_a_mount_read_only() {
    let user = unprivileged_user();
    let data = TestDir::new(Some(&user));
    let run = Sbx::rootless()
        .args(SYSTEM)
        .args(["--bind", path_str(&data.path), "/w", "--remount-ro", "/w"])
        .args(["--tmpfs", "/r", "--remount-ro", "/r"])
        .args(sh("touch /w/x; echo rc=$?; touch /r/x; echo rc=$?"))
        .run();
    assert_eq!(run.ok(), "rc=1\nrc=1\n");
    assert_eq!(
        run.stderr().matches("Read-only file system").count(),
        2,
        "{}",
        run.stderr()
    );
    assert!(names(&data.path).is_empty());
}

#[test]
fn mqueue_mounts_a_message_queue_filesystem() {
    let out = Sbx::rootless()
        .args(SYSTEM)
        .args(["--mqueue", "/dev/mqueue"])
        .args(sh("cat /proc/self/mountinfo"))
        .run()
        .ok();
    let mounts = parse_mounts(&out);
    let m = mount_of(&mounts, "/dev/mqueue");
    assert_eq!(
        (m.point.as_str(), m.fstype.as_str()),
        ("/dev/mqueue", "mqueue")
    );
}

#[test]
fn overlay_writes_go_to_the_upper_dir_and_lower_layers_stay() {
    let user = unprivileged_user();
    let data = TestDir::new(Some(&user));
    let [l1, l2, upper, work] = ["lower1", "lower2", "upper", "work"].map(|n| data.path.join(n));
    for d in [&l1, &l2, &upper, &work] {
        make_dir(d, &user);
    }
    let _removable = OpenDirsOnDrop(work.clone());
    write_file(&l1.join("a.txt"), "lower1-a\n", 0o644, &user);
    write_file(&l2.join("b.txt"), "lower2-b\n", 0o644, &user);
    let (lower1_before, lower2_before) = (tree(&l1), tree(&l2));
    let out = Sbx::rootless()
        .args(SYSTEM)
        .args([
            "--overlay-src",
            path_str(&l1),
            "--overlay-src",
            path_str(&l2),
        ])
        .args(["--overlay", path_str(&upper), path_str(&work), "/o"])
        .args(sh("cat /o/a.txt /o/b.txt && echo new > /o/c.txt && \
                  echo changed > /o/a.txt && cat /o/a.txt /o/c.txt"))
        .run()
        .ok();
    assert_eq!(out, "lower1-a\nlower2-b\nchanged\nnew\n");
    assert_eq!(
        std::fs::read_to_string(upper.join("c.txt")).unwrap(),
        "new\n"
    );
    assert_eq!(
        std::fs::read_to_string(upper.join("a.txt")).unwrap(),
        "changed\n"
    );
    assert_eq!(tree(&l1), lower1_before, "a lower layer changed");
    assert_eq!(tree(&l2), lower2_before, "a lower layer changed");
    assert_eq!(
        std::fs::read_to_string(l1.join("a.txt")).unwrap(),
        "lower1-a\n"
    );
}

#[test]
fn tmp_overlay_writes_go_to_an_invisible_tmpfs() {
    let user = unprivileged_user();
    let data = TestDir::new(Some(&user));
    write_file(&data.path.join("a.txt"), "lower-a\n", 0o644, &user);
    let before = tree(&data.path);
    let l = path_str(&data.path);
    let script = "cat /o/a.txt && echo new > /o/c.txt && echo changed > /o/a.txt && \
                  cat /o/a.txt /o/c.txt";
    let out = Sbx::rootless()
        .args(SYSTEM)
        .args(["--overlay-src", l, "--tmp-overlay", "/o"])
        .args(sh(script))
        .run()
        .ok();
    assert_eq!(out, "lower-a\nchanged\nnew\n");
    assert_eq!(tree(&data.path), before, "the lower layer changed");
    // The next sandbox starts from the lower layer again.
    let out = Sbx::rootless()
        .args(SYSTEM)
        .args(["--overlay-src", l, "--tmp-overlay", "/o"])
        .args(sh("cat /o/a.txt; test -e /o/c.txt || echo gone"))
        .run()
        .ok();
    assert_eq!(out, "lower-a\ngone\n");
}

// ---------------------------------------------------------------------------------------------
// 13 (and 3). Recursive binds: a read-only bind is read-only in every submount.

#[test]
fn ro_bind_is_read_only_in_every_submount() {
    if !require(
        is_root(),
        "running as root (to mount a tmpfs inside the bound tree)",
        "run the suite as root (sudo)",
    ) {
        return;
    }
    let user = unprivileged_user();
    let data = TestDir::new(Some(&user));
    let tree_dir = data.path.join("tree");
    let sub = tree_dir.join("sub");
    make_dir(&tree_dir, &user);
    make_dir(&sub, &user);
    let t = path_str(&tree_dir);
    let sub = path_str(&sub);
    // The tmpfs is writable by the test user, so only the read-only bind can refuse the write.
    let setup =
        format!("mount -t tmpfs -o mode=1777 sbx-it-sub '{sub}' && echo marker > '{sub}/marker'");
    let script = "cat /t/sub/marker; touch /t/sub/x; echo rc=$?; touch /t/y; echo rc=$?; \
                  echo ---; cat /proc/self/mountinfo";

    let sbx = Sbx::rootless()
        .args(["--ro-bind", t, "/t"])
        .args(SYSTEM)
        .args(sh(script));
    let run = in_private_mount_ns(sbx, &setup).run();
    let out = run.ok();
    let (head, mountinfo) = out.split_once("---\n").unwrap();
    assert_eq!(head, "marker\nrc=1\nrc=1\n", "{}", run.stderr());
    assert_eq!(
        run.stderr().matches("Read-only file system").count(),
        2,
        "{}",
        run.stderr()
    );
    let mounts = parse_mounts(mountinfo);
    let m = mount_of(&mounts, "/t/sub/x");
    assert_eq!(
        m.point, "/t/sub",
        "the submount did not come along: {mountinfo}"
    );
    assert!(has_opt(m, "ro"), "{m:?}");
    assert!(has_opt(mount_of(&mounts, "/t/y"), "ro"));

    // The same tree bound read-write: the submount takes the write, so the test above can fail.
    let sbx = Sbx::rootless()
        .args(["--bind", t, "/t"])
        .args(SYSTEM)
        .args(sh(
            "touch /t/sub/x && echo wrote; echo ---; cat /proc/self/mountinfo",
        ));
    let run = in_private_mount_ns(sbx, &setup).run();
    let out = run.ok();
    let (head, mountinfo) = out.split_once("---\n").unwrap();
    assert_eq!(head, "wrote\n", "{}", run.stderr());
    let mounts = parse_mounts(mountinfo);
    let m = mount_of(&mounts, "/t/sub/x");
    assert!(has_opt(m, "nosuid") && has_opt(m, "nodev"), "{m:?}");
}

// ---------------------------------------------------------------------------------------------
// 4. DEST is resolved beneath the new root.

#[test]
fn dest_through_a_symlink_never_escapes_the_new_root() {
    let user = unprivileged_user();
    // An empty host directory the test user could write to, were sbx to follow the symlinks.
    let outside = TestDir::new(Some(&user));
    let o = path_str(&outside.path);
    let src = TestDir::new(Some(&user));
    write_file(&src.path.join("file"), "src\n", 0o644, &user);
    let s = path_str(&src.path);
    let links = TestDir::new(Some(&user));
    let evil = links.path.join("evil");
    std::os::unix::fs::symlink(o, &evil).unwrap();
    give_to(&evil, &user);
    let l = path_str(&links.path);
    let up = format!("{}..{o}", "../".repeat(15));
    let up = up.as_str();
    let before = host_mountinfo();
    let cases: Vec<Vec<&str>> = vec![
        vec!["--symlink", o, "/evil", "--dir", "/evil/x"],
        vec!["--symlink", o, "/evil", "--tmpfs", "/evil/x"],
        vec!["--symlink", o, "/evil", "--bind", s, "/evil/x"],
        vec!["--symlink", o, "/evil", "--ro-bind", s, "/evil/x"],
        vec!["--symlink", o, "/evil", "--bind-try", s, "/evil/x"],
        vec!["--symlink", o, "/evil", "--symlink", "target", "/evil/x"],
        vec!["--symlink", o, "/evil", "--dir", "/evil/x/y/z"],
        vec!["--symlink", up, "/evil", "--dir", "/evil/x"],
        vec!["--symlink", up, "/evil", "--bind", s, "/evil/x"],
        vec!["--bind", l, "/d", "--bind", s, "/d/evil/x"],
        vec!["--bind", l, "/d", "--dir", "/d/evil/x"],
        vec!["--bind", l, "/d", "--tmpfs", "/d/evil/x"],
    ];
    for case in &cases {
        // Refusing the DEST or making it inside the new root are both fine; the host must not
        // change either way.
        let run = Sbx::rootless()
            .args(SYSTEM)
            .args(case)
            .args(["--", "true"])
            .run();
        let created = names(&outside.path);
        assert!(
            created.is_empty(),
            "{case:?} created {created:?} in {o} on the host (status {}, stderr {})",
            run.code(),
            run.stderr()
        );
        assert_eq!(host_mountinfo(), before, "{case:?}");
        assert!(exists(&evil) && names(&links.path).len() == 1, "{case:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 5. A minimal /dev.

#[test]
fn dev_is_minimal_with_a_new_devpts_instance() {
    if !require(have("script"), "script(1)", "apt-get install bsdutils") {
        return;
    }
    let host_devpts: BTreeSet<String> = parse_mounts(&host_mountinfo())
        .into_iter()
        .filter(|m| m.fstype == "devpts")
        .map(|m| m.dev)
        .collect();
    let host_shm: BTreeSet<String> = parse_mounts(&host_mountinfo())
        .into_iter()
        .filter(|m| m.point == "/dev/shm")
        .map(|m| m.dev)
        .collect();
    // /dev/stdin and /dev/stdout are tried on pipes made inside: the harness's pipes belong to
    // root, so the test user could not reopen them through /proc/self/fd.
    // Device nodes are found with test -c/-b (stat), not find -type c: find trusts readdir's
    // d_type, which says "regular file" for the file a device node is bind-mounted on.
    let script = "ls -A /dev; echo ---; \
                  find /dev -mindepth 1 ! -type d ! -type l | while read -r f; do \
                  if test -c \"$f\" || test -b \"$f\"; then echo \"$f\"; fi; done; echo ---; \
                  readlink /dev/ptmx; \
                  for l in stdin stdout stderr fd core; do test -L /dev/$l && echo link-$l; done; \
                  head -c1 /dev/urandom | wc -c; head -c4 /dev/zero | wc -c; \
                  echo via-stdin | cat /dev/stdin; (echo via-stdout > /dev/stdout) | cat; \
                  echo x > /dev/null && echo null-ok; \
                  script -qc true /dev/null && echo script-ok; \
                  touch /dev/shm/x && echo shm-ok; \
                  echo ---; cat /proc/self/mountinfo";
    for view in [SYSTEM, &[][..]] {
        let run = Sbx::rootless().args(view).args(sh(script)).run();
        let out = run.ok();
        let parts: Vec<&str> = out.split("---\n").collect();
        assert_eq!(parts.len(), 4, "{out}");
        let listing: BTreeSet<&str> = parts[0].split_whitespace().collect();
        assert_eq!(
            listing,
            DEV_ENTRIES.iter().copied().collect::<BTreeSet<_>>(),
            "view {view:?}"
        );
        let nodes: BTreeSet<&str> = parts[1].split_whitespace().collect();
        assert_eq!(
            nodes,
            BTreeSet::from([
                "/dev/full",
                "/dev/null",
                "/dev/pts/ptmx",
                "/dev/random",
                "/dev/tty",
                "/dev/urandom",
                "/dev/zero",
            ]),
            "device nodes in view {view:?}"
        );
        assert_eq!(
            parts[2],
            "pts/ptmx\nlink-stdin\nlink-stdout\nlink-stderr\nlink-fd\nlink-core\n\
             1\n4\nvia-stdin\nvia-stdout\nnull-ok\nscript-ok\nshm-ok\n",
            "view {view:?}: {}",
            run.stderr()
        );
        let mounts = parse_mounts(parts[3]);
        let pts = mount_of(&mounts, "/dev/pts/ptmx");
        assert_eq!(
            (pts.point.as_str(), pts.fstype.as_str()),
            ("/dev/pts", "devpts")
        );
        assert!(
            !host_devpts.contains(&pts.dev),
            "/dev/pts is the host's devpts instance: {pts:?}"
        );
        let shm = mount_of(&mounts, "/dev/shm/x");
        assert_eq!(shm.fstype, "tmpfs", "{shm:?}");
        assert!(
            !host_shm.contains(&shm.dev),
            "/dev/shm is the host's: {shm:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 6. A fresh /proc with its kernel knobs read-only.

#[test]
fn proc_is_fresh_and_its_kernel_knobs_are_read_only() {
    // With CAP_NET_ADMIN in its own network namespace, the command could write ip_forward if
    // /proc/sys were writable: only a read-only mount refuses it.
    let script = "echo 1 > /proc/sys/net/ipv4/ip_forward; echo rc=$?; \
                  echo sbx-it > /proc/sys/kernel/hostname; echo rc=$?; \
                  cd /proc && for p in [0-9]*; do echo pid $p; done; \
                  for p in /proc/sys /proc/sysrq-trigger /proc/irq /proc/bus; do \
                  test -e $p && echo exists $p; done; echo ---; cat /proc/self/mountinfo";
    let run = Sbx::rootless()
        .args(SYSTEM)
        .args(["--map-root", "--cap-add", "CAP_NET_ADMIN"])
        .args(sh(script))
        .run();
    let out = run.ok();
    let (head, mountinfo) = out.split_once("---\n").unwrap();
    let rcs: Vec<&str> = head.lines().filter(|l| l.starts_with("rc=")).collect();
    assert_eq!(rcs.len(), 2, "{head}");
    assert!(
        rcs.iter().all(|rc| *rc != "rc=0"),
        "a kernel knob was written: {head}"
    );
    let ip_forward = run
        .stderr()
        .lines()
        .find(|l| l.contains("ip_forward"))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(
        ip_forward.contains("Read-only file system"),
        "stderr: {}",
        run.stderr()
    );
    let pids: Vec<u32> = head
        .lines()
        .filter_map(|l| l.strip_prefix("pid "))
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(
        !pids.is_empty() && pids.iter().all(|&p| p < 10),
        "not a fresh procfs: {pids:?}"
    );
    let mounts = parse_mounts(mountinfo);
    assert_eq!(mount_of(&mounts, "/proc/self").fstype, "proc");
    let knobs: Vec<&str> = head
        .lines()
        .filter_map(|l| l.strip_prefix("exists "))
        .collect();
    assert!(knobs.contains(&"/proc/sys"), "{head}");
    for knob in knobs {
        let m = mount_of(&mounts, knob);
        assert!(has_opt(m, "ro"), "{knob} is writable: {m:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 7. No mount made inside reaches the host.

#[test]
fn mounts_made_inside_never_reach_the_host() {
    let user = unprivileged_user();
    let before = host_mountinfo();
    let inside = PathBuf::from("/tmp").join(unique("propagation"));
    let mut planted = Planted::default();
    planted.watch(&inside);
    let script = format!(
        "mount -t tmpfs sbx-it ./sub && touch ./sub/inside && \
         mount -t tmpfs sbx-it /tmp && touch {i} && \
         test $(grep -c ' sbx-it ' /proc/self/mountinfo) -eq 2 && \
         echo ready && read x && echo got $x",
        i = inside.display()
    );
    for mode in [
        None,
        Some("private"),
        Some("slave"),
        Some("shared"),
        Some("unchanged"),
    ] {
        let sbx = Sbx::rootless();
        let sub = sbx.dir().join("sub");
        make_dir(&sub, &user);
        let mut sbx = sbx.args(["--map-root", "--cap-add", "CAP_SYS_ADMIN"]);
        if let Some(mode) = mode {
            sbx = sbx.args(["--propagation", mode]);
        }
        let mut sbx = sbx.args(sh(&script));
        let (child, out) = start_ready(&mut sbx);
        assert_eq!(host_mountinfo(), before, "--propagation {mode:?}");
        assert!(!exists(&sub.join("inside")), "--propagation {mode:?}");
        assert!(!exists(&inside), "--propagation {mode:?}");
        let (rest, code) = finish(child, out);
        assert_eq!((rest.trim(), code), ("got go", Some(0)));
        assert_eq!(host_mountinfo(), before, "--propagation {mode:?}");
        assert!(names(&sub).is_empty());
    }
}

// ---------------------------------------------------------------------------------------------
// 8. The default view.

#[test]
fn default_view_shows_the_host_root_read_only() {
    let name = unique("ro");
    let (usr, etc) = (Path::new("/usr").join(&name), Path::new("/etc").join(&name));
    let mut planted = Planted::default();
    planted.watch(&usr);
    planted.watch(&etc);
    let script = format!(
        "touch {} {}; echo ---; cat /proc/self/mountinfo",
        usr.display(),
        etc.display()
    );
    let run = Sbx::rootless().args(sh(&script)).run();
    let out = run.ok();
    // EROFS comes before EACCES: only a read-only mount says so to the unprivileged user.
    assert_eq!(
        run.stderr().matches("Read-only file system").count(),
        2,
        "{}",
        run.stderr()
    );
    assert!(!exists(&usr) && !exists(&etc));
    let (_, mountinfo) = out.split_once("---\n").unwrap();
    let mounts = parse_mounts(mountinfo);
    for p in ["/usr/bin", "/etc/passwd"] {
        assert!(has_opt(mount_of(&mounts, p), "ro"), "{p} is writable");
    }
    for m in mounts.iter().filter(|m| is_under(&m.point, "/sys")) {
        assert!(
            has_opt(m, "ro"),
            "a writable submount of the host's root: {m:?}"
        );
    }
}

#[test]
fn default_view_has_private_tmp_var_tmp_run_and_dev_shm() {
    let user = unprivileged_user();
    let mut planted = Planted::default();
    let mut visible_on_host = Vec::new();
    for dir in ["/tmp", "/var/tmp", "/dev/shm"] {
        let p = Path::new(dir).join(unique("planted"));
        planted.file(&p, "sbx-it-planted\n", 0o644, &user);
        visible_on_host.push(p);
    }
    let run_user = PathBuf::from(format!("/run/user/{}", user.uid));
    if is_root() {
        planted.dir(&run_user, 0o700, &user);
    }
    if std::fs::metadata(&run_user).is_ok_and(|m| m.uid() == user.uid) {
        let p = run_user.join(unique("planted"));
        planted.file(&p, "sbx-it-planted\n", 0o644, &user);
        visible_on_host.push(p);
    }
    let inside = Path::new("/tmp").join(unique("inside"));
    planted.watch(&inside);
    let script = format!(
        "for p in {}; do test -e $p && echo visible $p; cat $p 2>/dev/null; done; \
         echo x > {i} && cat {i}; echo ---; cat /proc/self/mountinfo",
        visible_on_host
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" "),
        i = inside.display()
    );
    let out = Sbx::rootless().args(sh(&script)).run().ok();
    let (head, mountinfo) = out.split_once("---\n").unwrap();
    assert_eq!(
        head, "x\n",
        "host files visible inside, or /tmp not writable"
    );
    assert!(!exists(&inside), "the sandbox's /tmp file reached the host");
    let mounts = parse_mounts(mountinfo);
    // The host's /tmp, /var/tmp and /run are on its root filesystem: tmpfs means sbx's own.
    for dir in ["/tmp", "/var/tmp", "/run", "/dev/shm"] {
        let m = mount_of(&mounts, &format!("{dir}/x"));
        assert_eq!(m.fstype, "tmpfs", "{dir}: {m:?}");
    }
}

#[test]
fn default_view_binds_the_current_directory_back_read_write() {
    let user = unprivileged_user();
    // A directory of its own that outlives the run (sbx's own is removed with it).
    let work = TestDir::new(Some(&user));
    let dir = work.path.clone();
    write_file(&dir.join("host-file"), "from-host\n", 0o644, &user);
    let mut sbx = Sbx::rootless().args(sh("pwd; cat ./host-file; touch ./x && echo touched"));
    sbx.cmd.current_dir(&dir);
    let out = sbx.run().ok();
    assert_eq!(out, format!("{}\nfrom-host\ntouched\n", dir.display()));
    let meta = dir.join("x").metadata().expect("./x on the host");
    assert_eq!((meta.uid(), meta.gid()), (user.uid, user.gid));
}

#[test]
fn default_view_hides_home_secrets() {
    let user = unprivileged_user();
    let home = user.home.clone();
    let mut planted = Planted::default();
    planted.dir(&home.join(".ssh"), 0o700, &user);
    let key = home.join(".ssh").join(unique("id_test"));
    planted.file(&key, "sbx-it-private-key\n", 0o600, &user);
    let secret = home.join(unique("secret"));
    planted.file(&secret, "sbx-it-secret-file\n", 0o600, &user);
    let script = format!(
        "for p in '{}' '{}'; do test -e \"$p\" && echo \"visible $p\"; cat \"$p\" 2>/dev/null; \
         done; test -d \"$HOME\" && echo home-is-dir; echo ---; ls -A \"$HOME\"",
        key.display(),
        secret.display()
    );
    let out = Sbx::rootless().args(sh(&script)).run().ok();
    let (head, listing) = out.split_once("---\n").unwrap();
    assert_eq!(head, "home-is-dir\n", "home secrets visible inside");
    for name in listing.split_whitespace() {
        assert!(
            TOOLCHAIN_DIRS.contains(&name),
            "~/{name} is visible inside: {listing}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(&key).unwrap(),
        "sbx-it-private-key\n"
    );
}

#[test]
fn default_view_keeps_a_unix_socket_in_home_out_of_reach() {
    if !require(have("python3"), "python3", "apt-get install python3") {
        return;
    }
    let user = unprivileged_user();
    let sock = user.home.join(format!("{}.sock", unique("sbx-test")));
    let _server = UnixServer::start(&sock, &user);
    // The test user reaches it on the host...
    let out = as_user(&user, "python3")
        .args(["-c", UNIX_CLIENT])
        .arg(&sock)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "connected");
    // ... but not from inside.
    let out = Sbx::rootless()
        .args(["--", "python3", "-c", UNIX_CLIENT, path_str(&sock)])
        .run()
        .ok();
    assert!(out.starts_with("connect-failed"), "{out}");
}

#[test]
fn default_view_brings_back_the_current_directory_inside_home() {
    let user = unprivileged_user();
    let mut planted = Planted::default();
    let name = unique("proj");
    let proj = user.home.join(&name);
    planted.dir(&proj, 0o755, &user);
    write_file(&proj.join("src"), "from-host\n", 0o644, &user);
    let mut sbx = Sbx::rootless().args(sh(
        "pwd; cat ./src; touch ./made && echo touched; echo ---; ls -A \"$HOME\"",
    ));
    sbx.cmd.current_dir(&proj);
    let out = sbx.run().ok();
    let (head, listing) = out.split_once("---\n").unwrap();
    assert_eq!(head, format!("{}\nfrom-host\ntouched\n", proj.display()));
    let meta = proj.join("made").metadata().expect("./made on the host");
    assert_eq!((meta.uid(), meta.gid()), (user.uid, user.gid));
    let seen: Vec<&str> = listing.split_whitespace().collect();
    assert!(seen.contains(&name.as_str()), "{listing}");
    for n in seen {
        assert!(
            n == name || TOOLCHAIN_DIRS.contains(&n),
            "~/{n} is visible inside: {listing}"
        );
    }
}

#[test]
fn default_view_brings_back_toolchain_dirs_copy_on_write() {
    let user = unprivileged_user();
    let home = user.home.clone();
    let mut planted = Planted::default();
    let cargo = home.join(".cargo");
    planted.dir(&cargo.join("bin"), 0o755, &user);
    let tool = unique("tool");
    let tool_text = "#!/bin/sh\necho tool-ran\n";
    planted.file(&cargo.join("bin").join(&tool), tool_text, 0o755, &user);
    planted.watch(&cargo.join("registry"));
    let cache = cargo.join("registry").join(unique("cache"));
    planted.watch(&cache);
    planted.dir(&home.join(".local/bin"), 0o755, &user);
    let ltool = unique("ltool");
    planted.file(
        &home.join(".local/bin").join(&ltool),
        "#!/bin/sh\necho local-tool-ran\n",
        0o755,
        &user,
    );
    planted.dir(&home.join(".local/share"), 0o755, &user);
    let hidden = home.join(".local/share").join(unique("data"));
    planted.file(&hidden, "sbx-it-local-share\n", 0o644, &user);
    let cargo_before = (names(&cargo), names(&cargo.join("bin")));
    let script = format!(
        "\"$HOME/.cargo/bin/{tool}\" && \"$HOME/.local/bin/{ltool}\" && \
         mkdir -p \"$HOME/.cargo/registry\" && echo cached > '{c}' && cat '{c}' && \
         echo '# changed inside' >> \"$HOME/.cargo/bin/{tool}\" && echo appended; \
         test -e '{h}' && echo share-visible; echo ---; ls -A \"$HOME/.local\"",
        c = cache.display(),
        h = hidden.display()
    );
    let out = Sbx::rootless().args(sh(&script)).run().ok();
    let (head, listing) = out.split_once("---\n").unwrap();
    assert_eq!(head, "tool-ran\nlocal-tool-ran\ncached\nappended\n");
    for n in listing.split_whitespace() {
        assert!(
            ["bin", "lib"].contains(&n),
            "~/.local/{n} is visible inside"
        );
    }
    assert!(!exists(&cache), "the write into ~/.cargo reached the host");
    assert_eq!(
        std::fs::read_to_string(cargo.join("bin").join(&tool)).unwrap(),
        tool_text
    );
    assert_eq!((names(&cargo), names(&cargo.join("bin"))), cargo_before);
}

#[test]
fn mask_hides_a_path_and_skips_a_missing_one() {
    let user = unprivileged_user();
    let data = TestDir::new(Some(&user));
    let secret = data.path.join("secret");
    make_dir(&secret, &user);
    write_file(&secret.join("key"), "sbx-it-masked-key\n", 0o600, &user);
    let file = data.path.join("file");
    write_file(&file, "sbx-it-masked-file\n", 0o644, &user);
    let (s, f) = (path_str(&secret), path_str(&file));
    // No `2>/dev/null`: the host's /dev, bound by `--ro-bind / /`, is nodev.
    let script = format!("cat '{s}/key'; ls -A '{s}'; cat '{f}'; echo done");
    // Without --mask the view shows them...
    let out = Sbx::rootless()
        .args(["--ro-bind", "/", "/"])
        .args(sh(&script))
        .run()
        .ok();
    assert_eq!(out, "sbx-it-masked-key\nkey\nsbx-it-masked-file\ndone\n");
    // ... with it, neither the directory's content nor the file's.
    let missing = format!("/nonexistent-{}", unique("mask"));
    let out = Sbx::rootless()
        .args([
            "--ro-bind",
            "/",
            "/",
            "--mask",
            s,
            "--mask",
            f,
            "--mask",
            missing.as_str(),
        ])
        .args(sh(&script))
        .run()
        .ok();
    assert_eq!(out, "done\n");
    assert_eq!(
        std::fs::read_to_string(secret.join("key")).unwrap(),
        "sbx-it-masked-key\n"
    );
    // --mask is not a view option: the default view, with /etc/passwd masked.
    let out = Sbx::rootless()
        .args(["--mask", "/etc/passwd"])
        .args(sh("cat /etc/passwd; echo done"))
        .run()
        .ok();
    assert_eq!(out, "done\n");
}

// ---------------------------------------------------------------------------------------------
// 9. Bad input.

#[test]
fn bad_filesystem_options_fail_before_anything_is_mounted() {
    let user = unprivileged_user();
    let data = TestDir::new(Some(&user));
    let d = path_str(&data.path);
    let missing = format!("/nonexistent-{}", unique("src"));
    let missing = missing.as_str();
    let marker = unique("bad-input");
    // Each case: the arguments, the options the message may name (one of them), the value.
    let cases: Vec<(Vec<&str>, &[&str], &str)> = vec![
        (vec!["--bind", missing, "/x"], &["--bind"], missing),
        (vec!["--ro-bind", missing, "/x"], &["--ro-bind"], missing),
        (vec!["--dev-bind", missing, "/x"], &["--dev-bind"], missing),
        (
            vec!["--tmpfs", "/a", "--dir", "/b", "--bind", missing, "/x"],
            &["--bind"],
            missing,
        ),
        (
            vec!["--overlay-src", missing, "--tmp-overlay", "/x"],
            &["--overlay-src", "--tmp-overlay"],
            missing,
        ),
        (
            vec!["--bind", d, "relative/dest"],
            &["--bind"],
            "relative/dest",
        ),
        (
            vec!["--tmpfs", "relative-tmp"],
            &["--tmpfs"],
            "relative-tmp",
        ),
        (vec!["--dir", "relative-dir"], &["--dir"], "relative-dir"),
        (vec!["--perms", "999", "--tmpfs", "/t"], &["--perms"], "999"),
        (vec!["--size", "12x", "--tmpfs", "/t"], &["--size"], "12x"),
        (vec!["--propagation", "bogus"], &["--propagation"], "bogus"),
    ];
    let before = host_mountinfo();
    for (args, options, value) in &cases {
        let cwd = TestDir::new(Some(&user));
        let mut sbx = Sbx::rootless().args(args).args([
            "--",
            "sh",
            "-c",
            "echo command-ran; touch ./ran",
            marker.as_str(),
        ]);
        sbx.cmd.current_dir(&cwd.path);
        let run = sbx.run();
        assert_eq!(run.code(), 125, "{args:?}: {}", run.stderr());
        let err = run.stderr();
        assert!(
            err.starts_with("sbx: ")
                && options.iter().any(|o| err.contains(o))
                && err.contains(value),
            "{args:?}: the message must name {options:?} and {value}: {err}"
        );
        assert!(run.stdout().is_empty(), "{args:?}: {}", run.stdout());
        assert!(
            names(&cwd.path).is_empty(),
            "{args:?} left files in the cwd"
        );
        assert!(names(&data.path).is_empty(), "{args:?} created files");
        assert_eq!(host_mountinfo(), before, "{args:?}");
        let left = Command::new("pgrep")
            .args(["-f", &marker])
            .output()
            .unwrap();
        assert!(
            left.stdout.is_empty(),
            "{args:?} left processes: {}",
            String::from_utf8_lossy(&left.stdout)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 10. --tmp-overlay on /usr.

#[test]
fn tmp_overlay_on_usr_takes_writes_and_leaves_the_host_usr_unchanged() {
    let path = Path::new("/usr").join(unique("sbx-overlay-test"));
    let mut planted = Planted::default();
    planted.watch(&path);
    let p = path_str(&path);
    let view = [
        "--ro-bind",
        "/",
        "/",
        "--overlay-src",
        "/usr",
        "--tmp-overlay",
        "/usr",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
    ];
    let out = Sbx::rootless()
        .args(view)
        .args(sh(&format!("touch {p} && ls {p}")))
        .run()
        .ok();
    assert_eq!(out.trim(), p);
    assert!(!exists(&path), "the write reached the host's /usr");
    let out = Sbx::rootless()
        .args(view)
        .args(sh(&format!("test -e {p} || echo gone; ls /usr/bin/sh")))
        .run()
        .ok();
    assert_eq!(out, "gone\n/usr/bin/sh\n");
}

// ---------------------------------------------------------------------------------------------
// 11 and 12. --root, and an explicit view built from parts.

#[test]
fn root_runs_a_small_tree() {
    let user = unprivileged_user();
    let Some(tree_dir) = busybox_tree(&user) else {
        return;
    };
    check_busybox_root(Sbx::rootless(), &tree_dir);
}

#[test]
fn explicit_view_shows_only_what_was_asked_for() {
    let merged = [
        ("bin", "usr/bin"),
        ("lib", "usr/lib"),
        ("lib64", "usr/lib64"),
    ]
    .iter()
    .all(|(link, target)| {
        std::fs::read_link(Path::new("/").join(link))
            .ok()
            .as_deref()
            == Some(Path::new(target))
    });
    if !require(
        merged,
        "a merged-/usr host (/bin, /lib, /lib64 symlinks into /usr)",
        "run the suite on Debian 12",
    ) {
        return;
    }
    let out = Sbx::rootless()
        .args(SYSTEM)
        .args(["--", "/bin/ls", "/"])
        .run()
        .ok();
    let seen: Vec<&str> = out.lines().collect();
    assert_eq!(seen, vec!["bin", "dev", "lib", "lib64", "proc", "usr"]);
}

// ---------------------------------------------------------------------------------------------
// The core points again, with sbx run by real root.

#[test]
fn as_root_default_view_shows_the_host_root_read_only() {
    let Some(sbx) = Sbx::as_root() else { return };
    let path = Path::new("/usr").join(unique("root-ro"));
    let mut planted = Planted::default();
    planted.watch(&path);
    let run = sbx
        .args(sh(&format!("touch {}; echo rc=$?", path.display())))
        .run();
    assert_eq!(run.ok(), "rc=1\n");
    assert!(
        run.stderr().contains("Read-only file system"),
        "{}",
        run.stderr()
    );
    assert!(!exists(&path), "root's sandbox wrote into the host's /usr");
}

#[test]
fn as_root_tmp_is_private() {
    let Some(sbx) = Sbx::as_root() else { return };
    let root = User {
        uid: 0,
        gid: 0,
        home: "/root".into(),
    };
    let mut planted = Planted::default();
    let host_file = Path::new("/tmp").join(unique("root-planted"));
    planted.file(&host_file, "sbx-it-planted\n", 0o644, &root);
    let inside = Path::new("/tmp").join(unique("root-inside"));
    planted.watch(&inside);
    let out = sbx
        .args(sh(&format!(
            "test -e {h} && echo visible; echo x > {i} && cat {i}",
            h = host_file.display(),
            i = inside.display()
        )))
        .run()
        .ok();
    assert_eq!(out, "x\n");
    assert!(
        !exists(&inside),
        "root's sandbox wrote into the host's /tmp"
    );
}

#[test]
fn as_root_root_runs_a_small_tree() {
    let Some(sbx) = Sbx::as_root() else { return };
    let root = User {
        uid: 0,
        gid: 0,
        home: "/root".into(),
    };
    let Some(tree_dir) = busybox_tree(&root) else {
        return;
    };
    check_busybox_root(sbx, &tree_dir);
}

#[test]
fn as_root_mounts_inside_leave_the_host_mount_table_unchanged() {
    if Sbx::as_root().is_none() {
        return;
    }
    let before = host_mountinfo();
    for mode in [None, Some("shared")] {
        let sbx = Sbx::as_root().unwrap();
        let sub = sbx.dir().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let mut sbx = sbx.args(["--cap-add", "CAP_SYS_ADMIN"]);
        if let Some(mode) = mode {
            sbx = sbx.args(["--propagation", mode]);
        }
        let mut sbx = sbx.args(sh("mount -t tmpfs sbx-it ./sub && touch ./sub/inside && \
                                   echo ready && read x && echo got $x"));
        // Dropped before sbx's directory: a mount that leaked onto the host goes first.
        let _unmount = UnmountOnDrop(sub.clone());
        let (child, out) = start_ready(&mut sbx);
        assert_eq!(host_mountinfo(), before, "--propagation {mode:?}");
        assert!(!exists(&sub.join("inside")), "--propagation {mode:?}");
        let (rest, code) = finish(child, out);
        assert_eq!((rest.trim(), code), ("got go", Some(0)));
        assert_eq!(host_mountinfo(), before, "--propagation {mode:?}");
    }
}
