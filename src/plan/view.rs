//! The filesystem view of a plan, put together from the default view or the policy's mounts,
//! the command line's operations and the masks every view gets, then checked: no read-write
//! bind of `/`, a home or a directory above one (unless the command line says
//! `--allow-home-write`), the secrets masked, the project's protected paths listed, and the
//! landlock rules and noexec mounts that make the policy's read, write and execute lists mean
//! what they say.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::ns::mount::{self, BindKind, FsOp, Upper, View};
use crate::policy::schema::{Mount, ViewKind};
use crate::policy::{Policy, Val};

use super::context::{runtime_places, Caller, Project, Vars};

/// What the view is made from.
pub struct Input<'a> {
    /// The command line's filesystem operations, in order.
    pub cli_ops: Vec<FsOp>,
    /// The command line describes the whole view (bwrap's semantics: options without --policy).
    pub explicit: bool,
    pub root: Option<PathBuf>,
    pub policy: &'a Policy,
    pub caller: &'a Caller,
    /// The homes to hide, and the same with their resolved forms (for comparisons).
    pub homes: &'a [PathBuf],
    pub all_homes: &'a [PathBuf],
    pub project: &'a Project,
    pub vars: &'a Vars,
    pub own_pid_ns: bool,
    pub allow_home_write: bool,
    pub unprotect: &'a [String],
}

/// The landlock rules that the view's own mounts need.
#[derive(Debug, Default)]
pub struct MountRules {
    pub read: Vec<PathBuf>,
    pub write: Vec<PathBuf>,
    pub execute: Vec<PathBuf>,
}

/// Where an operation comes from, for messages.
fn origin_of(at: Option<&crate::policy::Origin>) -> String {
    match at {
        Some(at) => format!("{} (policy)", at.located()),
        None => "the command line".into(),
    }
}

