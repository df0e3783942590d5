//! The mount namespace (mount_namespaces(7)) and the sandbox's filesystem view.
//!
//! The view is data ([`View`]: an optional root tree and a list of [`FsOp`] in command-line
//! order), validated before anything is mounted. [`apply_view`] builds it in three phases:
//!
//! 1. **Sources.** While the host's tree is still in place, every source is opened: binds are
//!    cloned with open_tree(2), overlays are created with fsopen(2)/fsmount(2). Nothing is
//!    attached yet, and nothing is re-resolved by path later.
//! 2. **The new root.** A tmpfs (or a clone of `--root DIR`) is attached in sbx's private mount
//!    namespace, and each operation is applied in order. Every destination is resolved beneath
//!    the new root with openat2(2) and `RESOLVE_IN_ROOT`, missing components are created one at
//!    a time from a descriptor of their parent, and every mount is attached with move_mount(2)
//!    onto a descriptor: a symlink cannot lead a mount out of the new root, and a swapped one
//!    cannot redirect it (the CVE-2024-42472 class).
//! 3. **pivot_root(2)** into the new root; the old root is stacked on top and detached at once,
//!    so no `oldroot` or staging directory ever exists inside.

use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::Mode;

use crate::cli::Propagation;
use crate::error::{Error, Result};
use crate::sys::linux::{
    self, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY,
    MOVE_MOUNT_F_EMPTY_PATH, MOVE_MOUNT_T_EMPTY_PATH, OPEN_TREE_CLOEXEC, OPEN_TREE_CLONE,
    RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS,
};
use crate::sys::Sys;

/// How a bind mount may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindKind {
    ReadWrite,
    ReadOnly,
    /// Read-write, and device nodes work (no nodev).
    Dev,
}

/// Where an overlay's writes go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upper {
    /// An invisible tmpfs that disappears with the sandbox.
    Tmp,
    /// A host directory and overlayfs' work directory beside it.
    Dir { rw: PathBuf, work: PathBuf },
}

/// One operation of the view, applied in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsOp {
    Bind {
        src: PathBuf,
        dest: PathBuf,
        kind: BindKind,
        optional: bool,
    },
    Tmpfs {
        dest: PathBuf,
        size: Option<u64>,
        perms: u32,
    },
    Dir {
        dest: PathBuf,
        perms: Option<u32>,
    },
    Symlink {
        target: PathBuf,
        dest: PathBuf,
    },
    RemountRo {
        dest: PathBuf,
    },
    Proc {
        dest: PathBuf,
    },
    Dev {
        dest: PathBuf,
    },
    Mqueue {
        dest: PathBuf,
    },
    Overlay {
        lowers: Vec<PathBuf>,
        upper: Upper,
        dest: PathBuf,
    },
    Mask {
        dest: PathBuf,
    },
    /// A read-only file with these contents over DEST (sbx's own /etc/hosts and resolv.conf);
    /// skipped where the view has no writable or existing place for it.
    File {
        dest: PathBuf,
        contents: Vec<u8>,
    },
}

impl FsOp {
    pub fn dest(&self) -> &Path {
        match self {
            FsOp::Bind { dest, .. }
            | FsOp::Tmpfs { dest, .. }
            | FsOp::Dir { dest, .. }
            | FsOp::Symlink { dest, .. }
            | FsOp::RemountRo { dest }
            | FsOp::Proc { dest }
            | FsOp::Dev { dest }
            | FsOp::Mqueue { dest }
            | FsOp::Overlay { dest, .. }
            | FsOp::Mask { dest }
            | FsOp::File { dest, .. } => dest,
        }
    }
}

/// The whole filesystem view of a sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// A root tree to start from instead of an empty tmpfs.
    pub root: Option<PathBuf>,
    pub ops: Vec<FsOp>,
    pub propagation: Propagation,
    /// Whether the sandbox has its own PID namespace (else /proc is the host's, bound).
    pub own_pid_ns: bool,
    /// The project: the read-write bind with this destination gets read-only parents (a build
    /// that writes `../x` gets EROFS) and its [`View::protect`] paths read-only.
    pub project: Option<PathBuf>,
    /// (device, inode) of the project's directory when the sandbox was planned: the tree the
    /// view binds must be that one.
    pub project_id: Option<(u64, u64)>,
    /// The protected paths of each writable bind (@protect, expanded when the sandbox was
    /// planned).
    pub protect: Vec<Protected>,
    /// Destinations of writable mounts made noexec: the policy does not let code run there
    /// (`/` stands for the view's root tmpfs).
    pub noexec: Vec<PathBuf>,
    /// Bind sources created on the host when missing (caches a policy promises).
    pub create: Vec<PathBuf>,
    /// (device, inode) of the directories that may never be the source of a read-write bind
    /// (`/`, the homes and the directories above them), checked on the opened tree, so that
    /// no symlink swapped after planning can make one of them writable.
    pub guarded: Vec<(u64, u64)>,
}

impl View {
    /// An empty view (bwrap's semantics: the operations describe all of it).
    pub fn empty(own_pid_ns: bool) -> View {
        View {
            root: None,
            ops: Vec::new(),
            propagation: Propagation::Private,
            own_pid_ns,
            project: None,
            project_id: None,
            protect: Vec::new(),
            noexec: Vec::new(),
            create: Vec::new(),
            guarded: Vec::new(),
        }
    }
}

/// What stays read-only inside one writable bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protected {
    /// The bind's destination.
    pub dest: PathBuf,
    /// Paths relative to it bound read-only over themselves.
    pub read_only: Vec<PathBuf>,
    /// Paths bound read-write over themselves first, so that they cannot be renamed away
    /// from the read-only paths inside them (an unprotected `.git`).
    pub pin: Vec<PathBuf>,
    /// Create an empty `.git/hooks` first, so that there is one to keep read-only.
    pub make_git_hooks: bool,
}

/// The toolchain directories of home that the default view brings back copy-on-write.
pub const TOOLCHAIN_DIRS: &[&str] = &[
    ".cargo",
    ".rustup",
    ".local/bin",
    ".local/lib",
    ".pyenv",
    ".nvm",
    "go",
    ".deno",
    ".bun",
    ".volta",
    ".sdkman",
    ".rbenv",
    ".opam",
    ".ghcup",
    ".elan",
];

