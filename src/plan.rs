//! The plan: the command line turned into a pure, validated description of the sandbox. Every
//! check that can be made before the first system call is made here, so bad input fails with a
//! clear message and changes nothing.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use clap::{ArgMatches, FromArgMatches};

use crate::cli::{Cli, Propagation};
use crate::confine::caps::parse_capability;
use crate::error::{Error, Result};
use crate::exec::{self, EnvOp};
use crate::ns::mount::{self, BindKind, FsOp, Upper, View};
use crate::ns::user::IdMap;
use crate::ns::{Ns, NsSet};

/// The hostname of a sandbox with its own UTS namespace, unless --hostname says otherwise.
pub const DEFAULT_HOSTNAME: &str = "sbx";

/// The caller's identity and environment, read once at start-up (a test fills it by hand).
#[derive(Debug, Clone)]
pub struct Caller {
    pub uid: u32,
    pub gid: u32,
    pub cwd: Option<PathBuf>,
    pub env: Vec<(OsString, OsString)>,
}

impl Caller {
    pub fn current() -> Caller {
        Caller {
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            cwd: std::env::current_dir().ok(),
            env: std::env::vars_os().collect(),
        }
    }

    fn var(&self, name: &str) -> Option<OsString> {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

/// Where the command starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Workdir {
    /// Asked for with --chdir: failing to enter it is an error.
    Explicit(PathBuf),
    /// The caller's directory, when it exists inside; else /.
    Inherited(Option<PathBuf>),
}

/// A validated description of one sandbox.
#[derive(Debug, Clone)]
pub struct Plan {
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    pub uid: IdMap,
    pub gid: IdMap,
    /// The namespaces to create, the user namespace included.
    pub namespaces: NsSet,
    pub hostname: Option<String>,
    pub view: View,
    pub workdir: Workdir,
    /// Capabilities kept, as a bit mask over capability numbers.
    pub keep_caps: u64,
    pub as_pid_1: bool,
    pub new_session: bool,
    pub json_status_fd: Option<i32>,
    pub verbose: bool,
}

impl Plan {
    /// Parses the command line (without the program name's handling of --help) into a plan.
    pub fn from_matches(matches: &ArgMatches, caller: &Caller) -> Result<Plan> {
        let cli = Cli::from_arg_matches(matches).map_err(|e| Error::Usage(e.to_string()))?;
        Plan::build(cli, env_ops(matches), fs_args(matches), caller)
    }