/// Builds and checks the view. `execute` is the policy's execute list, expanded.
pub fn plan(input: Input, execute: &[PathBuf]) -> Result<(View, MountRules)> {
    let Input {
        cli_ops,
        explicit,
        root,
        policy,
        caller,
        homes,
        all_homes,
        project,
        vars,
        own_pid_ns,
        allow_home_write,
        unprotect,
    } = input;
    // Where each operation comes from (None: the command line or sbx's default view).
    let mut origins: Vec<Option<&crate::policy::Origin>> = Vec::new();
    let mut view = if explicit {
        let mut view = View::empty(own_pid_ns);
        view.root = root.clone();
        if let (Some(root), true) = (
            &root,
            cli_ops.iter().all(|op| matches!(op, FsOp::Mask { .. })),
        ) {
            view.ops = root_defaults(root);
        }
        view
    } else {
        let default = policy
            .view
            .as_ref()
            .is_none_or(|v| v.v == ViewKind::Default);
        let mut view = if default && root.is_none() {
            mount::default_view(
                homes,
                project.dir(),
                &|p: &Path| p.symlink_metadata().is_ok(),
                own_pid_ns,
            )
        } else {
            let mut view = View::empty(own_pid_ns);
            view.root = root.clone();
            view
        };
        origins.resize(view.ops.len(), None);
        for m in &policy.mounts {
            let Some((op, is_project)) = policy_mount(&m.v, &m.at, vars)? else {
                continue;
            };
            if let (FsOp::Bind { src, .. }, Some(true)) = (&op, m.v.create) {
                view.create.push(src.clone());
            }
            if is_project {
                view.project = Some(op.dest().to_path_buf());
            }
            view.ops.push(op);
            origins.push(Some(&m.at));
        }
        view
    };
    if let Some(p) = &view.project {
        use std::os::unix::fs::MetadataExt;
        view.project_id = std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    }
    let cli_sources: Vec<PathBuf> = cli_ops
        .iter()
        .filter_map(|op| match op {
            FsOp::Bind { src, .. } => Some(src.clone()),
            _ => None,
        })
        .collect();
    view.ops.extend(cli_ops);
    origins.resize(view.ops.len(), None);
    split_root_if_needed(&mut view, &mut origins);

    let protected = protected_dirs(all_homes);
    check_writable_sources(&view, &origins, &protected, allow_home_write)?;
    view.guarded = if allow_home_write {
        Vec::new()
    } else {
        guarded_inodes(&protected)
    };

    // Masks last, so that nothing mounted before can bring a secret back; only where the
    // view can show something (a private tmpfs shows nothing of the host).
    let mut masks = Vec::new();
    for home in homes {
        for secret in &policy.secrets {
            let path = home.join(&secret.v);
            if cli_sources.iter().any(|s| s.starts_with(&path)) {
                continue; // named on the command line: the caller wants it
            }
            masks.push(path);
        }
    }
    // A secret that is a symlink (~/.gnupg -> /data/gnupg) is masked where it leads too: a
    // private home hides the link, not its target.
    let targets: Vec<PathBuf> = masks
        .iter()
        .filter(|m| std::fs::symlink_metadata(m).is_ok_and(|md| md.file_type().is_symlink()))
        .filter_map(|m| std::fs::canonicalize(m).ok())
        .collect();
    masks.extend(targets);
    masks.extend(runtime_places(caller));
    masks.extend(agent_sockets(caller));
    for dest in masks {
        if visible(&view, &dest) {
            view.ops.push(FsOp::Mask { dest });
        }
    }

    // The project's protected paths.
    let listed: Vec<&str> = policy.protect.iter().map(|v| v.v.as_str()).collect();
    for u in unprotect {
        if !listed.contains(&u.as_str()) {
            let hint = crate::suggest::closest(u, listed.iter().copied())
                .map(|s| format!("did you mean {s}?"))
                .unwrap_or_else(|| format!("protected: {}", listed.join(", ")));
            return Err(Error::Usage(format!(
                "--unprotect {u}: not a protected path of the project\nhint: {hint}"
            )));
        }
    }
    let patterns: Vec<String> = listed
        .iter()
        .filter(|p| !unprotect.iter().any(|u| u == *p))
        .map(|p| p.to_string())
        .collect();
    // Every writable bind of a host directory is a project in this sense (the project itself,
    // and any other the command line or the policy makes writable).
    let mut protect = Vec::new();
    for op in &view.ops {
        if let FsOp::Bind {
            src,
            dest,
            kind: BindKind::ReadWrite | BindKind::Dev,
            ..
        } = op
        {
            if let Some(p) = protected_in(src, dest, &patterns, unprotect) {
                protect.push(p);
            }
        }
    }
    view.protect = protect;
    let rules = mount_rules(&mut view, execute);
    Ok((view, rules))
}

