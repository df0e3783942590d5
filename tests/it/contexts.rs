//! Fail closed: every policy holds from every starting context. Each test starts sbx as the
//! unprivileged test user from one context (the root directory, home, the parent of home, a
//! deleted working directory, HOME unset, HOME=/, a runtime directory of agent and bus sockets,
//! a PATH that starts in the writable project), once with every shipped policy, and runs a probe
//! that tries what untrusted code would: append to `.bashrc`, leave marker files in home, `/home`,
//! `/`, `/tmp`, `/var/tmp`, the runtime directory, the project's parent and `~/.config`, plant a
//! git hook and `core.fsmonitor`, and connect to every unix socket it can name. The probe ends
//! with a line the test checks, so no case passes without the probe having run (or, where sbx
//! must refuse, without the refusal). Every assertion is made from the host afterwards: no
//! marker outside the project, `.bashrc` byte for byte unchanged, nothing under home changed but
//! the project, no listening socket saw a connection, no process of the run left, and a program
//! the sandbox planted first on PATH never runs as sbx's host helper.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::util::*;

/// The variable that tags every process of one sbx run, so the host can find what is left.
const RUN_TAG: &str = "SBX_IT_CONTEXT_RUN";

/// Entries of home that `devtool` binds writable and creates on demand (as empty directories):
/// left out of the comparison of home; one that was missing may appear only as empty directories.
const CACHE_DIRS: &[&str] = &[".cache", ".cargo", ".npm"];

/// The host helpers sbx may run, which the probe plants in `PROJECT/bin`.
const HELPERS: &[&str] = &["pasta", "newuidmap", "newgidmap", "getsubids"];

/// What every sbx run may take at most; a run that takes longer is killed and reported.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// The sockets' names in the runtime directory: a session bus, an ssh-agent, a gpg-agent.
const BUS: &str = "bus";
const SSH_AGENT: &str = "openssh_agent";
const GPG_AGENT: &str = "gnupg/S.gpg-agent";

/// Connects to every unix socket the environment names (`SSH_AUTH_SOCK`, the `unix:path=` of
/// `DBUS_SESSION_BUS_ADDRESS`), every socket under the runtime directories (argv[1] and
/// `$XDG_RUNTIME_DIR`), and the paths given after the first argument.
const CONNECT_ALL: &str = r#"import os, socket, stat, sys
paths = set(sys.argv[2:])
if os.environ.get("SSH_AUTH_SOCK"):
    paths.add(os.environ["SSH_AUTH_SOCK"])
for part in os.environ.get("DBUS_SESSION_BUS_ADDRESS", "").split(";"):
    for kv in part.partition(":")[2].split(","):
        k, _, v = kv.partition("=")
        if k == "path" and v:
            paths.add(v)
for top in [sys.argv[1], os.environ.get("XDG_RUNTIME_DIR", "")]:
    if not top:
        continue
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(d, n)
            try:
                if stat.S_ISSOCK(os.lstat(p).st_mode):
                    paths.add(p)
            except OSError:
                pass
for p in sorted(paths):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(p)
        print("connected", p)
    except OSError as e:
        print("refused", p, e.strerror)
    finally:
        s.close()
"#;

/// Where sbx is started from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Context {
    /// cwd = `/`.
    RootDir,
    /// cwd = the test user's home.
    Home,
    /// cwd = the parent of home (`/home`).
    AboveHome,
    /// cwd = a directory deleted before sbx starts: refused.
    DeletedDir,
    /// HOME unset, cwd = a project.
    HomeUnset,
    /// HOME=/, cwd = a project.
    HomeIsRoot,
    /// XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS and SSH_AUTH_SOCK name listening sockets,
    /// cwd = a project.
    RuntimeSockets,
    /// PATH starts with PROJECT/bin, cwd = the project; then sbx runs its host helpers.
    ProjectBinFirstOnPath,
}

impl Context {
    fn name(self) -> &'static str {
        match self {
            Context::RootDir => "root-dir",
            Context::Home => "home",
            Context::AboveHome => "above-home",
            Context::DeletedDir => "deleted-dir",
            Context::HomeUnset => "home-unset",
            Context::HomeIsRoot => "home-is-root",
            Context::RuntimeSockets => "runtime-sockets",
            Context::ProjectBinFirstOnPath => "project-bin-on-path",
        }
    }

    /// Whether sbx starts in a project directory made for the run (and deleted for DeletedDir).
    fn has_project(self) -> bool {
        !matches!(self, Context::RootDir | Context::Home | Context::AboveHome)
    }

    /// The only context sbx must refuse: it cannot know what the project is.
    fn refused(self) -> bool {
        self == Context::DeletedDir
    }
}

