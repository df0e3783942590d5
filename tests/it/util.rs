//! The test harness: runs the real `sbx` binary as an unprivileged user (dropping from root with
//! setpriv when the suite runs as root) or as root, each test in a directory of its own.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// The unprivileged user the suite runs sbx as when it runs as root (`.ci/run` creates it).
pub fn test_user() -> String {
    std::env::var("SBX_TEST_USER").unwrap_or_else(|_| "sbxtest".into())
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

/// A missing prerequisite: fail under CI, otherwise say loudly that the test did not run.
/// Returns false when the test must stop.
pub fn require(ok: bool, what: &str, fix: &str) -> bool {
    if ok {
        return true;
    }
    let msg = format!("prerequisite missing: {what}. {fix}");
    if in_ci() {
        panic!("{msg}");
    }
    eprintln!("SKIPPED (not under CI): {msg}");
    false
}

/// uid, gid and home of the test user, when the suite runs as root.
#[derive(Clone, Debug)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

pub fn unprivileged_user() -> User {
    if !is_root() {
        return User {
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            home: std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| "/".into()),
        };
    }
    let name = test_user();
    let user = nix::unistd::User::from_name(&name)
        .ok()
        .flatten()
        .unwrap_or_else(|| {
            panic!(
                "the suite runs as root and needs the unprivileged user {name:?}: run .ci/setup \
             (or `useradd -m {name}` and give it 100000:65536 in /etc/subuid and /etc/subgid)"
            )
        });
    User {
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        home: user.dir,
    }
}

/// The sbx binary, copied once to a place every user can execute (the checkout may be in a
/// directory the test user cannot enter).
pub fn sbx_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("sbx-it-bin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin = dir.join("sbx");
        std::fs::copy(env!("CARGO_BIN_EXE_sbx"), &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        bin
    })
}

/// A directory for one test, owned by the user that runs sbx in it; removed on drop.
pub struct TestDir {
    pub path: PathBuf,
}

impl TestDir {
    pub fn new(owner: Option<&User>) -> TestDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("sbx-it-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        if let Some(u) = owner {
            std::os::unix::fs::chown(&path, Some(u.uid), Some(u.gid)).unwrap();
        }
        TestDir { path }
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// One sbx invocation.
pub struct Sbx {
    pub cmd: Command,
    _dir: TestDir,
}

impl Sbx {
    /// sbx run by the unprivileged test user, in a directory of its own.
    pub fn rootless() -> Sbx {
        Sbx::as_user(unprivileged_user())
    }

    /// sbx run by the user `name` (the suite must run as root).
    pub fn as_named_user(name: &str) -> Option<Sbx> {
        if !require(
            is_root(),
            "running as root",
            "run the suite as root to switch to other test users",
        ) {
            return None;
        }
        let u = nix::unistd::User::from_name(name)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("the test user {name:?} is missing: run .ci/setup"));
        Some(Sbx::as_user(User {
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            home: u.dir,
        }))
    }

    fn as_user(user: User) -> Sbx {
        let dir = TestDir::new(Some(&user));
        let mut cmd = if is_root() {
            // By absolute path, so that a test may change PATH for sbx alone.
            let mut c = Command::new("/usr/bin/setpriv");
            c.arg(format!("--reuid={}", user.uid))
                .arg(format!("--regid={}", user.gid))
                .arg("--clear-groups")
                .arg("--inh-caps=-all")
                .arg("--")
                .arg(sbx_bin());
            c
        } else {
            Command::new(sbx_bin())
        };
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", &user.home)
            .env("SHELL", "/bin/sh")
            .env("LANG", "C.UTF-8")
            .current_dir(&dir.path)
            .stdin(Stdio::null());
        Sbx { cmd, _dir: dir }
    }

    /// sbx run by real root. Returns None (after saying why) when the suite is not root.
    pub fn as_root() -> Option<Sbx> {
        if !require(
            is_root(),
            "running as root",
            "run the suite as root (sudo) to cover sbx run by root",
        ) {
            return None;
        }
        let dir = TestDir::new(None);
        let mut cmd = Command::new(sbx_bin());
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("HOME", "/root")
            .env("SHELL", "/bin/sh")
            .current_dir(&dir.path)
            .stdin(Stdio::null());
        Some(Sbx { cmd, _dir: dir })
    }

    pub fn dir(&self) -> &Path {
        &self._dir.path
    }

    pub fn args<I, S>(mut self, args: I) -> Sbx
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Runs sbx through `sh -c 'PREFIX && exec "$@"'`, e.g. to open fds before sbx starts.
    /// Arguments added afterwards still go to sbx.
    pub fn via_shell(self, prefix: &str) -> Sbx {
        self.wrapped(&["sh"], prefix)
    }

    /// Runs sbx through `WRAPPER... -c 'PREFIX && exec "$@"'`, where WRAPPER ends in a shell.
    pub fn wrapped(mut self, wrapper: &[&str], prefix: &str) -> Sbx {
        let old = std::mem::replace(&mut self.cmd, Command::new(wrapper[0]));
        self.cmd
            .args(&wrapper[1..])
            .arg("-c")
            .arg(format!("{prefix} && exec \"$@\""))
            .arg("sh")
            .arg(old.get_program())
            .args(old.get_args())
            .env_clear()
            .envs(old.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
            .current_dir(old.get_current_dir().unwrap())
            .stdin(Stdio::null());
        self
    }

    pub fn run(mut self) -> Run {
        let out = self.cmd.output().expect("start sbx");
        Run(out)
    }
}

/// The outcome of one run.
pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0
            .status
            .code()
            .unwrap_or_else(|| panic!("sbx was killed: {:?}", self.0.status))
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> String {
        assert_eq!(
            self.code(),
            0,
            "sbx failed.\nstdout: {}\nstderr: {}",
            self.stdout(),
            self.stderr()
        );
        self.stdout()
    }
}

/// Runs `sbx ARGS` rootless and returns stdout, asserting success.
#[track_caller]
pub fn rootless_ok(args: &[&str]) -> String {
    Sbx::rootless().args(args).run().ok()
}

/// The namespace links of a process on the host, e.g. `net:[4026531840]`.
pub fn host_ns(pid: u32, ns: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Whether a command exists on the host.
pub fn have(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Descendants of `pid` on the host (from /proc), zombies excluded.
pub fn live_descendants(pid: u32) -> Vec<u32> {
    let mut procs: Vec<(u32, u32, char)> = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let rest: Vec<&str> = stat[close + 2..].split(' ').collect();
        let state = rest[0].chars().next().unwrap_or('?');
        let ppid = rest[1].parse().unwrap_or(0);
        procs.push((p, ppid, state));
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for &(p, pp, state) in &procs {
            if pp == parent && !out.contains(&p) {
                frontier.push(p);
                if state != 'Z' && state != 'X' {
                    out.push(p);
                }
            }
        }
    }
    out
}

/// A tiny shell-like split for test tables: single quotes group words.
pub fn shell_words(case: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in case.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// /usr read-only with the merged-/usr symlinks (Debian 12), a fresh /proc and a minimal /dev:
/// the least an explicit view needs to run `sh`.
pub const SYSTEM: &[&str] = &[
    "--ro-bind",
    "/usr",
    "/usr",
    "--symlink",
    "usr/bin",
    "/bin",
    "--symlink",
    "usr/lib",
    "/lib",
    "--symlink",
    "usr/lib64",
    "/lib64",
    "--proc",
    "/proc",
    "--dev",
    "/dev",
];