/// What `patterns` name in the host directory `src` (bound writable at `dest`) now, each made
/// read-only in the view, with git's places: a `core.hooksPath`, and the `.git` of every
/// submodule `.gitmodules` lists (git status goes into them). The whole `.git` is one of the
/// patterns, so that it cannot be renamed away from its protected files or given a new
/// config, commondir or hooks; unprotected (a build that commits), it is still pinned in place
/// while its config and hooks stay read-only.
fn protected_in(
    src: &Path,
    dest: &Path,
    patterns: &[String],
    unprotect: &[String],
) -> Option<mount::Protected> {
    if !src.is_dir() {
        return None;
    }
    let mut patterns = patterns.to_vec();
    if let Some(hooks) = git_hooks_path(src) {
        if !unprotect.contains(&hooks) && !patterns.contains(&hooks) {
            patterns.push(hooks);
        }
    }
    for sub in submodule_paths(src) {
        let p = format!("{sub}/.git");
        if !patterns.contains(&p) {
            patterns.push(p);
        }
    }
    let git = src.join(".git");
    let git_is_dir = std::fs::symlink_metadata(&git).is_ok_and(|m| m.is_dir());
    let mut found = Vec::new();
    // One look at each first component: most projects have none of them.
    let mut present: Vec<(&str, bool)> = Vec::new();
    for pattern in &patterns {
        let first = pattern.split('/').next().unwrap_or(pattern);
        let here = match present.iter().find(|(f, _)| *f == first) {
            Some(&(_, here)) => here,
            None => {
                let here = first == "*" || std::fs::symlink_metadata(src.join(first)).is_ok();
                present.push((first, here));
                here
            }
        };
        if here {
            mount::expand_pattern(src, pattern, &mut found);
        }
    }
    let whole_git = found.contains(&git);
    let mut read_only: Vec<PathBuf> = found
        .iter()
        .filter(|f| !(whole_git && f.starts_with(&git) && **f != git))
        .filter_map(|f| f.strip_prefix(src).ok().map(Path::to_path_buf))
        .collect();
    let inside_git = found.iter().any(|f| f.starts_with(&git) && *f != git);
    let make_git_hooks = git_is_dir
        && !whole_git
        && patterns.iter().any(|p| p == ".git/hooks")
        && std::fs::symlink_metadata(git.join("hooks")).is_err();
    if make_git_hooks {
        read_only.push(PathBuf::from(".git/hooks"));
    }
    let pin = if git_is_dir && !whole_git && (inside_git || make_git_hooks) {
        vec![PathBuf::from(".git")]
    } else {
        Vec::new()
    };
    if read_only.is_empty() && pin.is_empty() {
        return None;
    }
    Some(mount::Protected {
        dest: dest.to_path_buf(),
        read_only,
        pin,
        make_git_hooks,
    })
}

/// The submodule paths a `.gitmodules` lists (relative, checked like any protected path).
fn submodule_paths(dir: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(dir.join(".gitmodules")) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == "path")
                .then(|| v.trim().trim_matches('"').trim_end_matches('/').to_string())
        })
        .filter(|p| crate::policy::validate::relative_path(p).is_ok() && !p.contains('*'))
        .collect()
}

/// The default view binds the host's `/` read-only as one tree, so a later mount whose
/// top-level directory the host lacks (`/data`) would have nowhere to go: then `/` is bound
/// entry by entry on the view's own root, where such mount points can be made.
fn split_root_if_needed(view: &mut View, origins: &mut Vec<Option<&crate::policy::Origin>>) {
    let whole_root = |op: &FsOp| {
        matches!(op, FsOp::Bind { src, dest, kind: BindKind::ReadOnly, .. }
            if src == Path::new("/") && dest == Path::new("/"))
    };
    let Some(at) = view.ops.iter().position(whole_root) else {
        return;
    };
    let needs = view.ops[at + 1..].iter().any(|op| {
        !matches!(
            op,
            FsOp::Mask { .. } | FsOp::File { .. } | FsOp::RemountRo { .. }
        ) && op
            .dest()
            .components()
            .nth(1)
            .is_some_and(|top| std::fs::symlink_metadata(Path::new("/").join(top)).is_err())
    });
    let Ok(entries) = std::fs::read_dir("/") else {
        return;
    };
    if !needs {
        return;
    }
    let replaced = |p: &Path| {
        view.ops[at + 1..].iter().any(|op| {
            op.dest() == p
                && matches!(
                    op,
                    FsOp::Tmpfs { .. } | FsOp::Dev { .. } | FsOp::Proc { .. }
                )
        })
    };
    let mut names: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| !replaced(p))
        .collect();
    names.sort();
    let parts: Vec<FsOp> = names
        .into_iter()
        .map(|p| match std::fs::read_link(&p) {
            Ok(target) => FsOp::Symlink { target, dest: p },
            Err(_) => FsOp::Bind {
                src: p.clone(),
                dest: p,
                kind: BindKind::ReadOnly,
                optional: true,
            },
        })
        .collect();
    let n = parts.len();
    view.ops.splice(at..at + 1, parts);
    origins.splice(at..at + 1, std::iter::repeat_n(None, n));
}

