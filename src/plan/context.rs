//! Where sbx is started from, and what that makes of a policy's variables: the caller's
//! identity (home from the password database, not `$HOME`), the working directory and whether
//! it is a project, and the values of `${HOME}`, `${CWD}`, `${UID}`, `${XDG_RUNTIME_DIR}` and
//! `${TMPDIR}`. Every value that is missing or unusable is an error that names the variable,
//! the policy line and the fix; none falls back to `/` or to an empty string.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use uzers::os::unix::UserExt;

use crate::error::{Error, Result};
use crate::policy::Origin;

/// The caller's identity and environment, read once at start-up (a test fills it by hand).
#[derive(Debug, Clone)]
pub struct Caller {
    pub uid: u32,
    pub gid: u32,
    /// The working directory, or why there is none (deleted, unreachable).
    pub cwd: Result<PathBuf, String>,
    pub env: Vec<(OsString, OsString)>,
    /// The home directory the password database gives the caller's uid, or why there is none.
    pub home: Result<PathBuf, String>,
    /// (device, inode) of the directory the caller is in (None in tests).
    pub cwd_id: Option<(u64, u64)>,
}

impl Caller {
    pub fn current() -> Caller {
        let uid = nix::unistd::getuid().as_raw();
        Caller {
            uid,
            gid: nix::unistd::getgid().as_raw(),
            cwd: std::env::current_dir().map_err(|e| match e.raw_os_error() {
                Some(libc::ENOENT) => "it has been deleted".to_string(),
                _ => e.to_string(),
            }),
            env: std::env::vars_os().collect(),
            home: password_home(uid),
            cwd_id: {
                use std::os::unix::fs::MetadataExt;
                std::fs::metadata(".").ok().map(|m| (m.dev(), m.ino()))
            },
        }
    }