/// `@secrets`: what is masked under every home in every view, after every other mount
/// (a policy adds to it with `filesystem.secrets`, or takes one out with `"!PATH"`).
/// Credentials kept inside toolchain directories are listed too, since those come back into
/// the default view.
pub const SECRETS: &[&str] = &[
    // Keys and agents.
    ".ssh",
    ".gnupg",
    ".password-store",
    ".local/share/keyrings",
    ".pki",
    // Credentials of tools and clouds.
    ".netrc",
    ".pgpass",
    ".my.cnf",
    ".git-credentials",
    ".config/git/credentials",
    ".config/gh",
    ".config/hub",
    ".config/glab-cli",
    ".npmrc",
    ".yarnrc.yml",
    ".pypirc",
    ".gem/credentials",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".m2/settings.xml",
    ".gradle/gradle.properties",
    ".composer/auth.json",
    ".docker/config.json",
    ".docker/run",
    ".1password",
    ".lima",
    ".colima",
    ".rd",
    ".orbstack",
    ".config/containers/auth.json",
    ".vault-token",
    ".aws",
    ".azure",
    ".config/gcloud",
    ".kube",
    ".terraform.d/credentials.tfrc.json",
    ".config/rclone",
    ".config/op",
    // Browser profiles.
    ".mozilla",
    ".thunderbird",
    ".config/google-chrome",
    ".config/chromium",
    ".config/BraveSoftware",
    ".config/microsoft-edge",
    ".config/vivaldi",
    // Shell and tool histories.
    ".bash_history",
    ".zsh_history",
    ".histfile",
    ".local/share/fish/fish_history",
    ".python_history",
    ".node_repl_history",
    ".psql_history",
    ".mysql_history",
    ".sqlite_history",
    ".lesshst",
    ".viminfo",
];

/// `@protect`: files in a writable project that tools on the host run or obey without asking,
/// kept read-only inside (a policy adds to it with `filesystem.protect`, takes one out with
/// `"!PATH"`; `--unprotect PATH` does the same on the command line). `.git` is the whole git
/// directory (or a worktree's pointer file); the paths inside it still hold when it is
/// unprotected for a build that commits.
pub const PROTECT: &[&str] = &[
    ".git",
    ".git/config",
    ".git/config.worktree",
    ".git/hooks",
    ".git/modules/*/config",
    ".git/modules/*/hooks",
    ".git/worktrees/*/commondir",
    ".git/worktrees/*/gitdir",
    ".git/worktrees/*/config.worktree",
    ".pre-commit-config.yaml",
    ".husky",
    "lefthook.yml",
    ".lefthook.yml",
    ".envrc",
    ".mise.toml",
    "mise.toml",
    ".vscode",
    ".idea",
];

/// The default view: safe for untrusted builds (see the man page). Each home is replaced by
/// an empty private directory into which the toolchain directories that exist (`exists`,
/// checked by the caller on the host) come back copy-on-write; the project comes back
/// read-write. Secrets are masked later, for every view alike.
pub fn default_view(
    homes: &[PathBuf],
    project: Option<&Path>,
    exists: &dyn Fn(&Path) -> bool,
    own_pid_ns: bool,
) -> View {
    let tmp = |dest: &str, perms: u32| FsOp::Tmpfs {
        dest: dest.into(),
        size: None,
        perms,
    };
    let mut ops = vec![
        FsOp::Bind {
            src: "/".into(),
            dest: "/".into(),
            kind: BindKind::ReadOnly,
            optional: false,
        },
        FsOp::Dev {
            dest: "/dev".into(),
        },
        FsOp::Proc {
            dest: "/proc".into(),
        },
        tmp("/tmp", 0o1777),
        tmp("/var/tmp", 0o1777),
        tmp("/run", 0o755),
    ];
    // A home that does not exist has nothing to hide (and no place for a mount).
    for home in homes
        .iter()
        .filter(|h| h.is_absolute() && h.as_path() != Path::new("/") && exists(h))
    {
        ops.push(FsOp::Tmpfs {
            dest: home.clone(),
            size: None,
            perms: 0o700,
        });
        for dir in TOOLCHAIN_DIRS {
            let path = home.join(dir);
            if exists(&path) {
                ops.push(FsOp::Overlay {
                    lowers: vec![path.clone()],
                    upper: Upper::Tmp,
                    dest: path,
                });
            }
        }
    }
    let mut view = View::empty(own_pid_ns);
    if let Some(p) = project {
        ops.push(FsOp::Bind {
            src: p.to_path_buf(),
            dest: p.to_path_buf(),
            kind: BindKind::ReadWrite,
            optional: true,
        });
        view.project = Some(p.to_path_buf());
    }
    view.ops = ops;
    view
}