/// Whether `path` may exist in the view: something is mounted at or below it, or the mount
/// that covers it shows host content that has it. Conservative: a symlink counts as there.
fn visible(view: &View, path: &Path) -> bool {
    let on_host = |p: PathBuf| std::fs::symlink_metadata(p).is_ok();
    let mut cover: Option<&FsOp> = None;
    for op in &view.ops {
        let dest = op.dest();
        if matches!(
            op,
            FsOp::Mask { .. } | FsOp::File { .. } | FsOp::RemountRo { .. }
        ) {
            continue;
        }
        if dest.starts_with(path) && dest != path
            || dest == path && !matches!(op, FsOp::Tmpfs { .. })
        {
            return true;
        }
        if path.starts_with(dest) && !matches!(op, FsOp::Symlink { .. } | FsOp::Dir { .. }) {
            cover = Some(op);
        }
    }
    let rel = |dest: &Path| {
        path.strip_prefix(dest)
            .map(Path::to_path_buf)
            .unwrap_or_default()
    };
    match cover {
        Some(FsOp::Bind { src, dest, .. }) => on_host(src.join(rel(dest))),
        Some(FsOp::Overlay { lowers, dest, .. }) => {
            lowers.iter().any(|l| on_host(l.join(rel(dest))))
                || matches!(
                    cover,
                    Some(FsOp::Overlay {
                        upper: Upper::Dir { .. },
                        ..
                    })
                )
        }
        Some(_) => path == cover.map_or(Path::new(""), FsOp::dest),
        None => match &view.root {
            Some(root) => on_host(root.join(path.strip_prefix("/").unwrap_or(path))),
            None => false,
        },
    }
}

/// A policy mount as a view operation, or None when it uses `${CWD}` and there is no project.
/// The second value says whether it is the project itself (`bind = "${CWD}"`).
fn policy_mount(
    m: &Mount,
    at: &crate::policy::Origin,
    vars: &Vars,
) -> Result<Option<(FsOp, bool)>> {
    let p = |s: &Option<String>| -> Result<Option<Option<PathBuf>>> {
        match s {
            None => Ok(Some(None)),
            Some(s) => Ok(vars.expand(s, at)?.map(Some)),
        }
    };
    macro_rules! path {
        ($e:expr) => {
            match p($e)? {
                Some(v) => v,
                None => return Ok(None),
            }
        };
    }
    let optional = m.optional.unwrap_or(false) || m.create.unwrap_or(false);
    let perms = m.perms.as_deref().map(mount::parse_perms).transpose();
    let size = m.size.as_deref().map(mount::parse_size).transpose();
    let (perms, size) = match (perms, size) {
        (Ok(p), Ok(s)) => (p, s),
        (Err(e), _) | (_, Err(e)) => return Err(Error::Usage(format!("{}: {e}", at.located()))),
    };
    let bind_src = m
        .bind
        .as_ref()
        .or(m.ro_bind.as_ref())
        .or(m.dev_bind.as_ref());
    if let Some(src_text) = bind_src {
        let kind = if m.bind.is_some() {
            BindKind::ReadWrite
        } else if m.ro_bind.is_some() {
            BindKind::ReadOnly
        } else {
            BindKind::Dev
        };
        let src = path!(&Some(src_text.clone())).unwrap_or_default();
        let dest = path!(&m.dest).unwrap_or_else(|| src.clone());
        let is_project = kind == BindKind::ReadWrite
            && src_text == "${CWD}"
            && m.dest.as_deref().is_none_or(|d| d == "${CWD}");
        return Ok(Some((
            FsOp::Bind {
                src,
                dest,
                kind,
                optional,
            },
            is_project,
        )));
    }
    let op = if let Some(d) = path!(&m.tmpfs) {
        FsOp::Tmpfs {
            dest: d,
            size,
            perms: perms.unwrap_or(0o755),
        }
    } else if let Some(d) = path!(&m.dir) {
        FsOp::Dir { dest: d, perms }
    } else if let Some(t) = &m.symlink {
        FsOp::Symlink {
            target: PathBuf::from(t),
            dest: path!(&m.dest).unwrap_or_default(),
        }
    } else if let Some(d) = path!(&m.remount_ro) {
        FsOp::RemountRo { dest: d }
    } else if let Some(d) = path!(&m.proc) {
        FsOp::Proc { dest: d }
    } else if let Some(d) = path!(&m.dev) {
        FsOp::Dev { dest: d }
    } else if let Some(d) = path!(&m.mqueue) {
        FsOp::Mqueue { dest: d }
    } else if let Some(d) = path!(&m.overlay) {
        let mut lowers = Vec::new();
        for l in m.lower.iter().flatten() {
            match vars.expand(l, at)? {
                Some(l) => lowers.push(l),
                None => return Ok(None),
            }
        }
        let upper = match (path!(&m.upper), path!(&m.work)) {
            (Some(rw), Some(work)) => Upper::Dir { rw, work },
            _ => Upper::Tmp,
        };
        FsOp::Overlay {
            lowers,
            upper,
            dest: d,
        }
    } else if let Some(d) = path!(&m.mask) {
        FsOp::Mask { dest: d }
    } else {
        return Err(Error::Usage(format!(
            "{}: a mount without a kind (policy check reports this)",
            at.located()
        )));
    };
    Ok(Some((op, false)))
}