    pub fn var(&self, name: &str) -> Option<OsString> {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    /// A variable's value when it is set and not empty.
    pub fn var_str(&self, name: &str) -> Option<String> {
        self.var(name)
            .map(|v| v.to_string_lossy().into_owned())
            .filter(|v| !v.is_empty())
    }

    /// The homes to hide: the password database's, and a different `$HOME` of the environment
    /// (an absolute directory that exists, neither `/` nor inside the first one).
    pub fn homes(&self) -> Vec<PathBuf> {
        let mut homes = Vec::new();
        if let Ok(h) = &self.home {
            homes.push(h.clone());
        }
        if let Some(env_home) = self.var_str("HOME").map(PathBuf::from) {
            // Compared by what it really is: `/home/u/../../srv/x` is not inside /home/u.
            let env_home = std::fs::canonicalize(&env_home).unwrap_or(env_home);
            let canon: Vec<PathBuf> = homes
                .iter()
                .map(|h| std::fs::canonicalize(h).unwrap_or_else(|_| h.clone()))
                .collect();
            let usable = env_home.is_absolute()
                && env_home != Path::new("/")
                && env_home.is_dir()
                && !canon.iter().any(|h| env_home.starts_with(h));
            if usable {
                homes.push(env_home);
            }
        }
        homes
    }
}

/// `paths` and, where it differs, what each resolves to (symlinks, `..`): comparisons with a
/// resolved path must match either form.
pub fn with_resolved(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = paths.to_vec();
    for p in paths {
        if let Ok(real) = std::fs::canonicalize(p) {
            if !out.contains(&real) {
                out.push(real);
            }
        }
    }
    out
}

/// The home of `uid` in the password database, when sbx can use it: absolute, not `/`.
pub fn password_home(uid: u32) -> Result<PathBuf, String> {
    let user = uzers::get_user_by_uid(uid)
        .ok_or_else(|| format!("uid {uid} has no entry in the password database"))?;
    let home = user.home_dir().to_path_buf();
    if !home.is_absolute() || home == Path::new("/") {
        return Err(format!(
            "the password database gives uid {uid} the home directory {:?}, which sbx cannot use",
            home.display().to_string()
        ));
    }
    Ok(home)
}

/// Why `dir` (an absolute, canonical path) is not a project, or None when it is one: `/`, a
/// home or a directory above one, a directory directly under `/`, the shared temporary
/// directories, and the runtime places where sessions keep their sockets.
pub fn not_a_project(dir: &Path, homes: &[PathBuf], runtime: &[PathBuf]) -> Option<String> {
    if dir == Path::new("/") {
        return Some("the root directory".into());
    }
    for h in homes {
        if dir == h {
            return Some("your home directory".into());
        }
        if h.starts_with(dir) {
            return Some(format!("a directory above your home {}", h.display()));
        }
        if let Ok(rel) = dir.strip_prefix(h) {
            // Dotfiles and ~/bin: configuration and programs that run outside the sandbox
            // (reached, say, through a symlink a repository ships).
            let hidden = rel
                .components()
                .any(|c| c.as_os_str().as_encoded_bytes().starts_with(b"."));
            if hidden || rel.starts_with("bin") {
                return Some(format!(
                    "in {}, where configuration and programs that run outside the sandbox live",
                    h.display()
                ));
            }
        }
    }
    if [
        Path::new("/tmp"),
        Path::new("/var/tmp"),
        Path::new("/dev/shm"),
    ]
    .contains(&dir)
    {
        return Some("a shared temporary directory".into());
    }
    if dir.parent() == Some(Path::new("/")) {
        return Some("a top-level system directory".into());
    }
    for top in ["/proc", "/sys", "/dev", "/run"] {
        if dir.starts_with(top) {
            return Some(format!("under {top}, where no project lives"));
        }
    }
    for system in [
        "/etc",
        "/usr",
        "/boot",
        "/bin",
        "/sbin",
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
        "/var/lib",
        "/var/spool",
        "/var/cache",
        "/var/log",
        "/var/mail",
        "/var/backups",
        "/var/run",
        "/var/lock",
    ] {
        if dir.starts_with(system) {
            return Some(format!(
                "under {system}, the system's own (what it runs, it runs outside the sandbox)"
            ));
        }
    }
    for r in runtime {
        if dir.starts_with(r) {
            return Some(format!(
                "inside the runtime directory {}, with your session's sockets",
                r.display()
            ));
        }
    }
    None
}

/// What the sandbox works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Project {
    /// A directory the view binds read-write (`${CWD}`).
    Dir(PathBuf),
    /// The working directory is not a project: `${CWD}` entries are left out.
    None {
        dir: PathBuf,
        why: String,
        /// The caller's own working directory (not --chdir): sbx says what it did.
        inherited: bool,
    },
}

impl Project {
    /// Finds the project: `--chdir DIR` when it names a directory of the host, else the
    /// working directory. A deleted working directory is an error (without --chdir).
    /// With `allow_home_write` (the command line's --allow-home-write), home, the directories
    /// above it and `/` may be the project.
    /// `homes` are the caller's, as given and resolved ([`with_resolved`]).
    pub fn find(
        caller: &Caller,
        homes: &[PathBuf],
        chdir: Option<&Path>,
        allow_home_write: bool,
    ) -> Result<Project> {
        let runtime = runtime_places(caller);
        let (dir, inherited) = match chdir {
            Some(d) => match std::fs::canonicalize(d) {
                Ok(real) if real.is_dir() => (real, false),
                _ => {
                    return Ok(Project::None {
                        dir: d.to_path_buf(),
                        why: "not a directory of the host".into(),
                        inherited: false,
                    })
                }
            },
            None => match &caller.cwd {
                Ok(cwd) => (
                    std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.clone()),
                    true,
                ),
                Err(why) => {
                    let named = caller
                        .var_str("PWD")
                        .map(|p| format!(" {p}"))
                        .unwrap_or_default();
                    return Err(Error::Usage(format!(
                        "cannot start from the current directory{named}: {why}\nhint: cd to an \
                         existing directory (the project's), or give the working directory with --chdir DIR"
                    )));
                }
            },
        };
        // The directory the caller is really in must be the one its path names now, and the
        // view checks that it binds that same directory (no swap in between).
        if let (true, Some(here)) = (inherited, caller.cwd_id) {
            use std::os::unix::fs::MetadataExt;
            if std::fs::metadata(&dir).ok().map(|m| (m.dev(), m.ino())) != Some(here) {
                return Err(Error::Usage(format!(
                    "the current directory is no longer {} (it was moved or replaced while sbx started)\n\
                     hint: cd to the project's directory again",
                    dir.display()
                )));
            }
        }
        let why = if allow_home_write {
            not_a_project(&dir, &[], &runtime)
                .filter(|_| dir != Path::new("/") && !homes.iter().any(|h| h.starts_with(&dir)))
        } else {
            not_a_project(&dir, homes, &runtime)
        };
        Ok(match why {
            Some(why) => Project::None {
                dir,
                why,
                inherited,
            },
            None => Project::Dir(dir),
        })
    }

    pub fn dir(&self) -> Option<&Path> {
        match self {
            Project::Dir(d) => Some(d),
            Project::None { .. } => None,
        }
    }

    /// The note sbx prints once when the working directory is not a project.
    pub fn note(&self) -> Option<String> {
        match self {
            Project::None {
                dir,
                why,
                inherited: true,
            } => Some(format!(
                "{} is {why}, not a project: the sandbox gets no writable project (writes under it fail, or go to \
                 private places discarded at exit). Run sbx from the project's directory, \
                 or name one with --chdir DIR.",
                dir.display()
            )),
            _ => None,
        }
    }
}