/// Checks what can be checked on the host before anything is mounted: absolute destinations,
/// sources that exist. Returns the message for the first problem.
pub fn validate(view: &View) -> Result<(), String> {
    if let Some(root) = &view.root {
        if !root.is_dir() {
            return Err(format!("--root {}: not a directory", root.display()));
        }
    }
    for op in &view.ops {
        let dest = op.dest();
        if !dest.is_absolute() {
            return Err(format!(
                "{} {}: the destination must be an absolute path inside the sandbox",
                op_name(op),
                dest.display()
            ));
        }
        match op {
            FsOp::Bind {
                src,
                optional: false,
                ..
            } if std::fs::symlink_metadata(src).is_err() => {
                return Err(format!(
                    "{} {}: the source does not exist (use the -try form to skip a missing one)",
                    op_name(op),
                    src.display()
                ));
            }
            FsOp::Overlay { lowers, upper, .. } => {
                if lowers.is_empty() {
                    return Err(format!(
                        "{} {}: give the lower layers first with --overlay-src",
                        op_name(op),
                        dest.display()
                    ));
                }
                let mut sources: Vec<&PathBuf> = lowers.iter().collect();
                if let Upper::Dir { rw, work } = upper {
                    sources.extend([rw, work]);
                }
                for src in sources {
                    if !src.is_dir() {
                        return Err(format!(
                            "{} {}: the layer {} is not a directory",
                            op_name(op),
                            dest.display(),
                            src.display()
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The option that produces an operation, for messages.
pub fn op_name(op: &FsOp) -> &'static str {
    match op {
        FsOp::Bind {
            kind: BindKind::ReadWrite,
            optional: false,
            ..
        } => "--bind",
        FsOp::Bind {
            kind: BindKind::ReadWrite,
            optional: true,
            ..
        } => "--bind-try",
        FsOp::Bind {
            kind: BindKind::ReadOnly,
            optional: false,
            ..
        } => "--ro-bind",
        FsOp::Bind {
            kind: BindKind::ReadOnly,
            optional: true,
            ..
        } => "--ro-bind-try",
        FsOp::Bind {
            kind: BindKind::Dev,
            optional: false,
            ..
        } => "--dev-bind",
        FsOp::Bind {
            kind: BindKind::Dev,
            optional: true,
            ..
        } => "--dev-bind-try",
        FsOp::Tmpfs { .. } => "--tmpfs",
        FsOp::Dir { .. } => "--dir",
        FsOp::Symlink { .. } => "--symlink",
        FsOp::RemountRo { .. } => "--remount-ro",
        FsOp::Proc { .. } => "--proc",
        FsOp::Dev { .. } => "--dev",
        FsOp::Mqueue { .. } => "--mqueue",
        FsOp::Overlay {
            upper: Upper::Tmp, ..
        } => "--tmp-overlay",
        FsOp::Overlay { .. } => "--overlay",
        FsOp::Mask { .. } => "--mask",
        FsOp::File { .. } => "(generated file)",
    }
}

/// Parses `--perms OCTAL`.
pub fn parse_perms(s: &str) -> Result<u32, String> {
    match u32::from_str_radix(s, 8) {
        Ok(p) if p <= 0o7777 => Ok(p),
        _ => Err(format!(
            "--perms {s}: not an octal mode from 0 to 7777 (e.g. 0755)"
        )),
    }
}

/// Parses `--size BYTES`, with an optional k, m or g suffix (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let err = || format!("--size {s}: not a size in bytes (e.g. 1048576, 512k, 64m, 2g)");
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let mult = match c.to_ascii_lowercase() {
                'k' => 1u64 << 10,
                'm' => 1 << 20,
                'g' => 1 << 30,
                _ => return Err(err()),
            };
            (&s[..i], mult)
        }
        _ => (s, 1),
    };
    let n: u64 = num.parse().map_err(|_| err())?;
    match n.checked_mul(mult) {
        Some(0) | None => Err(err()),
        Some(v) => Ok(v),
    }
}

// ---------------------------------------------------------------------------------------------
// Applying the view (real system calls; run by sbx's PID 1 inside the new namespaces).

fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap_or_else(|_| CString::from(c"\u{1}invalid"))
}

fn mount_err(op: &'static str, target: &Path, errno: Errno, hint: impl Into<String>) -> Error {
    Error::Mount {
        op,
        target: target.to_path_buf(),
        errno,
        hint: hint.into(),
    }
}

/// A source opened in phase 1.
enum Source {
    None,
    Skip,
    Tree(OwnedFd),
    DevNodes(Vec<(&'static str, OwnedFd)>),
}

const DEV_NODES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];
const PROC_READ_ONLY: [&str; 4] = ["sys", "sysrq-trigger", "irq", "bus"];

/// Step 3 of the setup, run by sbx's PID 1: make the mounts private (or as asked), so that
/// nothing propagates to the host, then build the view and pivot into it.
pub fn build_view(sys: &mut impl Sys, view: &View) -> Result<Discarded> {
    // pivot_root refuses shared parents, so "shared" starts as a slave of the host (host mounts
    // still propagate in) and becomes shared inside the new root once it is built.
    let before = match view.propagation {
        Propagation::Private => Some(MsFlags::MS_PRIVATE),
        Propagation::Slave | Propagation::Shared => Some(MsFlags::MS_SLAVE),
        Propagation::Unchanged => None,
    };
    let root = Path::new("/");
    let err = |e| {
        mount_err(
            "set the propagation of",
            root,
            e,
            "the mount namespace could not be detached from the host's",
        )
    };
    if let Some(flag) = before {
        sys.mount(None, root, None, MsFlags::MS_REC | flag, None)
            .map_err(err)?;
    }
    let discarded = sys.apply_view(view)?;
    if view.propagation == Propagation::Shared {
        sys.mount(None, root, None, MsFlags::MS_REC | MsFlags::MS_SHARED, None)
            .map_err(err)?;
    }
    Ok(discarded)
}

/// Builds the view and pivots into it. Returns the private writable places to look at when
/// the command has exited ([`Discarded`]).
pub fn apply_view(view: &View) -> Result<Discarded> {
    // Phase 1: open every source while the host's tree is in place.
    let root_tree = match &view.root {
        Some(dir) => {
            let tree = clone_tree(dir, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, "--root")?;
            let op = FsOp::Bind {
                src: dir.clone(),
                dest: "/".into(),
                kind: BindKind::ReadWrite,
                optional: false,
            };
            guard(&tree, dir, &op, view)?;
            Some(tree)
        }
        None => None,
    };
    let mut sources = Vec::with_capacity(view.ops.len());
    for op in &view.ops {
        sources.push(open_source(op, view)?);
    }

    // Phase 2: the new root, attached at a staging point of this private namespace.
    let root_is_tmpfs = root_tree.is_none();
    let new_root = match root_tree {
        Some(fd) => fd,
        None => tmpfs(
            None,
            0o755,
            MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
            Path::new("/"),
        )?,
    };
    if view.noexec.iter().any(|d| d == Path::new("/")) {
        linux::mount_setattr(new_root.as_raw_fd(), true, MOUNT_ATTR_NOEXEC, 0, 0)
            .map_err(|e| mount_err("make noexec", Path::new("/"), e, "the view's root"))?;
    }
    let mut discarded = Discarded::default();
    if root_is_tmpfs && !view.ops.iter().any(|op| op.dest() == Path::new("/")) {
        discarded.track(Path::new("/"), &new_root);
    }
    let staging = Path::new("/tmp");
    linux::move_mount(
        new_root.as_raw_fd(),
        c"",
        libc::AT_FDCWD,
        &cstr(staging),
        MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(|e| {
        mount_err(
            "attach the new root on",
            staging,
            e,
            "a directory /tmp must exist on the host",
        )
    })?;
    drop(new_root);
    let mut b = Builder {
        staging: cstr(staging),
        store: None,
        files: 0,
        masks: 0,
        view,
        discarded,
    };
    for (op, source) in view.ops.iter().zip(sources) {
        b.apply(op, source, view.own_pid_ns)?;
    }
    b.discarded.baseline();

    // Phase 3: pivot_root(".", "."): the old root ends up stacked on the new one and is
    // detached at once.
    let top = b.root()?;
    nix::unistd::fchdir(top.as_raw_fd())
        .map_err(|e| mount_err("enter", Path::new("/"), e, "the new root"))?;
    nix::unistd::pivot_root(".", ".")
        .map_err(|e| mount_err("pivot_root into", Path::new("/"), e, "the new root"))?;
    nix::mount::umount2(".", MntFlags::MNT_DETACH).map_err(|e| {
        mount_err(
            "detach the old root from",
            Path::new("/"),
            e,
            "the old root",
        )
    })?;
    nix::unistd::chdir("/").map_err(|e| mount_err("enter", Path::new("/"), e, "the new root"))?;
    Ok(b.discarded)
}

/// Clones a host tree recursively and sets its attributes (all submounts included).
fn clone_tree(src: &Path, attr: u64, option: &'static str) -> Result<OwnedFd> {
    let fd = linux::open_tree(
        libc::AT_FDCWD,
        &cstr(src),
        OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | libc::AT_RECURSIVE as u32,
    )
    .map_err(|e| {
        mount_err(
            "clone the host's",
            src,
            e,
            format!("{option}: check that the source exists and is readable"),
        )
    })?;
    linux::mount_setattr(fd.as_raw_fd(), true, attr, 0, 0).map_err(|e| {
        mount_err(
            "protect",
            src,
            e,
            format!(
                "{option}: a submount of {} could not be made {}: {}",
                src.display(),
                describe_attr(attr),
                submounts(src).join(", ")
            ),
        )
    })?;
    Ok(fd)
}

fn describe_attr(attr: u64) -> String {
    let mut v = Vec::new();
    if attr & MOUNT_ATTR_RDONLY != 0 {
        v.push("read-only");
    }
    if attr & MOUNT_ATTR_NOSUID != 0 {
        v.push("nosuid");
    }
    if attr & MOUNT_ATTR_NODEV != 0 {
        v.push("nodev");
    }
    v.join(", ")
}

/// Mount points at or under `path` on the host, for error messages.
fn submounts(path: &Path) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| Path::new(m).starts_with(path))
        .map(String::from)
        .collect()
}

fn open_source(op: &FsOp, view: &View) -> Result<Source> {
    let own_pid_ns = view.own_pid_ns;
    Ok(match op {
        FsOp::Bind {
            src,
            kind,
            optional,
            ..
        } => {
            if view.create.contains(src) && std::fs::symlink_metadata(src).is_err() {
                use std::os::unix::fs::DirBuilderExt;
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(src)
                    .map_err(|e| {
                        mount_err(
                            "create",
                            src,
                            Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
                            "the policy asks for this directory to be created (create = true)",
                        )
                    })?;
            }
            if *optional && std::fs::symlink_metadata(src).is_err() {
                return Ok(Source::Skip);
            }
            let attr = match kind {
                BindKind::ReadOnly => MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                BindKind::ReadWrite => MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                BindKind::Dev => MOUNT_ATTR_NOSUID,
            };
            let tree = clone_tree(src, attr, op_name(op))?;
            if *kind != BindKind::ReadOnly {
                guard(&tree, src, op, view)?;
            }
            Source::Tree(tree)
        }
        FsOp::Overlay {
            lowers,
            upper,
            dest,
        } => Source::Tree(overlay(lowers, upper, dest)?),
        FsOp::Dev { .. } => {
            let mut nodes = Vec::new();
            for name in DEV_NODES {
                let path = Path::new("/dev").join(name);
                match linux::open_tree(
                    libc::AT_FDCWD,
                    &cstr(&path),
                    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC,
                ) {
                    Ok(fd) => nodes.push((name, fd)),
                    Err(Errno::ENOENT) => {}
                    Err(e) => {
                        return Err(mount_err(
                            "clone the host's",
                            &path,
                            e,
                            "--dev needs the host's basic device nodes",
                        ))
                    }
                }
            }
            Source::DevNodes(nodes)
        }
        FsOp::Proc { .. } if !own_pid_ns => {
            // A new procfs needs a PID namespace of the sandbox's own; show the host's instead.
            Source::Tree(clone_tree(
                Path::new("/proc"),
                MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                "--proc",
            )?)
        }
        _ => Source::None,
    })
}

/// Refuses a read-write tree whose root is `/`, a home or a directory above one: the plan
/// checked the path, this checks what was really opened.
fn guard(tree: &OwnedFd, src: &Path, op: &FsOp, view: &View) -> Result<()> {
    let st = nix::sys::stat::fstat(tree.as_raw_fd())
        .map_err(|e| mount_err("inspect", src, e, op_name(op).to_string()))?;
    if view.guarded.contains(&(st.st_dev, st.st_ino)) {
        return Err(mount_err(
            "bind read-write",
            src,
            Errno::EPERM,
            format!(
                "{}: it is /, your home or a directory above it (after following symlinks); \
                 give --allow-home-write on the command line if you mean it",
                op_name(op)
            ),
        ));
    }
    Ok(())
}

/// A detached tmpfs.
fn tmpfs(size: Option<u64>, perms: u32, attr: u64, dest: &Path) -> Result<OwnedFd> {
    let err = |e| {
        mount_err(
            "create a tmpfs for",
            dest,
            e,
            "the kernel refused a tmpfs with these options",
        )
    };
    let fs = linux::fsopen(c"tmpfs").map_err(err)?;
    let mode = CString::new(format!("{perms:o}")).unwrap_or_default();
    linux::fsconfig_string(&fs, c"mode", &mode).map_err(err)?;
    if let Some(size) = size {
        let size = CString::new(size.to_string()).unwrap_or_default();
        linux::fsconfig_string(&fs, c"size", &size).map_err(err)?;
    }
    linux::fsmount(&fs, attr).map_err(err)
}

/// A detached overlay of `lowers` (the last one highest).
fn overlay(lowers: &[PathBuf], upper: &Upper, dest: &Path) -> Result<OwnedFd> {
    let err = |e| {
        mount_err(
            "create an overlay for",
            dest,
            e,
            "overlayfs refused the layers (rootless overlays need Linux 5.11+; upper and work \
             directories must be on the same filesystem, and the work directory empty)",
        )
    };
    let fs = linux::fsopen(c"overlay").map_err(err)?;
    let escape = |p: &Path| {
        let s = p.as_os_str().as_bytes();
        let mut out = Vec::with_capacity(s.len());
        for &b in s {
            if b == b':' || b == b'\\' || b == b',' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out
    };
    let mut lowerdir = Vec::new();
    for (i, l) in lowers.iter().rev().enumerate() {
        if i > 0 {
            lowerdir.push(b':');
        }
        lowerdir.extend(escape(l));
    }
    linux::fsconfig_string(
        &fs,
        c"lowerdir",
        &CString::new(lowerdir).unwrap_or_default(),
    )
    .map_err(err)?;
    // The tmpfs that holds a --tmp-overlay's writes stays referenced by the overlay only.
    let _store;
    let (upperdir, workdir) = match upper {
        Upper::Tmp => {
            let store = tmpfs(None, 0o755, 0, dest)?;
            for d in ["upper", "work"] {
                nix::sys::stat::mkdirat(
                    Some(store.as_raw_fd()),
                    d,
                    Mode::from_bits_truncate(0o755),
                )
                .map_err(err)?;
            }
            let base = format!("/proc/self/fd/{}", store.as_raw_fd());
            _store = store;
            (
                PathBuf::from(format!("{base}/upper")),
                PathBuf::from(format!("{base}/work")),
            )
        }
        Upper::Dir { rw, work } => (rw.clone(), work.clone()),
    };
    linux::fsconfig_string(&fs, c"upperdir", &cstr(&upperdir)).map_err(err)?;
    linux::fsconfig_string(&fs, c"workdir", &cstr(&workdir)).map_err(err)?;
    // Rootless overlays keep their metadata in user.* xattrs.
    linux::fsconfig_flag(&fs, c"userxattr").map_err(err)?;
    linux::fsmount(&fs, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV).map_err(err)
}

struct Builder<'v> {
    /// Where the new root is attached, as a path of the old root.
    staging: CString,
    /// The tmpfs of generated files and file masks.
    store: Option<OwnedFd>,
    files: usize,
    masks: usize,
    view: &'v View,
    discarded: Discarded,
}

impl Builder<'_> {
    /// The top of the new root. Opened afresh each time, since a mount on "/" covers it.
    fn root(&self) -> Result<OwnedFd> {
        linux::openat2(
            libc::AT_FDCWD,
            &self.staging,
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            0,
        )
        .map_err(|e| mount_err("open", Path::new("/"), e, "the new root disappeared"))
    }

    /// Resolves `dest` beneath the new root without creating anything.
    fn resolve(&self, dest: &Path) -> Result<OwnedFd, Errno> {
        let root = self.root().map_err(|_| Errno::ENOENT)?;
        let rel = relative(dest);
        linux::openat2(
            root.as_raw_fd(),
            &rel,
            libc::O_PATH,
            0,
            RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        )
    }

    /// Resolves `dest` beneath the new root, creating missing components (directories, and
    /// the last one as a file when `dir` is false). Returns an O_PATH descriptor.
    fn mountpoint(&self, dest: &Path, dir: bool, option: &'static str) -> Result<OwnedFd> {
        let err = |e: Errno| {
            mount_err(
                "create the mount point",
                dest,
                e,
                format!("{option}: its parent must be writable in the view built so far (a tmpfs, --dir or a read-write bind)"),
            )
        };
        let root = self.root()?;
        let comps: Vec<&OsStr> = dest
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n),
                Component::ParentDir => Some(OsStr::new("..")),
                _ => None,
            })
            .collect();
        let resolve = |upto: usize, flags: i32| {
            let mut p = PathBuf::from(".");
            for c in &comps[..upto] {
                p.push(c);
            }
            linux::openat2(
                root.as_raw_fd(),
                &cstr(&p),
                flags,
                0,
                RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
            )
        };
        for i in 0..comps.len() {
            match resolve(i + 1, libc::O_PATH) {
                Ok(fd) if i + 1 == comps.len() => return Ok(fd),
                Ok(_) => continue,
                Err(Errno::ENOENT) => {
                    let parent = resolve(i, libc::O_PATH | libc::O_DIRECTORY).map_err(err)?;
                    let name = comps[i];
                    let last = i + 1 == comps.len();
                    let made = if last && !dir {
                        nix::fcntl::openat(
                            Some(parent.as_raw_fd()),
                            name,
                            OFlag::O_CREAT
                                | OFlag::O_EXCL
                                | OFlag::O_WRONLY
                                | OFlag::O_NOFOLLOW
                                | OFlag::O_CLOEXEC,
                            Mode::from_bits_truncate(0o644),
                        )
                        .and_then(nix::unistd::close)
                    } else {
                        nix::sys::stat::mkdirat(
                            Some(parent.as_raw_fd()),
                            name,
                            Mode::from_bits_truncate(0o755),
                        )
                    };
                    match made {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(err(e)),
                    }
                    let fd = resolve(i + 1, libc::O_PATH).map_err(err)?;
                    if last {
                        return Ok(fd);
                    }
                }
                Err(e) => return Err(err(e)),
            }
        }
        Ok(root)
    }

    /// Sets noexec on a detached tree when the policy lets no code run at `dest`.
    fn noexec(&self, tree: &OwnedFd, dest: &Path) -> Result<()> {
        if self.view.noexec.iter().any(|d| d == dest) {
            linux::mount_setattr(tree.as_raw_fd(), true, MOUNT_ATTR_NOEXEC, 0, 0).map_err(|e| {
                mount_err(
                    "make noexec",
                    dest,
                    e,
                    "the policy's landlock.execute list does not include it",
                )
            })?;
        }
        Ok(())
    }

    /// The project: bound read-write, with read-only parents down from the last place that
    /// existed in the view (a build that writes `../x` gets EROFS instead of losing it), and
    /// the protected paths inside it read-only.
    fn project(&mut self, tree: &OwnedFd, dest: &Path) -> Result<()> {
        if let Some(id) = self.view.project_id {
            let st = nix::sys::stat::fstat(tree.as_raw_fd())
                .map_err(|e| mount_err("inspect", dest, e, "the project"))?;
            if (st.st_dev, st.st_ino) != id {
                return Err(mount_err(
                    "bind the project",
                    dest,
                    Errno::ESTALE,
                    "the path now leads to another directory than the one sbx was started in \
                     (moved or swapped for a symlink meanwhile); start sbx again from the project",
                ));
            }
        }
        self.noexec(tree, dest)?;
        let option = "the project";
        let root = self.root()?;
        let comps: Vec<&OsStr> = dest
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n),
                _ => None,
            })
            .collect();
        // The deepest existing ancestor of the project inside the view.
        let mut have = 0;
        while have < comps.len() {
            let p: PathBuf = comps[..have + 1].iter().collect();
            match linux::openat2(
                root.as_raw_fd(),
                &cstr(&p),
                libc::O_PATH,
                0,
                RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
            ) {
                Ok(_) => have += 1,
                Err(Errno::ENOENT) => break,
                Err(e) => return Err(mount_err("find", dest, e, option)),
            }
        }
        let mut skeleton = None;
        if have + 1 < comps.len() {
            // The first missing directory becomes a small tmpfs holding the path down to the
            // project, made read-only once the project is attached.
            let first: PathBuf = std::iter::once(OsStr::new("/"))
                .chain(comps[..have + 1].iter().copied())
                .collect();
            let fd = tmpfs(
                Some(1 << 20),
                0o755,
                MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                &first,
            )?;
            let mut at = linux::openat2(fd.as_raw_fd(), c".", libc::O_PATH, 0, 0)
                .map_err(|e| mount_err("prepare the parents of", dest, e, option))?;
            for c in &comps[have + 1..] {
                nix::sys::stat::mkdirat(Some(at.as_raw_fd()), *c, Mode::from_bits_truncate(0o755))
                    .map_err(|e| mount_err("prepare the parents of", dest, e, option))?;
                at = linux::openat2(at.as_raw_fd(), &cstr(Path::new(c)), libc::O_PATH, 0, 0)
                    .map_err(|e| mount_err("prepare the parents of", dest, e, option))?;
            }
            self.attach(&fd, &first, option)?;
            skeleton = Some(fd);
        }
        self.attach(tree, dest, option)?;
        if let Some(fd) = skeleton {
            linux::mount_setattr(fd.as_raw_fd(), false, MOUNT_ATTR_RDONLY, 0, 0)
                .map_err(|e| mount_err("make read-only", dest, e, "the project's parents"))?;
        }
        self.protect(dest)
    }

    /// Makes the protected paths of a writable bind at `dest` read-only.
    fn protect(&mut self, dest: &Path) -> Result<()> {
        let Some(p) = self.view.protect.iter().find(|p| p.dest == dest) else {
            return Ok(());
        };
        if p.make_git_hooks {
            // Without it a sandbox could create .git/hooks and fill it: make it, empty, in the
            // project (git makes it too), so that it can be read-only here.
            if let Ok(git) = self.resolve(&dest.join(".git")) {
                let _ = nix::sys::stat::mkdirat(
                    Some(git.as_raw_fd()),
                    "hooks",
                    Mode::from_bits_truncate(0o755),
                );
            }
        }
        fn explain(rel: &Path) -> impl FnOnce(Error) -> Error + '_ {
            move |e: Error| {
                match e {
                Error::Mount { target, errno, .. } => mount_err(
                    "keep read-only",
                    &target,
                    errno,
                    format!(
                        "a protected path of the project (@protect) that sbx cannot keep read-only; \
                         remove or fix it, or let the sandbox write it with --unprotect {}",
                        rel.display()
                    ),
                ),
                other => other,
            }
            }
        }
        let p = p.clone();
        for rel in &p.pin {
            self.bind_over_itself(&dest.join(rel), false)
                .map_err(explain(rel))?;
        }
        for rel in &p.read_only {
            self.bind_over_itself(&dest.join(rel), true)
                .map_err(explain(rel))?;
        }
        Ok(())
    }

    fn attach(&self, tree: &OwnedFd, dest: &Path, option: &'static str) -> Result<()> {
        self.noexec(tree, dest)?;
        let is_dir = linux::fd_mode(tree.as_raw_fd())
            .map(|m| m & libc::S_IFMT == libc::S_IFDIR)
            .unwrap_or(true);
        let target = self.mountpoint(dest, is_dir, option)?;
        linux::move_mount(tree.as_raw_fd(), c"", target.as_raw_fd(), c"", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)
            .map_err(|e| mount_err("mount on", dest, e, format!("{option}: the source and the destination must both be directories or both files")))
    }

    fn apply(&mut self, op: &FsOp, source: Source, own_pid_ns: bool) -> Result<()> {
        let option = op_name(op);
        match (op, source) {
            (_, Source::Skip) => Ok(()),
            (
                FsOp::Bind {
                    dest,
                    kind: BindKind::ReadWrite,
                    ..
                },
                Source::Tree(fd),
            ) if self.view.project.as_deref() == Some(dest.as_path()) => self.project(&fd, dest),
            (FsOp::Bind { dest, .. }, Source::Tree(fd)) => {
                self.attach(&fd, dest, option)?;
                self.protect(dest)
            }
            (FsOp::Overlay { dest, .. }, Source::Tree(fd)) => self.attach(&fd, dest, option),
            (FsOp::Tmpfs { dest, size, perms }, _) => {
                let fd = tmpfs(*size, *perms, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, dest)?;
                self.attach(&fd, dest, option)?;
                // /tmp is scratch space by convention; every other private tmpfs is watched.
                if dest != Path::new("/tmp") {
                    self.discarded.track(dest, &fd);
                }
                Ok(())
            }
            (FsOp::Dir { dest, perms }, _) => {
                let fd = self.mountpoint(dest, true, option)?;
                if let Some(perms) = perms {
                    let dir = linux::openat2(
                        fd.as_raw_fd(),
                        c".",
                        libc::O_RDONLY | libc::O_DIRECTORY,
                        0,
                        0,
                    )
                    .and_then(|d| {
                        nix::sys::stat::fchmod(d.as_raw_fd(), Mode::from_bits_truncate(*perms))
                    })
                    .map_err(|e| mount_err("set the permissions of", dest, e, "--perms"));
                    dir?;
                }
                Ok(())
            }
            (FsOp::Symlink { target, dest }, _) => {
                let parent_path = dest.parent().unwrap_or(Path::new("/"));
                let name = dest.file_name().ok_or_else(|| {
                    mount_err(
                        "create the symlink",
                        dest,
                        Errno::EINVAL,
                        "--symlink needs a file name",
                    )
                })?;
                let parent = self.mountpoint(parent_path, true, option)?;
                match nix::unistd::symlinkat(target.as_path(), Some(parent.as_raw_fd()), name) {
                    Ok(()) => Ok(()),
                    Err(Errno::EEXIST)
                        if self.resolve_link(&parent, name).as_deref()
                            == Some(target.as_path()) =>
                    {
                        Ok(())
                    }
                    Err(e) => Err(mount_err(
                        "create the symlink",
                        dest,
                        e,
                        "--symlink: DEST must not exist yet",
                    )),
                }
            }
            (FsOp::RemountRo { dest }, _) => {
                let fd = self.resolve(dest).map_err(|e| {
                    mount_err("find", dest, e, "--remount-ro needs an existing path")
                })?;
                linux::mount_setattr(fd.as_raw_fd(), true, MOUNT_ATTR_RDONLY, 0, 0)
                    .map_err(|e| mount_err("make read-only", dest, e, "--remount-ro"))
            }
            (FsOp::Proc { dest }, source) => {
                let fd = match source {
                    Source::Tree(fd) => fd,
                    _ => {
                        let err = |e| {
                            mount_err("mount a fresh procfs on", dest, e,
                                "the kernel refuses a new procfs when the host's /proc is partly hidden (as in many containers); use --share-pid there")
                        };
                        let fs = linux::fsopen(c"proc").map_err(err)?;
                        linux::fsmount(
                            &fs,
                            MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                        )
                        .map_err(err)?
                    }
                };
                self.attach(&fd, dest, option)?;
                if own_pid_ns {
                    for sub in PROC_READ_ONLY {
                        self.bind_over_itself_ro(&dest.join(sub))?;
                    }
                }
                Ok(())
            }
            (FsOp::Dev { dest }, Source::DevNodes(nodes)) => self.dev(dest, nodes),
            (FsOp::Mqueue { dest }, _) => {
                let err = |e| {
                    mount_err(
                        "mount an mqueue filesystem on",
                        dest,
                        e,
                        "--mqueue needs the sandbox's own IPC namespace (drop --share-ipc)",
                    )
                };
                let fs = linux::fsopen(c"mqueue").map_err(err)?;
                let fd = linux::fsmount(
                    &fs,
                    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                )
                .map_err(err)?;
                self.attach(&fd, dest, option)
            }
            (FsOp::Mask { dest }, _) => self.mask(dest),
            (FsOp::File { dest, contents }, _) => self.file(dest, contents),
            (op, _) => Err(mount_err(
                "prepare",
                op.dest(),
                Errno::EINVAL,
                "internal error: the source was not opened",
            )),
        }
    }

    fn resolve_link(&self, parent: &OwnedFd, name: &OsStr) -> Option<PathBuf> {
        nix::fcntl::readlinkat(Some(parent.as_raw_fd()), name)
            .ok()
            .map(PathBuf::from)
    }

    /// Binds `path` (inside the view) over itself read-only, when it exists.
    fn bind_over_itself_ro(&self, path: &Path) -> Result<()> {
        self.bind_over_itself(path, true)
    }

    /// Binds `path` (inside the view) over itself, read-only or not, when it exists: a mount
    /// point cannot be renamed or removed.
    fn bind_over_itself(&self, path: &Path, read_only: bool) -> Result<()> {
        let fd = match self.resolve(path) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(()),
            Err(e) => return Err(mount_err("find", path, e, "a path kept read-only")),
        };
        let err = |e| {
            mount_err(
                "make read-only",
                path,
                e,
                "sbx keeps this path read-only (/proc/sys and friends, or a protected path of the project)",
            )
        };
        let clone = linux::open_tree(
            fd.as_raw_fd(),
            c"",
            OPEN_TREE_CLONE
                | OPEN_TREE_CLOEXEC
                | libc::AT_EMPTY_PATH as u32
                | libc::AT_RECURSIVE as u32,
        )
        .map_err(err)?;
        let attr = if read_only {
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC
        } else {
            MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV
        };
        linux::mount_setattr(clone.as_raw_fd(), true, attr, 0, 0).map_err(err)?;
        linux::move_mount(
            clone.as_raw_fd(),
            c"",
            fd.as_raw_fd(),
            c"",
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
        .map_err(err)
    }

    fn dev(&mut self, dest: &Path, nodes: Vec<(&'static str, OwnedFd)>) -> Result<()> {
        let base = tmpfs(None, 0o755, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, dest)?;
        self.attach(&base, dest, "--dev")?;
        for (name, fd) in nodes {
            self.attach(&fd, &dest.join(name), "--dev")?;
        }
        for (name, target) in [
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
            ("fd", "/proc/self/fd"),
            ("core", "/proc/kcore"),
            ("ptmx", "pts/ptmx"),
        ] {
            self.apply(
                &FsOp::Symlink {
                    target: target.into(),
                    dest: dest.join(name),
                },
                Source::None,
                true,
            )?;
        }
        let pts = dest.join("pts");
        let err = |e| {
            mount_err(
                "mount a devpts instance on",
                &pts,
                e,
                "--dev needs devpts (CONFIG_UNIX98_PTYS)",
            )
        };
        let fs = linux::fsopen(c"devpts").map_err(err)?;
        linux::fsconfig_flag(&fs, c"newinstance").map_err(err)?;
        linux::fsconfig_string(&fs, c"ptmxmode", c"0666").map_err(err)?;
        linux::fsconfig_string(&fs, c"mode", c"0620").map_err(err)?;
        let fd = linux::fsmount(&fs, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC).map_err(err)?;
        self.attach(&fd, &pts, "--dev")?;
        let shm = dest.join("shm");
        let fd = tmpfs(None, 0o1777, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, &shm)?;
        self.attach(&fd, &shm, "--dev")?;
        self.discarded.track(&shm, &fd);
        Ok(())
    }

    /// One small tmpfs for every generated file and file mask: each detached tree costs an RCU
    /// grace period when it is dissolved, so there is only one.
    fn store(&mut self, dest: &Path) -> Result<std::os::fd::RawFd> {
        if self.store.is_none() {
            let attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
            self.store = Some(tmpfs(Some(1 << 20), 0o755, attr, dest)?);
        }
        Ok(self.store.as_ref().map(AsRawFd::as_raw_fd).unwrap_or(-1))
    }

    /// Creates `name` in the store with `contents` and `mode`; returns a read-only clone of it.
    fn stored_file(
        &mut self,
        dest: &Path,
        name: &str,
        contents: &[u8],
        mode: u32,
    ) -> Result<OwnedFd> {
        let err = |e| mount_err("provide", dest, e, "sbx's own file");
        let store = self.store(dest)?;
        let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC;
        let fd = nix::fcntl::openat(Some(store), name, flags, Mode::from_bits_truncate(mode))
            .map_err(err)?;
        let written = linux::write_all_raw(fd, contents);
        let _ = nix::unistd::close(fd);
        written.map_err(err)?;
        let cname = CString::new(name).unwrap_or_default();
        let tree =
            linux::open_tree(store, &cname, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC).map_err(err)?;
        let attr = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        linux::mount_setattr(tree.as_raw_fd(), false, attr, 0, 0).map_err(err)?;
        Ok(tree)
    }

    fn file(&mut self, dest: &Path, contents: &[u8]) -> Result<()> {
        let parent = dest.parent().unwrap_or(Path::new("/"));
        if self.resolve(parent).is_err() {
            return Ok(());
        }
        self.files += 1;
        let tree = self.stored_file(dest, &format!("f{}", self.files), contents, 0o644)?;
        match self.mountpoint(dest, false, "(generated file)") {
            Ok(target) => linux::move_mount(
                tree.as_raw_fd(),
                c"",
                target.as_raw_fd(),
                c"",
                MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
            )
            .map_err(|e| mount_err("provide", dest, e, "sbx's generated file")),
            // A read-only /etc without the file: nothing to replace.
            Err(_) => Ok(()),
        }
    }

    fn mask(&mut self, dest: &Path) -> Result<()> {
        let target = match self.resolve(dest) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(()),
            Err(e) => return Err(mount_err("find", dest, e, "--mask")),
        };
        let is_dir = linux::fd_mode(target.as_raw_fd())
            .map(|m| m & libc::S_IFMT == libc::S_IFDIR)
            .unwrap_or(false);
        let attr = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        let cover = if is_dir {
            tmpfs(Some(4096), 0, attr, dest)?
        } else {
            self.masks += 1;
            self.stored_file(dest, &format!("m{}", self.masks), b"", 0)?
        };
        linux::move_mount(
            cover.as_raw_fd(),
            c"",
            target.as_raw_fd(),
            c"",
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
        .map_err(|e| mount_err("mask", dest, e, "--mask"))
    }
}