/// `/` and every home with the directories above it (`homes` in both forms).
fn protected_dirs(homes: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = vec![PathBuf::from("/")];
    for home in homes {
        for a in home.ancestors() {
            if !out.iter().any(|o| o == a) {
                out.push(a.to_path_buf());
            }
        }
    }
    out
}

/// Refuses read-write binds of `/`, a home or a directory above one (see --allow-home-write).
fn check_writable_sources(
    view: &View,
    origins: &[Option<&crate::policy::Origin>],
    protected: &[PathBuf],
    allowed: bool,
) -> Result<()> {
    if allowed {
        return Ok(());
    }
    let bad = |src: &Path| {
        let real = std::fs::canonicalize(src).unwrap_or_else(|_| src.to_path_buf());
        protected.contains(&real)
    };
    let refuse = |what: String, at: String| {
        Err(Error::Usage(format!(
            "{at}: {what}: a read-write bind of /, your home or a directory above it is refused: \
             whatever the sandbox wrote there (such as ~/.bashrc) would run outside it later\n\
             hint: bind the project's directory instead; if you really mean it, add \
             --allow-home-write on the command line (no policy can)"
        )))
    };
    if let Some(root) = &view.root {
        if bad(root) {
            return refuse(
                format!("--root {}", root.display()),
                "the command line".into(),
            );
        }
    }
    for (op, at) in view.ops.iter().zip(origins) {
        let srcs: Vec<&Path> = match op {
            FsOp::Bind {
                src,
                kind: BindKind::ReadWrite | BindKind::Dev,
                ..
            } => vec![src],
            FsOp::Overlay {
                upper: Upper::Dir { rw, work },
                ..
            } => vec![rw, work],
            _ => continue,
        };
        for src in srcs {
            if bad(src) {
                return refuse(
                    format!("{} {}", mount::op_name(op), src.display()),
                    origin_of(*at),
                );
            }
        }
    }
    Ok(())
}

fn guarded_inodes(protected: &[PathBuf]) -> Vec<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    protected
        .iter()
        .filter_map(|d| std::fs::metadata(d).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect()
}