/// The runtime directories of the caller's session: `$XDG_RUNTIME_DIR` and `/run/user/UID`.
pub fn runtime_places(caller: &Caller) -> Vec<PathBuf> {
    let mut out = vec![PathBuf::from(format!("/run/user/{}", caller.uid))];
    if let Some(x) = caller.var_str("XDG_RUNTIME_DIR").map(PathBuf::from) {
        if x.is_absolute() && x != Path::new("/") && !out.contains(&x) {
            out.push(std::fs::canonicalize(&x).unwrap_or(x));
        }
    }
    out
}

/// The values of `${NAME}` in policy paths.
pub struct Vars {
    home: Result<String, String>,
    cwd: Option<String>,
    uid: String,
    runtime: Result<String, String>,
    tmpdir: Result<String, String>,
}

impl Vars {
    pub fn new(caller: &Caller, project: &Project) -> Vars {
        let absolute = |name: &str| match caller.var_str(name) {
            Some(v) if v.starts_with('/') && v != "/" => Ok(v),
            Some(v) => Err(format!("${{{name}}} is {v:?}, not an absolute directory")),
            None => Err(format!("${{{name}}} is not set")),
        };
        Vars {
            home: caller
                .home
                .as_ref()
                .map(|h| h.display().to_string())
                .map_err(|e| format!("${{HOME}}: {e}")),
            cwd: project.dir().map(|d| d.display().to_string()),
            uid: caller.uid.to_string(),
            runtime: absolute("XDG_RUNTIME_DIR"),
            tmpdir: absolute("TMPDIR"),
        }
    }