/// The host paths under `project` that `pattern` names (`*` matches one whole component;
/// hidden names included), in a stable order.
pub fn expand_pattern(project: &Path, pattern: &str, out: &mut Vec<PathBuf>) {
    let mut current = vec![project.to_path_buf()];
    for comp in pattern.split('/') {
        let mut next = Vec::new();
        for base in &current {
            if comp == "*" {
                let Ok(entries) = std::fs::read_dir(base) else {
                    continue;
                };
                let mut names: Vec<PathBuf> = entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path())
                    .collect();
                names.sort();
                next.extend(names);
            } else {
                let p = base.join(comp);
                if std::fs::symlink_metadata(&p).is_ok() {
                    next.push(p);
                }
            }
        }
        current = next;
    }
    for p in current {
        if !out.contains(&p) {
            out.push(p);
        }
    }
}

/// The private writable places of a view (its tmpfs mounts but /tmp, and /dev/shm): what the
/// command leaves there is discarded with the sandbox, and sbx says so at exit.
#[derive(Debug, Default)]
pub struct Discarded {
    places: Vec<Place>,
}

#[derive(Debug)]
struct Place {
    dest: PathBuf,
    /// The tmpfs itself (an O_PATH descriptor of its root), whatever is mounted over it later.
    fd: OwnedFd,
    dev: u64,
    /// Inodes in use once the view was built, and the inodes that sbx itself made.
    used: u64,
    own: Vec<u64>,
}