    fn build(cli: Cli, env_ops: Vec<EnvOp>, fs_args: Vec<FsArg>, caller: &Caller) -> Result<Plan> {
        let usage = Error::Usage;
        let (mut inner_uid, mut inner_gid) = if cli.map_root {
            (0, 0)
        } else {
            (caller.uid, caller.gid)
        };
        if let Some(uid) = cli.uid {
            inner_uid = uid;
        }
        if let Some(gid) = cli.gid {
            inner_gid = gid;
        }
        for id in [inner_uid, inner_gid] {
            if id == u32::MAX {
                return Err(usage(format!("--uid/--gid {id}: -1 is not a valid id")));
            }
        }

        let namespaces = NsSet::empty()
            .with(Ns::User, true)
            .with(Ns::Mount, true)
            .with(Ns::Pid, !cli.share_pid)
            .with(Ns::Ipc, !cli.share_ipc)
            .with(Ns::Uts, !cli.share_uts)
            .with(Ns::Net, !cli.share_net)
            .with(Ns::Cgroup, !cli.share_cgroup)
            .with(Ns::Time, cli.unshare_time);

        let hostname = match (namespaces.contains(Ns::Uts), cli.hostname) {
            (true, name) => {
                let name = name.unwrap_or_else(|| DEFAULT_HOSTNAME.to_string());
                crate::ns::uts::validate_hostname(&name).map_err(usage)?;
                Some(name)
            }
            (false, None) => None,
            (false, Some(_)) => {
                return Err(usage(
                    "--hostname needs a UTS namespace of the sandbox's own: drop --share-uts"
                        .into(),
                ))
            }
        };

        let mut keep_caps = 0u64;
        for name in &cli.cap_add {
            keep_caps |= parse_capability(name).map_err(usage)?;
        }

        for op in &env_ops {
            match op {
                EnvOp::Set(k, _) => exec::validate_env_name("--setenv", k),
                EnvOp::Unset(k) => exec::validate_env_name("--unsetenv", k),
            }
            .map_err(usage)?;
        }
        let env = exec::build_env(caller.env.iter().cloned(), cli.clearenv, &env_ops);
        let envp = exec::to_envp(&env).map_err(usage)?;

        let command = if cli.command.is_empty() {
            exec::default_command(caller.var("SHELL"))
        } else {
            cli.command
        };
        let argv = command
            .into_iter()
            .map(|a| CString::new(a.into_vec()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| usage("the command or one of its arguments contains a NUL byte".into()))?;

        let workdir = match cli.chdir {
            Some(dir) if dir.is_relative() => {
                return Err(usage(format!(
                    "--chdir {}: give an absolute path (it is resolved inside the sandbox)",
                    dir.display()
                )))
            }
            Some(dir) => Workdir::Explicit(dir),
            None => Workdir::Inherited(caller.cwd.clone()),
        };

        if let Some(fd) = cli.json_status_fd {
            if fd < 0 || !crate::sys::linux::fd_is_open(fd) {
                return Err(usage(format!(
                    "--json-status-fd {fd}: not an open file descriptor (open it in the shell, e.g. `3>status.json`)"
                )));
            }
        }

        let own_pid_ns = namespaces.contains(Ns::Pid);
        let mut view = if fs_args.iter().any(|a| a.starts_view()) || cli.root.is_some() {
            let ops = fs_ops(fs_args).map_err(usage)?;
            let mut view = View {
                root: cli.root.clone(),
                ops,
                propagation: Propagation::Private,
                own_pid_ns,
            };
            if let Some(root) = &cli.root {
                if view.ops.is_empty() {
                    view.ops = root_defaults(root);
                }
            }
            view
        } else {
            let masks = fs_ops(fs_args).map_err(usage)?;
            let home = caller.var("HOME").map(PathBuf::from);
            let mut view = mount::default_view(
                home.as_deref(),
                caller.cwd.as_deref(),
                &|p: &std::path::Path| p.symlink_metadata().is_ok(),
                own_pid_ns,
            );
            view.ops.extend(masks);
            view
        };
        if let Some(p) = cli.propagation {
            view.propagation = p;
        }
        mount::validate(&view).map_err(usage)?;

        Ok(Plan {
            argv,
            envp,
            uid: IdMap {
                inside: inner_uid,
                outside: caller.uid,
            },
            gid: IdMap {
                inside: inner_gid,
                outside: caller.gid,
            },
            view,
            namespaces,
            hostname,
            workdir,
            keep_caps,
            as_pid_1: cli.as_pid_1,
            new_session: cli.new_session,
            json_status_fd: cli.json_status_fd,
            verbose: cli.verbose,
        })
    }
}

/// One filesystem option as given on the command line.
#[derive(Debug, Clone)]
struct FsArg {
    id: &'static str,
    values: Vec<PathBuf>,
}

impl FsArg {
    /// Whether this option describes an explicit view (which then starts empty).
    fn starts_view(&self) -> bool {
        !matches!(self.id, "mask" | "size" | "perms")
    }
}

/// The filesystem options and how many values each takes.
const FS_ARGS: &[(&str, usize)] = &[
    ("bind", 2),
    ("bind_try", 2),
    ("ro_bind", 2),
    ("ro_bind_try", 2),
    ("dev_bind", 2),
    ("dev_bind_try", 2),
    ("tmpfs", 1),
    ("size", 1),
    ("perms", 1),
    ("dir", 1),
    ("symlink", 2),
    ("remount_ro", 1),
    ("proc", 1),
    ("dev", 1),
    ("mqueue", 1),
    ("overlay_src", 1),
    ("tmp_overlay", 1),
    ("overlay", 3),
    ("mask", 1),
];

/// The filesystem options in command-line order.
fn fs_args(matches: &ArgMatches) -> Vec<FsArg> {
    let mut args: Vec<(usize, FsArg)> = Vec::new();
    for &(id, arity) in FS_ARGS {
        let (Some(values), Some(indices)) = (matches.get_raw(id), matches.indices_of(id)) else {
            continue;
        };
        let values: Vec<PathBuf> = values.map(PathBuf::from).collect();
        let indices: Vec<usize> = indices.collect();
        for (vals, idx) in values.chunks(arity).zip(indices.chunks(arity)) {
            args.push((
                idx[0],
                FsArg {
                    id,
                    values: vals.to_vec(),
                },
            ));
        }
    }
    args.sort_by_key(|(idx, _)| *idx);
    args.into_iter().map(|(_, a)| a).collect()
}

/// Turns the ordered options into view operations: --size and --perms apply to the next
/// --tmpfs or --dir, --overlay-src layers to the next overlay.
fn fs_ops(args: Vec<FsArg>) -> Result<Vec<FsOp>, String> {
    let mut ops = Vec::new();
    let (mut size, mut perms, mut lowers) = (None, None, Vec::new());
    for a in args {
        let v = |i: usize| a.values[i].clone();
        let bind = |kind, optional| FsOp::Bind {
            src: v(0),
            dest: v(1),
            kind,
            optional,
        };
        let text = |i: usize| a.values[i].to_string_lossy().into_owned();
        ops.push(match a.id {
            "bind" => bind(BindKind::ReadWrite, false),
            "bind_try" => bind(BindKind::ReadWrite, true),
            "ro_bind" => bind(BindKind::ReadOnly, false),
            "ro_bind_try" => bind(BindKind::ReadOnly, true),
            "dev_bind" => bind(BindKind::Dev, false),
            "dev_bind_try" => bind(BindKind::Dev, true),
            "size" => {
                size = Some(mount::parse_size(&text(0))?);
                continue;
            }
            "perms" => {
                perms = Some(mount::parse_perms(&text(0))?);
                continue;
            }
            "tmpfs" => FsOp::Tmpfs {
                dest: v(0),
                size: size.take(),
                perms: perms.take().unwrap_or(0o755),
            },
            "dir" => FsOp::Dir {
                dest: v(0),
                perms: perms.take(),
            },
            "symlink" => FsOp::Symlink {
                target: v(0),
                dest: v(1),
            },
            "remount_ro" => FsOp::RemountRo { dest: v(0) },
            "proc" => FsOp::Proc { dest: v(0) },
            "dev" => FsOp::Dev { dest: v(0) },
            "mqueue" => FsOp::Mqueue { dest: v(0) },
            "overlay_src" => {
                lowers.push(v(0));
                continue;
            }
            "tmp_overlay" => FsOp::Overlay {
                lowers: std::mem::take(&mut lowers),
                upper: Upper::Tmp,
                dest: v(0),
            },
            "overlay" => FsOp::Overlay {
                lowers: std::mem::take(&mut lowers),
                upper: Upper::Dir {
                    rw: v(0),
                    work: v(1),
                },
                dest: v(2),
            },
            "mask" => FsOp::Mask { dest: v(0) },
            other => return Err(format!("internal error: unknown filesystem option {other}")),
        });
    }
    if size.is_some() || perms.is_some() {
        return Err(
            "--size and --perms apply to a following --tmpfs or --dir; none follows".into(),
        );
    }
    if !lowers.is_empty() {
        return Err("--overlay-src needs a following --tmp-overlay or --overlay".into());
    }
    Ok(ops)
}

/// What `--root DIR` alone mounts: /dev, /proc and /tmp where the tree has them.
fn root_defaults(root: &std::path::Path) -> Vec<FsOp> {
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

/// The --setenv and --unsetenv operations in the order they were given.
fn env_ops(matches: &ArgMatches) -> Vec<EnvOp> {
    let mut ops: Vec<(usize, EnvOp)> = Vec::new();
    if let (Some(values), Some(indices)) = (matches.get_raw("setenv"), matches.indices_of("setenv"))
    {
        let values: Vec<OsString> = values.map(OsString::from).collect();
        let indices: Vec<usize> = indices.collect();
        for (pair, idx) in values.chunks(2).zip(indices.chunks(2)) {
            if let [k, v] = pair {
                ops.push((idx[0], EnvOp::Set(k.clone(), v.clone())));
            }
        }
    }
    if let (Some(values), Some(indices)) =
        (matches.get_raw("unsetenv"), matches.indices_of("unsetenv"))
    {
        for (v, idx) in values.zip(indices) {
            ops.push((idx, EnvOp::Unset(v.to_os_string())));
        }
    }
    ops.sort_by_key(|(idx, _)| *idx);
    ops.into_iter().map(|(_, op)| op).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> Caller {
        Caller {
            uid: 1000,
            gid: 1001,
            cwd: Some("/home/u/p".into()),
            env: vec![
                ("SHELL".into(), "/bin/bash".into()),
                ("KEEP".into(), "1".into()),
            ],
        }
    }

    fn plan(args: &[&str]) -> Result<Plan> {
        let mut argv = vec!["sbx"];
        argv.extend_from_slice(args);
        let m = crate::cli::command()
            .try_get_matches_from(argv)
            .map_err(|e| Error::Usage(e.to_string()))?;
        Plan::from_matches(&m, &caller())
    }

    #[test]
    fn defaults_are_map_current_all_namespaces_and_the_shell() {
        let p = plan(&[]).unwrap();
        assert_eq!(
            p.uid,
            IdMap {
                inside: 1000,
                outside: 1000
            }
        );
        assert_eq!(
            p.gid,
            IdMap {
                inside: 1001,
                outside: 1001
            }
        );
        for ns in [
            Ns::User,
            Ns::Mount,
            Ns::Pid,
            Ns::Ipc,
            Ns::Uts,
            Ns::Net,
            Ns::Cgroup,
        ] {
            assert!(p.namespaces.contains(ns), "{ns:?}");
        }
        assert!(!p.namespaces.contains(Ns::Time));
        assert_eq!(p.argv, vec![CString::new("/bin/bash").unwrap()]);
        assert_eq!(p.hostname.as_deref(), Some("sbx"));
        assert_eq!(p.keep_caps, 0);
        assert_eq!(p.workdir, Workdir::Inherited(Some("/home/u/p".into())));
    }

    #[test]
    fn identity_options() {
        let p = plan(&["--map-root", "--", "id"]).unwrap();
        assert_eq!((p.uid.inside, p.gid.inside), (0, 0));
        let p = plan(&["-r", "--map-current", "id"]).unwrap();
        assert_eq!((p.uid.inside, p.gid.inside), (1000, 1001));
        let p = plan(&["-r", "--uid", "5", "--gid", "6", "id"]).unwrap();
        assert_eq!((p.uid.inside, p.gid.inside), (5, 6));
        assert_eq!(p.uid.outside, 1000);
    }

    #[test]
    fn share_options_remove_namespaces() {
        let p = plan(&["--share-net", "--share-uts", "--unshare-time", "true"]).unwrap();
        assert!(!p.namespaces.contains(Ns::Net));
        assert!(!p.namespaces.contains(Ns::Uts));
        assert!(p.namespaces.contains(Ns::Time));
        assert_eq!(p.hostname, None);
        let p = plan(&["--share-pid", "true"]).unwrap();
        assert!(!p.view.own_pid_ns);
    }

    #[test]
    fn env_operations_keep_command_line_order() {
        let p = plan(&[
            "--setenv",
            "X",
            "1",
            "--unsetenv",
            "X",
            "--setenv",
            "Y",
            "2",
            "--unsetenv",
            "KEEP",
            "env",
        ])
        .unwrap();
        let envp: Vec<&str> = p.envp.iter().map(|e| e.to_str().unwrap()).collect();
        assert_eq!(envp, vec!["SHELL=/bin/bash", "Y=2"]);
        let p = plan(&["--clearenv", "--setenv", "A", "b", "env"]).unwrap();
        assert_eq!(p.envp, vec![CString::new("A=b").unwrap()]);
    }

    #[test]
    fn bad_input_is_a_usage_error() {
        for args in [
            &["--cap-add", "CAP_BOGUS", "true"][..],
            &["--hostname", "", "true"],
            &["--chdir", "relative", "true"],
            &["--setenv", "A=B", "x", "true"],
            &["--json-status-fd", "987", "true"],
        ] {
            let err = plan(args).unwrap_err();
            assert!(matches!(err, Error::Usage(_)), "{args:?}: {err}");
            assert_eq!(err.exit_code(), 125);
        }
    }

    #[test]
    fn command_arguments_with_dashes_stay_with_the_command() {
        let p = plan(&["ls", "-la", "--verbose"]).unwrap();
        assert_eq!(p.argv.len(), 3);
        assert!(!p.verbose);
    }
}