    /// Expands the variables of a (validated) policy path. `Ok(None)` when the path uses
    /// `${CWD}` and the working directory is not a project: the entry is left out.
    pub fn expand(&self, path: &str, at: &Origin) -> Result<Option<PathBuf>> {
        let fail = |why: &str, fix: &str| {
            Err(Error::Usage(format!(
                "{}: {path:?}: {why}\nhint: {fix}",
                at.located()
            )))
        };
        let mut out = path.to_string();
        if out.contains("${CWD}") {
            match &self.cwd {
                Some(c) => out = out.replace("${CWD}", c),
                None => return Ok(None),
            }
        }
        if out.contains("${HOME}") {
            match &self.home {
                Ok(h) => out = out.replace("${HOME}", h),
                Err(e) => return fail(e, "run sbx as a user with a home directory in /etc/passwd, or use a policy without ${HOME}"),
            }
        }
        if out.contains("${XDG_RUNTIME_DIR}") {
            match &self.runtime {
                Ok(r) => out = out.replace("${XDG_RUNTIME_DIR}", r),
                Err(e) => {
                    return fail(
                        e,
                        "set XDG_RUNTIME_DIR to your runtime directory, or use a policy without it",
                    )
                }
            }
        }
        if out.contains("${TMPDIR}") {
            match &self.tmpdir {
                Ok(t) => out = out.replace("${TMPDIR}", t),
                Err(e) => {
                    return fail(
                        e,
                        "set TMPDIR (e.g. TMPDIR=/tmp), or use a policy without ${TMPDIR}",
                    )
                }
            }
        }
        out = out.replace("${UID}", &self.uid);
        if !out.starts_with('/') {
            return fail(
                "not an absolute path once expanded",
                "give an absolute path, or start it with a variable",
            );
        }
        Ok(Some(PathBuf::from(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(cwd: &str, home: &str, env: &[(&str, &str)]) -> Caller {
        Caller {
            uid: 1000,
            gid: 1000,
            cwd: Ok(cwd.into()),
            env: env
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            home: Ok(home.into()),
            cwd_id: None,
        }
    }

    fn at() -> Origin {
        Origin {
            file: "p.toml".into(),
            line: 3,
            col: 7,
        }
    }

    #[test]
    fn home_and_everything_above_it_are_not_projects() {
        let homes = vec![PathBuf::from("/home/u")];
        let run = vec![PathBuf::from("/run/user/1000")];
        for dir in [
            "/",
            "/home",
            "/home/u",
            "/tmp",
            "/usr",
            "/var/tmp",
            "/run/user/1000/x",
        ] {
            assert!(
                not_a_project(Path::new(dir), &homes, &run).is_some(),
                "{dir}"
            );
        }
        for dir in [
            "/home/u/src/p",
            "/tmp/build",
            "/srv/work/p",
            "/home/other/p",
        ] {
            assert_eq!(not_a_project(Path::new(dir), &homes, &run), None, "{dir}");
        }
    }

    #[test]
    fn variables_never_fall_back() {
        let c = caller("/tmp", "/home/u", &[]);
        let p = Project::Dir("/w/p".into());
        let v = Vars::new(&c, &p);
        assert_eq!(
            v.expand("${HOME}/.cache", &at()).unwrap(),
            Some("/home/u/.cache".into())
        );
        assert_eq!(v.expand("${CWD}", &at()).unwrap(), Some("/w/p".into()));
        for path in ["${XDG_RUNTIME_DIR}/x", "${TMPDIR}/x"] {
            let e = v.expand(path, &at()).unwrap_err().to_string();
            assert!(
                e.starts_with("p.toml:3:7: ") && e.contains("not set"),
                "{e}"
            );
        }
        let mut c = caller("/tmp", "/home/u", &[]);
        c.home = Err("uid 1000 has no entry in the password database".into());
        let e = Vars::new(&c, &p)
            .expand("${HOME}", &at())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("password database") && e.contains("hint:"),
            "{e}"
        );
        let none = Project::None {
            dir: "/".into(),
            why: "the root directory".into(),
            inherited: true,
        };
        assert_eq!(Vars::new(&c, &none).expand("${CWD}", &at()).unwrap(), None);
    }

    #[test]
    fn a_different_env_home_is_one_more_home_to_hide() {
        let c = caller("/tmp", "/home/u", &[("HOME", "/")]);
        assert_eq!(c.homes(), vec![PathBuf::from("/home/u")]);
        let c = caller("/tmp", "/home/u", &[("HOME", "/tmp")]);
        assert_eq!(
            c.homes(),
            vec![PathBuf::from("/home/u"), PathBuf::from("/tmp")]
        );
    }

    #[test]
    fn a_deleted_working_directory_is_refused() {
        let mut c = caller("/tmp", "/home/u", &[]);
        c.cwd = Err("it has been deleted".into());
        let e = Project::find(&c, &c.homes(), None, false).unwrap_err();
        assert_eq!(e.exit_code(), 125);
        assert!(e.to_string().contains("deleted") && e.to_string().contains("--chdir"));
        assert!(Project::find(&c, &c.homes(), Some(Path::new("/usr")), false).is_ok());
    }
}