/// At most this many entries are looked at per place at exit.
const DISCARD_WALK_LIMIT: usize = 20_000;

impl Discarded {
    fn track(&mut self, dest: &Path, mount: &OwnedFd) {
        let Ok(fd) = linux::openat2(
            mount.as_raw_fd(),
            c".",
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            0,
        ) else {
            return;
        };
        let dev = nix::sys::stat::fstat(fd.as_raw_fd()).map_or(0, |st| st.st_dev);
        self.places.push(Place {
            dest: dest.to_path_buf(),
            fd,
            dev,
            used: 0,
            own: Vec::new(),
        });
    }

    /// Records what each place holds once the view is built (sbx's own mount points).
    fn baseline(&mut self) {
        for place in &mut self.places {
            place.used = inodes_used(&place.fd);
            let mut own = Vec::new();
            walk(&place.fd, place.dev, &mut |_, ino, _| own.push(ino));
            place.own = own;
        }
    }

    /// The places, for `sbx -v`.
    pub fn places(&self) -> Vec<PathBuf> {
        self.places.iter().map(|p| p.dest.clone()).collect()
    }

    /// What the command left in the private places: each new entry whose parent sbx made,
    /// with the number of entries in it (itself included). Cheap when nothing changed: one
    /// fstatfs per place.
    pub fn left_behind(&self) -> Vec<(PathBuf, usize)> {
        let mut out: Vec<(PathBuf, usize)> = Vec::new();
        for place in &self.places {
            if inodes_used(&place.fd) == place.used {
                continue;
            }
            // Relative paths of new directories, with the index of the entry they count for.
            let mut new_dirs: Vec<(PathBuf, usize)> = Vec::new();
            walk(&place.fd, place.dev, &mut |rel, ino, is_dir| {
                if place.own.contains(&ino) {
                    return;
                }
                let parent = rel.parent().unwrap_or(Path::new(""));
                let top = match new_dirs.iter().find(|(d, _)| d == parent) {
                    Some(&(_, i)) => {
                        out[i].1 += 1;
                        i
                    }
                    None => {
                        out.push((place.dest.join(rel), 1));
                        out.len() - 1
                    }
                };
                if is_dir {
                    new_dirs.push((rel.to_path_buf(), top));
                }
            });
        }
        out
    }
}