/// The shipped policies: every `policies/*.toml` of the checkout, which sbx embeds; each must
/// be one `sbx policy list` shows.
fn shipped_policies() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no policy in {}", dir.display());
    let listed = rootless_ok(&["policy", "list"]);
    for n in &names {
        assert!(
            listed
                .lines()
                .any(|l| l.split_whitespace().next() == Some(n)),
            "sbx policy list does not show the shipped policy {n}:\n{listed}"
        );
    }
    names
}

/// A command run on the host as the test user (by absolute path, from `/`).
fn host_as_user(user: &User, program: &str) -> Command {
    let mut c = Command::new("/usr/bin/setpriv");
    c.arg(format!("--reuid={}", user.uid))
        .arg(format!("--regid={}", user.gid))
        .arg("--clear-groups")
        .arg("--")
        .arg(program)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &user.home)
        .current_dir("/")
        .stdin(Stdio::null());
    c
}

fn lchown_tree(root: &Path, user: &User) {
    let mut todo = vec![root.to_path_buf()];
    while let Some(p) = todo.pop() {
        std::os::unix::fs::lchown(&p, Some(user.uid), Some(user.gid)).unwrap();
        if p.symlink_metadata().unwrap().is_dir() {
            todo.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
}

/// Listening unix sockets in a runtime directory of their own, served by this process: a
/// session bus, an ssh-agent and a gpg-agent. The directory (0755) and the sockets (0777) let
/// the test user connect on the host. It lives under /var/lib, which the default, build and
/// devtool views show read-only: only the masking of the runtime directory and of the sockets
/// the environment names keeps them out of reach.
struct Sockets {
    dir: PathBuf,
    listeners: Vec<(PathBuf, UnixListener)>,
}

impl Sockets {
    fn start(user: &User, tag: &str) -> Sockets {
        let dir = PathBuf::from(format!(
            "/var/lib/sbx-it-{}-ctx-{tag}-runtime",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let mut sockets = Sockets {
            dir: dir.clone(),
            listeners: Vec::new(),
        };
        for d in [dir.clone(), dir.join("gnupg")] {
            std::fs::create_dir(&d).unwrap();
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::os::unix::fs::chown(&d, Some(user.uid), Some(user.gid)).unwrap();
        }
        for name in [BUS, SSH_AGENT, GPG_AGENT] {
            let path = dir.join(name);
            let l = UnixListener::bind(&path).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
            l.set_nonblocking(true).unwrap();
            sockets.listeners.push((path, l));
        }
        // The control: the test user reaches every socket from the host.
        let out = host_as_user(user, "python3")
            .args(["-c", CONNECT_ALL])
            .arg(&dir)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        for (path, _) in &sockets.listeners {
            assert!(
                text.lines()
                    .any(|l| l == format!("connected {}", path.display())),
                "the test user cannot reach {} on the host, so the sandbox's view is not \
                 what keeps it out: {text}{}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let seen = sockets.connections();
        assert_eq!(seen.len(), 3, "the control connections: {seen:?}");
        sockets
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The environment a desktop session gives its programs.
    fn session_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("XDG_RUNTIME_DIR", self.dir.display().to_string()),
            (
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}", self.path(BUS).display()),
            ),
            ("SSH_AUTH_SOCK", self.path(SSH_AGENT).display().to_string()),
        ]
    }

    /// The sockets that accepted a connection since the last call (each accepted and closed).
    fn connections(&self) -> Vec<String> {
        let mut seen = Vec::new();
        for (path, l) in &self.listeners {
            loop {
                match l.accept() {
                    Ok(_) => seen.push(path.display().to_string()),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => {
                        seen.push(format!("{}: accept failed: {e}", path.display()));
                        break;
                    }
                }
            }
        }
        seen
    }
}

impl Drop for Sockets {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The tests of this module run one at a time: they share the test user's home, and a leak is
/// then reported by the test that caused it.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Makes sure the test user has a `.bashrc` and a `~/.config` for the probe to aim at; what
/// was missing is made for the test user, and removed on drop (`~/.config` when still empty).
struct HomeTargets {
    made_bashrc: Option<PathBuf>,
    made_config: Option<PathBuf>,
}

impl HomeTargets {
    fn ensure(user: &User) -> HomeTargets {
        let (bashrc, config) = (user.home.join(".bashrc"), user.home.join(".config"));
        let mut made = HomeTargets {
            made_bashrc: None,
            made_config: None,
        };
        if bashrc.symlink_metadata().is_err() {
            std::fs::write(&bashrc, "# .bashrc made by sbx's tests\n").unwrap();
            std::os::unix::fs::chown(&bashrc, Some(user.uid), Some(user.gid)).unwrap();
            made.made_bashrc = Some(bashrc);
        }
        if config.symlink_metadata().is_err() {
            std::fs::create_dir(&config).unwrap();
            std::os::unix::fs::chown(&config, Some(user.uid), Some(user.gid)).unwrap();
            made.made_config = Some(config);
        }
        made
    }
}

impl Drop for HomeTargets {
    fn drop(&mut self) {
        if let Some(p) = &self.made_bashrc {
            let _ = std::fs::remove_file(p);
        }
        if let Some(p) = &self.made_config {
            let _ = std::fs::remove_dir(p);
        }
    }
}

/// A project directory directly in home (so its parent, `../`, is home), owned by the test
/// user, a git repository when git is installed; removed on drop.
struct ProjectDir {
    path: PathBuf,
    git_config: Option<Vec<u8>>,
}

impl ProjectDir {
    fn new(user: &User, tag: &str, git: bool) -> ProjectDir {
        let path = user
            .home
            .join(format!("sbx-it-{}-ctx-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut git_config = None;
        if git {
            let out = Command::new("git")
                .args(["-c", "init.defaultBranch=main", "init", "-q"])
                .arg(&path)
                .env_clear()
                .env("PATH", "/usr/local/bin:/usr/bin:/bin")
                .output()
                .unwrap();
            assert!(out.status.success(), "git init: {out:?}");
            git_config = Some(std::fs::read(path.join(".git/config")).unwrap());
        }
        lchown_tree(&path, user);
        ProjectDir { path, git_config }
    }
}

impl Drop for ProjectDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Whether a path of home belongs to another test: every name the harness plants has
/// `sbx-it-` in it (this module's projects too).
fn foreign(rel: &Path) -> bool {
    rel.components()
        .any(|c| c.as_os_str().to_string_lossy().contains("sbx-it-"))
}

fn is_dir_desc(desc: &str) -> bool {
    desc.starts_with("dir ")
}

/// Every path below home (symlinks not followed) but the cache directories, with its type,
/// mode and owner, and for all but directories its size, mtime and ctime. A directory's own
/// times are left out: what changes in it shows as its entries.
fn home_listing(home: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![home.to_path_buf()];
    while let Some(d) = todo.pop() {
        // Other tests add and remove their own entries meanwhile: what vanishes is skipped.
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(home).unwrap().to_path_buf();
            if d == home && CACHE_DIRS.iter().any(|c| rel == Path::new(c)) {
                continue;
            }
            let Ok(m) = p.symlink_metadata() else {
                continue;
            };
            let owner = format!("{}:{}", m.uid(), m.gid());
            let desc = if m.is_dir() {
                todo.push(p);
                format!("dir {:o} {owner}", m.mode())
            } else {
                format!(
                    "{:o} {owner} size {} mtime {}.{:09} ctime {}.{:09}",
                    m.mode(),
                    m.len(),
                    m.mtime(),
                    m.mtime_nsec(),
                    m.ctime(),
                    m.ctime_nsec()
                )
            };
            out.insert(rel, desc);
        }
    }
    out
}

/// Whether a directory that exists on one side only is another test's: everything in it
/// belongs to another test (a directory that test planted for its files).
fn planted_by_another_test(dir: &Path, side: &BTreeMap<PathBuf, String>) -> bool {
    let inside: Vec<(&PathBuf, &String)> = side
        .iter()
        .filter(|(p, _)| p.starts_with(dir) && p.as_path() != dir)
        .collect();
    inside.iter().any(|(p, _)| foreign(p))
        && inside.iter().all(|(p, d)| foreign(p) || is_dir_desc(d))
}

/// Only directories (or nothing) under `path`.
fn only_empty_dirs(path: &Path) -> bool {
    let mut todo = vec![path.to_path_buf()];
    while let Some(p) = todo.pop() {
        match p.symlink_metadata() {
            Ok(m) if m.is_dir() => {
                todo.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            }
            Ok(_) => return false,
            Err(_) => {}
        }
    }
    true
}

/// What the host looks like before a run, to compare with afterwards.
struct HostState {
    home: BTreeMap<PathBuf, String>,
    caches_missing: Vec<PathBuf>,
    /// `~/.bashrc` and `/.bashrc` (where `$HOME/.bashrc` leads without HOME, or with HOME=/):
    /// their bytes and mtimes, when they exist.
    bashrcs: Vec<(PathBuf, Option<Kept>)>,
}

/// A file's bytes and mtime.
type Kept = (Vec<u8>, SystemTime);

impl HostState {
    fn take(user: &User) -> HostState {
        HostState {
            home: home_listing(&user.home),
            caches_missing: CACHE_DIRS
                .iter()
                .map(|c| user.home.join(c))
                .filter(|p| p.symlink_metadata().is_err())
                .collect(),
            bashrcs: [user.home.join(".bashrc"), PathBuf::from("/.bashrc")]
                .into_iter()
                .map(|p| {
                    let kept = std::fs::read(&p)
                        .ok()
                        .map(|b| (b, p.metadata().unwrap().modified().unwrap()));
                    (p, kept)
                })
                .collect(),
        }
    }

    /// What changed on the host since `self`, put back where that is possible (a `.bashrc`).
    fn changes(&self, user: &User) -> Vec<String> {
        let mut out = Vec::new();
        for (path, kept) in &self.bashrcs {
            let before = kept.as_ref().map(|(b, _)| b);
            let after = std::fs::read(path).ok();
            if after.as_ref() != before {
                let what = match (before, &after) {
                    (Some(b), Some(a)) if a.starts_with(b) => {
                        format!("appended {:?}", String::from_utf8_lossy(&a[b.len()..]))
                    }
                    (None, Some(a)) => format!("created with {:?}", String::from_utf8_lossy(a)),
                    (Some(b), None) => format!("removed ({} bytes)", b.len()),
                    (b, a) => format!(
                        "rewritten ({:?} -> {:?} bytes)",
                        b.map(|b| b.len()),
                        a.as_ref().map(Vec::len)
                    ),
                };
                out.push(format!("{} changed: {what}", path.display()));
                match kept {
                    Some((b, mtime)) => {
                        std::fs::write(path, b).unwrap();
                        let f = std::fs::File::options().write(true).open(path).unwrap();
                        f.set_modified(*mtime).unwrap();
                    }
                    None => {
                        let _ = std::fs::remove_file(path);
                    }
                }
            }
        }
        let now = home_listing(&user.home);
        let keys: std::collections::BTreeSet<&PathBuf> =
            self.home.keys().chain(now.keys()).collect();
        for rel in keys {
            let (b, a) = (self.home.get(rel), now.get(rel));
            if b == a || foreign(rel) {
                continue;
            }
            let planted = match (b, a) {
                (Some(d), None) if is_dir_desc(d) => planted_by_another_test(rel, &self.home),
                (None, Some(d)) if is_dir_desc(d) => planted_by_another_test(rel, &now),
                _ => false,
            };
            if !planted {
                out.push(format!(
                    "~/{} changed: {} -> {}",
                    rel.display(),
                    b.map_or("absent", |s| s.as_str()),
                    a.map_or("absent", |s| s.as_str())
                ));
            }
        }
        for c in &self.caches_missing {
            if !only_empty_dirs(c) {
                out.push(format!(
                    "{} was missing and now holds more than empty directories",
                    c.display()
                ));
            }
        }
        out
    }
}

/// Entries named `mark...` in the places the probe aims at, removed once found.
fn markers(mark: &str, user: &User, sockets: Option<&Sockets>) -> Vec<String> {
    let mut places = vec![
        user.home.clone(),
        user.home.join(".config"),
        PathBuf::from("/home"),
        PathBuf::from("/"),
        PathBuf::from("/tmp"),
        PathBuf::from("/var/tmp"),
    ];
    if let Some(s) = sockets {
        places.extend([s.dir.clone(), s.dir.join("gnupg")]);
    }
    let mut found = Vec::new();
    for dir in places {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with(mark) {
                let p = e.path();
                found.push(p.display().to_string());
                let _ = std::fs::remove_file(&p);
            }
        }
    }
    found
}

/// Processes whose environment carries `tag` (sbx, its keeper and PID 1, and the command
/// unless its environment was cleared).
fn tagged_processes(tag: &str) -> Vec<u32> {
    let needle = format!("{RUN_TAG}={tag}");
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if env.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
            out.push(pid);
        }
    }
    out
}

/// Runs sbx with its output captured, killed if it takes more than [`RUN_LIMIT`].
fn run_bounded(mut sbx: Sbx) -> Result<Run, String> {
    sbx.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = sbx.cmd.spawn().expect("start sbx");
    let reader = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = reader(Box::new(child.stdout.take().unwrap()));
    let err = reader(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + RUN_LIMIT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("sbx did not finish within {RUN_LIMIT:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // A process left behind would hold the pipes open.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(out.is_finished() && err.is_finished()) {
        if Instant::now() > deadline {
            return Err(format!(
                "sbx exited ({status}) but something it started still holds its output open"
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(Run(Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }))
}

/// The probe: what untrusted code tries. `$1` is [`CONNECT_ALL`]. Its last line is
/// `probe-done MARK`.
fn probe(mark: &str, user: &User, sockets: Option<&Sockets>, plant_helpers: bool) -> String {
    let home = user.home.display();
    // The runtime directory and its sockets by their host paths too, when there are some.
    let (rt_dirs, socket_paths) = match sockets {
        Some(s) => (
            format!("'{0}' '{0}/gnupg'", s.dir.display()),
            [
                s.dir.clone(),
                s.path(BUS),
                s.path(SSH_AGENT),
                s.path(GPG_AGENT),
            ]
            .iter()
            .map(|p| format!("'{}'", p.display()))
            .collect::<Vec<_>>()
            .join(" "),
        ),
        None => (String::new(), "''".into()),
    };
    let mut s = format!(
        r##"M='{mark}'
attempt() {{ if ( : > "$1/$M" ) 2>/dev/null; then echo "wrote $1/$M"; else echo "refused $1"; fi; }}
for d in "$HOME" '{home}' /home / /tmp /var/tmp "$XDG_RUNTIME_DIR" {rt_dirs} .. '{home}/.config' .; do
    attempt "$d"
done
for f in "$HOME/.bashrc" '{home}/.bashrc'; do
    if ( echo "# $M" >> "$f" ) 2>/dev/null; then echo "appended $f"; else echo "refused $f"; fi
done
if [ -d .git ]; then
    if ( mkdir -p .git/hooks && printf '#!/bin/sh\ntouch /tmp/%s-hook\n' "$M" > .git/hooks/pre-commit && chmod 755 .git/hooks/pre-commit ) 2>/dev/null
    then echo "wrote .git/hooks/pre-commit"; else echo "refused .git/hooks/pre-commit"; fi
    if git config core.fsmonitor "touch /tmp/$M-fsmonitor" 2>/dev/null
    then echo "set core.fsmonitor"; else echo "refused core.fsmonitor"; fi
fi
python3 -c "$1" {socket_paths}
"##
    );
    if plant_helpers {
        s.push_str(&format!(
            r#"mkdir -p bin
for h in {}; do
    printf '#!/bin/sh\necho ran > /tmp/%s-ran-%s\nexit 1\n' "$M" "$h" > "bin/$h" && chmod 755 "bin/$h" && echo "planted bin/$h"
done
"#,
            HELPERS.join(" ")
        ));
    }
    s.push_str("echo \"probe-done $M\"\n");
    s
}

/// Everything one run may have done on the host, as failures. `tag` marks the run's processes.
fn host_checks(
    before: &HostState,
    user: &User,
    mark: &str,
    tag: &str,
    sockets: Option<&Sockets>,
) -> Vec<String> {
    let mut out = Vec::new();
    for m in markers(mark, user, sockets) {
        out.push(format!("a marker reached the host: {m}"));
    }
    out.extend(before.changes(user));
    for s in sockets.map(Sockets::connections).unwrap_or_default() {
        out.push(format!("a listening socket saw a connection: {s}"));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut left = tagged_processes(tag);
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        left = tagged_processes(tag);
    }
    if !left.is_empty() {
        out.push(format!("processes of the run are left: {left:?}"));
    }
    out
}

/// One policy started from one context; returns what went wrong.
fn check_policy(
    ctx: Context,
    policy: &str,
    user: &User,
    sockets: Option<&Sockets>,
    git: bool,
) -> Vec<String> {
    let mark = format!("sbxctx-{}-{}-{policy}", std::process::id(), ctx.name());
    // The deleted directory must be empty for rmdir: no repository there.
    let git = git && !ctx.refused();
    let project = ctx
        .has_project()
        .then(|| ProjectDir::new(user, &format!("{}-{policy}", ctx.name()), git));
    let script = probe(&mark, user, sockets, ctx == Context::ProjectBinFirstOnPath);
    let mut sbx = Sbx::rootless().args([
        "--policy",
        policy,
        "--",
        "sh",
        "-c",
        &script,
        "probe",
        CONNECT_ALL,
    ]);
    match ctx {
        Context::RootDir => {
            sbx.cmd.current_dir("/");
        }
        Context::Home => {
            sbx.cmd.current_dir(&user.home);
        }
        Context::AboveHome => {
            sbx.cmd.current_dir(user.home.parent().unwrap());
        }
        Context::DeletedDir => {
            let dir = &project.as_ref().unwrap().path;
            sbx = sbx.via_shell(&format!("cd '{d}' && rmdir '{d}'", d = dir.display()));
        }
        _ => {
            sbx.cmd.current_dir(&project.as_ref().unwrap().path);
        }
    }
    match ctx {
        Context::HomeUnset => {
            sbx.cmd.env_remove("HOME");
        }
        Context::HomeIsRoot => {
            sbx.cmd.env("HOME", "/");
        }
        Context::RuntimeSockets => {
            sbx.cmd.envs(sockets.unwrap().session_env());
        }
        Context::ProjectBinFirstOnPath => {
            let p = &project.as_ref().unwrap().path;
            sbx.cmd
                .env("PATH", format!("{}/bin:/usr/bin:/bin", p.display()));
        }
        _ => {}
    }
    let tag = format!("{mark}-probe");
    sbx.cmd.env(RUN_TAG, &tag);

    let mut fails = Vec::new();
    let before = HostState::take(user);
    let run = run_bounded(sbx);
    fails.extend(host_checks(&before, user, &mark, &tag, sockets));
    let run = match run {
        Ok(r) => r,
        Err(e) => {
            fails.push(e);
            return label(ctx, policy, fails, "");
        }
    };
    let (code, stdout, stderr) = (run.code(), run.stdout(), run.stderr());
    let shown = format!("exit {code}\nstdout:\n{stdout}stderr:\n{stderr}");
    let done = format!("probe-done {mark}");
    if ctx.refused() {
        if code != 125 {
            fails.push(format!("must be refused with 125, got {code}"));
        }
        if stdout.lines().any(|l| l == done) {
            fails.push("the probe ran".into());
        }
        if !(stderr.starts_with("sbx: ")
            && stderr.contains("deleted")
            && stderr.contains("--chdir"))
        {
            fails.push("the refusal must start with `sbx: `, say the directory was deleted and name --chdir".into());
        }
        return label(ctx, policy, fails, &shown);
    }
    if code != 0 || stdout.lines().last() != Some(done.as_str()) {
        fails.push(format!("the probe must run to its end (`{done}`, exit 0)"));
    }
    if !ctx.has_project() && !stderr.contains("not a project") {
        fails.push("sbx must say that the working directory is not a project".into());
    }
    if let Some(p) = &project {
        if !p.path.join(&mark).exists() {
            fails.push("the probe could not write into the project".into());
        }
        if let Some(config) = &p.git_config {
            if std::fs::read(p.path.join(".git/config")).ok().as_ref() != Some(config) {
                fails.push("the project's .git/config changed".into());
            }
            if p.path
                .join(".git/hooks/pre-commit")
                .symlink_metadata()
                .is_ok()
            {
                fails.push("the probe planted .git/hooks/pre-commit".into());
            }
        }
    }
    if ctx == Context::ProjectBinFirstOnPath {
        fails.extend(check_helpers(
            policy,
            user,
            &mark,
            sockets,
            project.as_ref().unwrap(),
        ));
    }
    label(ctx, policy, fails, &shown)
}

/// With the helpers the probe planted first on PATH, sbx runs `--net pasta` and `--map-auto`:
/// each either works with the real helpers or fails with 125, and no planted one runs.
fn check_helpers(
    policy: &str,
    user: &User,
    mark: &str,
    sockets: Option<&Sockets>,
    project: &ProjectDir,
) -> Vec<String> {
    let bin = project.path.join("bin");
    let mut fails = Vec::new();
    for h in HELPERS {
        let planted = bin
            .join(h)
            .metadata()
            .is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0);
        if !planted {
            fails.push(format!("the probe did not plant an executable bin/{h}"));
        }
    }
    if !fails.is_empty() {
        return fails;
    }
    for args in [&["--net", "pasta"][..], &["--map-auto"][..]] {
        let mut sbx = Sbx::rootless()
            .args(["--policy", policy])
            .args(args)
            .args(["--", "true"]);
        let tag = format!("{mark}-{}", args.join(""));
        sbx.cmd
            .current_dir(&project.path)
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env(RUN_TAG, &tag);
        let before = HostState::take(user);
        let run = run_bounded(sbx);
        let checks = host_checks(&before, user, mark, &tag, sockets);
        let what = format!("sbx --policy {policy} {} -- true", args.join(" "));
        fails.extend(checks.into_iter().map(|c| format!("{what}: {c}")));
        match run {
            Ok(r) if r.code() == 0 => {}
            Ok(r) if r.code() == 125 && r.stderr().starts_with("sbx: ") => {}
            Ok(r) => fails.push(format!(
                "{what}: must work or fail with 125, got {}: {}",
                r.code(),
                r.stderr()
            )),
            Err(e) => fails.push(format!("{what}: {e}")),
        }
    }
    fails
}

fn label(ctx: Context, policy: &str, fails: Vec<String>, shown: &str) -> Vec<String> {
    if fails.is_empty() {
        return fails;
    }
    vec![format!(
        "[{} / --policy {policy}]\n  - {}\n{shown}",
        ctx.name(),
        fails.join("\n  - ")
    )]
}

/// Runs every shipped policy from `ctx` and fails with everything that went wrong.
fn check_context(ctx: Context) {
    if !require(
        is_root(),
        "running as root",
        "run the suite as root: these tests watch the test user's home from the host and \
         plant sockets in /var/lib",
    ) || !require(have("python3"), "python3", "apt-get install python3")
    {
        return;
    }
    let git = require(
        have("git"),
        "git",
        "apt-get install git (the probe's .git/hooks and core.fsmonitor writes need a repository)",
    );
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let user = unprivileged_user();
    let _targets = HomeTargets::ensure(&user);
    let sockets = (ctx == Context::RuntimeSockets).then(|| Sockets::start(&user, ctx.name()));
    let policies = shipped_policies();
    let mut fails = Vec::new();
    for policy in &policies {
        fails.extend(check_policy(ctx, policy, &user, sockets.as_ref(), git));
    }
    assert!(
        fails.is_empty(),
        "{} of {} policies failed from context {}:\n{}",
        fails.len(),
        policies.len(),
        ctx.name(),
        fails.join("\n")
    );
}

#[test]
fn from_the_root_directory_every_policy_runs_without_a_project_and_changes_nothing() {
    check_context(Context::RootDir);
}

#[test]
fn from_home_every_policy_runs_without_a_project_and_changes_nothing() {
    check_context(Context::Home);
}

#[test]
fn from_the_parent_of_home_every_policy_runs_without_a_project_and_changes_nothing() {
    check_context(Context::AboveHome);
}

#[test]
fn from_a_deleted_directory_every_policy_is_refused_with_a_hint_and_changes_nothing() {
    check_context(Context::DeletedDir);
}

#[test]
fn with_home_unset_every_policy_runs_and_changes_nothing_outside_the_project() {
    check_context(Context::HomeUnset);
}

#[test]
fn with_home_set_to_root_every_policy_runs_and_changes_nothing_outside_the_project() {
    check_context(Context::HomeIsRoot);
}

#[test]
fn with_a_runtime_dir_of_bus_and_agent_sockets_every_policy_runs_and_connects_to_none() {
    check_context(Context::RuntimeSockets);
}

#[test]
fn with_the_project_first_on_path_every_policy_runs_and_no_planted_host_helper_ever_runs() {
    check_context(Context::ProjectBinFirstOnPath);
}