/// The agent and bus sockets the caller's environment names (masked wherever they are).
fn agent_sockets(caller: &Caller) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(s) = caller.var_str("SSH_AUTH_SOCK") {
        out.push(PathBuf::from(s));
    }
    if let Some(bus) = caller.var_str("DBUS_SESSION_BUS_ADDRESS") {
        for part in bus.split([';', ',']) {
            if let Some(p) = part
                .strip_prefix("unix:path=")
                .or_else(|| part.strip_prefix("path="))
            {
                out.push(PathBuf::from(p));
            }
        }
    }
    out.retain(|p| p.is_absolute() && p != Path::new("/"));
    out
}

/// A relative or in-project `core.hooksPath` of the project's `.git/config`, relative to the
/// project (git runs the hooks there, so they are protected like `.git/hooks`).
fn git_hooks_path(project: &Path) -> Option<String> {
    let text = std::fs::read_to_string(project.join(".git/config")).ok()?;
    let mut in_core = false;
    let mut found = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_core = line.to_ascii_lowercase().starts_with("[core]");
            continue;
        }
        if !in_core {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            if k.trim().eq_ignore_ascii_case("hookspath") {
                found = Some(v.trim().trim_matches('"').to_string());
            }
        }
    }
    let path = PathBuf::from(found?);
    let rel = if path.is_absolute() {
        path.strip_prefix(project).ok()?.to_path_buf()
    } else {
        path
    };
    let rel = rel.to_string_lossy().trim_end_matches('/').to_string();
    (crate::policy::validate::relative_path(&rel).is_ok()).then_some(rel)
}

/// The landlock rules the view's mounts need, and the writable mounts made noexec because no
/// execute path covers them: host content bound read-only may run, what the sandbox can write
/// may run only where the policy's execute list says.
fn mount_rules(view: &mut View, execute: &[PathBuf]) -> MountRules {
    let mut rules = MountRules::default();
    let mut writable = Vec::new();
    for op in &view.ops {
        let dest = op.dest().to_path_buf();
        match op {
            FsOp::Bind {
                kind: BindKind::ReadOnly,
                ..
            } => {
                rules.read.push(dest.clone());
                rules.execute.push(dest);
            }
            FsOp::Bind { .. } | FsOp::Tmpfs { .. } | FsOp::Overlay { .. } => {
                rules.read.push(dest.clone());
                rules.write.push(dest.clone());
                writable.push(dest);
            }
            FsOp::Dir { .. } | FsOp::Dev { .. } | FsOp::Mqueue { .. } => {
                rules.read.push(dest.clone());
                rules.write.push(dest);
            }
            FsOp::Proc { .. } | FsOp::File { .. } => rules.read.push(dest),
            FsOp::Symlink { .. } | FsOp::RemountRo { .. } | FsOp::Mask { .. } => {}
        }
    }
    let runs = |d: &Path| {
        execute
            .iter()
            .chain(&rules.execute)
            .any(|e| d.starts_with(e))
    };
    for d in writable {
        if !runs(&d) && !view.noexec.contains(&d) {
            view.noexec.push(d);
        }
    }
    if !runs(Path::new("/")) {
        view.noexec.push("/".into());
    }
    rules
}

/// What `--root DIR` alone mounts: /dev, /proc and /tmp where the tree has them.
fn root_defaults(root: &Path) -> Vec<FsOp> {
    let mut ops = Vec::new();
    if root.join("dev").is_dir() {
        ops.push(FsOp::Dev {
            dest: "/dev".into(),
        });
    }
    if root.join("proc").is_dir() {
        ops.push(FsOp::Proc {
            dest: "/proc".into(),
        });
    }
    if root.join("tmp").is_dir() {
        ops.push(FsOp::Tmpfs {
            dest: "/tmp".into(),
            size: None,
            perms: 0o1777,
        });
    }
    ops
}

/// The expanded entries of a policy path list (entries that use `${CWD}` without a project
/// are left out).
pub fn expand_list(list: &[Val<String>], vars: &Vars) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for v in list {
        if let Some(p) = vars.expand(&v.v, &v.at)? {
            out.push(p);
        }
    }
    Ok(out)
}