fn inodes_used(fd: &OwnedFd) -> u64 {
    nix::sys::statfs::fstatfs(fd).map_or(0, |s| s.files().saturating_sub(s.files_free()))
}

/// Walks a tmpfs from its root, parents before their children, without following symlinks
/// or crossing into other mounts: `f(relative path, inode, is a directory)`.
fn walk(root: &OwnedFd, dev: u64, f: &mut dyn FnMut(&Path, u64, bool)) {
    let mut queue: std::collections::VecDeque<PathBuf> = [PathBuf::new()].into();
    let mut seen = 0usize;
    while let Some(dir) = queue.pop_front() {
        let rel = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir.clone()
        };
        let Ok(mut d) = nix::dir::Dir::openat(
            Some(root.as_raw_fd()),
            &rel,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) else {
            continue;
        };
        let dfd = d.as_raw_fd();
        for entry in d.iter().flatten() {
            let name = entry.file_name();
            if name == c"." || name == c".." {
                continue;
            }
            seen += 1;
            if seen > DISCARD_WALK_LIMIT {
                return;
            }
            let name = OsStr::from_bytes(name.to_bytes());
            let Ok(st) =
                nix::sys::stat::fstatat(Some(dfd), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
            else {
                continue;
            };
            if st.st_dev != dev {
                continue; // a mount point: someone else's files
            }
            let path = dir.join(name);
            let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
            f(&path, st.st_ino, is_dir);
            if is_dir {
                queue.push_back(path);
            }
        }
    }
}

/// `dest` as a path relative to the new root, for openat2.
fn relative(dest: &Path) -> CString {
    let rel = dest.strip_prefix("/").unwrap_or(dest);
    if rel.as_os_str().is_empty() {
        CString::from(c".")
    } else {
        cstr(rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perms_and_sizes_parse_or_explain() {
        assert_eq!(parse_perms("0755").unwrap(), 0o755);
        assert_eq!(parse_perms("1777").unwrap(), 0o1777);
        assert!(parse_perms("999").unwrap_err().contains("--perms 999"));
        assert!(parse_perms("77777").is_err());
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("64m").unwrap(), 64 << 20);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        for bad in ["12x", "", "k", "0", "-1", "99999999999999999999g"] {
            assert!(parse_size(bad).unwrap_err().contains("--size"), "{bad}");
        }
    }

    #[test]
    fn default_view_hides_home_but_brings_back_cwd_and_toolchains() {
        let home = Path::new("/home/u");
        let exists = |p: &Path| {
            ["/home/u", "/home/u/.cargo", "/home/u/.ssh"]
                .iter()
                .any(|e| p == Path::new(e))
        };
        let v = default_view(
            &[home.to_path_buf()],
            Some(Path::new("/home/u/proj")),
            &exists,
            true,
        );
        let dests: Vec<String> = v
            .ops
            .iter()
            .map(|o| format!("{} {}", op_name(o), o.dest().display()))
            .collect();
        assert_eq!(
            dests,
            vec![
                "--ro-bind /",
                "--dev /dev",
                "--proc /proc",
                "--tmpfs /tmp",
                "--tmpfs /var/tmp",
                "--tmpfs /run",
                "--tmpfs /home/u",
                "--tmp-overlay /home/u/.cargo",
                "--bind-try /home/u/proj",
            ]
        );
        assert_eq!(v.project.as_deref(), Some(Path::new("/home/u/proj")));
        let v = default_view(&[], None, &|_| true, true);
        assert!(
            !v.ops.iter().any(|o| matches!(
                o,
                FsOp::Bind {
                    kind: BindKind::ReadWrite,
                    ..
                }
            )),
            "without a project nothing comes back writable"
        );
    }

    #[test]
    fn validation_names_the_option_and_path() {
        let view = |op| View {
            ops: vec![op],
            ..View::empty(true)
        };
        let err = validate(&view(FsOp::Bind {
            src: "/no/such/src".into(),
            dest: "/x".into(),
            kind: BindKind::ReadOnly,
            optional: false,
        }))
        .unwrap_err();
        assert!(err.contains("--ro-bind /no/such/src"), "{err}");
        assert!(validate(&view(FsOp::Bind {
            src: "/no/such/src".into(),
            dest: "/x".into(),
            kind: BindKind::ReadOnly,
            optional: true
        }))
        .is_ok());
        let err = validate(&view(FsOp::Tmpfs {
            dest: "rel".into(),
            size: None,
            perms: 0o755,
        }))
        .unwrap_err();
        assert!(err.contains("--tmpfs rel"), "{err}");
        let err = validate(&view(FsOp::Overlay {
            lowers: vec![],
            upper: Upper::Tmp,
            dest: "/usr".into(),
        }))
        .unwrap_err();
        assert!(err.contains("--overlay-src"), "{err}");
    }
}
