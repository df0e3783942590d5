//! The plan: the command line turned into a pure, validated description of the sandbox. Every
//! check that can be made before the first system call is made here, so bad input fails with a
//! clear message and changes nothing.

mod context;
pub mod view;

pub use context::{Caller, Project, Vars};

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use clap::{ArgMatches, FromArgMatches};

use crate::cli::Cli;
use crate::confine::caps::parse_capability;
use crate::confine::landlock::{LandlockPlan, Mode as LandlockMode, Scope};
use crate::confine::seccomp::{self, sock_filter, Action, SeccompSpec};
use crate::error::{Error, Result};
use crate::exec::{self, EnvOp};
use crate::idmap::subid::{IdKind, IdMapping};
use crate::idmap::{build_map, Owner, Request};
use crate::ns::mount::{self, BindKind, FsOp, Upper, View};
use crate::ns::net::{NetMode, Publish};
use crate::ns::user::IdMap;
use crate::ns::{Ns, NsSet};
use crate::policy::schema::MapMode;
use crate::policy::Policy;

/// The hostname of a sandbox with its own UTS namespace, unless --hostname says otherwise.
pub const DEFAULT_HOSTNAME: &str = "sbx";

pub use crate::confine::{Confinement, Workdir};

/// A validated description of one sandbox.
#[derive(Debug, Clone)]
pub struct Plan {
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    pub uid: IdMap,
    pub gid: IdMap,
    /// Id ranges (uid and gid map lines) that newuidmap and newgidmap write from outside;
    /// None for the fast path, where the keeper maps its own ids itself.
    pub ranges: Option<(Vec<IdMapping>, Vec<IdMapping>)>,
    /// The namespaces to create, the user namespace included.
    pub namespaces: NsSet,
    pub hostname: Option<String>,
    pub view: View,
    pub workdir: Workdir,
    /// Landlock, limits, capabilities, seccomp: what confines the command (and `sbx enter`).
    pub confinement: Confinement,
    pub as_pid_1: bool,
    /// sbx (and so the sandbox) dies when the process that started it dies.
    pub die_with_parent: bool,
    pub json_status_fd: Option<i32>,
    pub verbose: bool,
    /// The network mode, and the ports published with pasta.
    pub net: NetMode,
    pub publish: Vec<Publish>,
    /// The policy's name, for messages.
    pub policy: String,
    /// --name, with the runtime directory it is registered in.
    pub name: Option<(String, PathBuf)>,
    /// --persist DIR (real root only).
    pub persist: Option<PathBuf>,
    /// What sbx says once before it starts (e.g. that the working directory is not a project).
    pub notes: Vec<String>,
    /// The caller's home (password database), to name paths under it `~/...` in messages.
    pub home: Option<PathBuf>,
}

impl Plan {
    /// Turns the command line, and the policy it names, into a plan.
    pub fn from_matches(matches: &ArgMatches, caller: &Caller) -> Result<Plan> {
        let cli = Cli::from_arg_matches(matches).map_err(|e| Error::Usage(e.to_string()))?;
        Plan::from_cli(cli, env_ops(matches), fs_args(matches), caller)
    }

    /// `sbx -- COMMAND...`, the most common invocation: no option at all, so the command line
    /// needs no parser (building clap's command costs more than the rest of the plan).
    pub fn for_command(command: Vec<OsString>, caller: &Caller) -> Result<Plan> {
        Plan::from_cli(
            Cli {
                command,
                ..Cli::default()
            },
            Vec::new(),
            Vec::new(),
            caller,
        )
    }

    fn from_cli(
        cli: Cli,
        env_ops: Vec<EnvOp>,
        fs_args: Vec<FsArg>,
        caller: &Caller,
    ) -> Result<Plan> {
        let env = |k: &str| caller.var(k).map(|v| v.to_string_lossy().into_owned());
        let name = cli.policy.clone().unwrap_or_else(|| "default".into());
        let policy = crate::policy::resolve(&name, &env).map_err(Error::Policy)?;
        Plan::build(cli, &policy, env_ops, fs_args, caller)
    }

    fn build(
        cli: Cli,
        policy: &Policy,
        cli_env: Vec<EnvOp>,
        fs_args: Vec<FsArg>,
        caller: &Caller,
    ) -> Result<Plan> {
        let usage = Error::Usage;
        let flag = |v: &Option<crate::policy::Val<bool>>, default: bool| {
            v.as_ref().map_or(default, |v| v.v)
        };

        // Identity: the command line, else the policy, else the caller's own ids.
        let policy_map = policy.map.as_ref().map(|m| m.v);
        // `auto` puts the caller at 0 inside, with the subordinate ids from 1 on.
        let any_auto = policy
            .map_users
            .iter()
            .chain(&policy.map_groups)
            .any(|v| v.v == "auto")
            || cli
                .map_users
                .iter()
                .chain(&cli.map_groups)
                .any(|v| v == "auto");
        let map_auto = cli.map_auto
            || (!cli.map_root && !cli.map_current && policy_map == Some(MapMode::Auto));
        let map_root_for_auto = map_auto || any_auto;
        let map_root = if cli.map_root || map_root_for_auto {
            true
        } else if cli.map_current {
            false
        } else {
            policy_map == Some(MapMode::Root)
        };
        let (mut inner_uid, mut inner_gid) = if map_root {
            (0, 0)
        } else {
            (caller.uid, caller.gid)
        };
        if let Some(uid) = cli.uid.or(policy.uid.as_ref().map(|v| v.v)) {
            inner_uid = uid;
        }
        if let Some(gid) = cli.gid.or(policy.gid.as_ref().map(|v| v.v)) {
            inner_gid = gid;
        }
        for id in [inner_uid, inner_gid] {
            if id == u32::MAX {
                return Err(usage(format!("--uid/--gid {id}: -1 is not a valid id")));
            }
        }

        let policy_net = policy.net_mode.as_ref().map(|m| m.v);
        let net = match (cli.net, cli.share_net) {
            (Some(NetMode::Host) | None, true) => NetMode::Host,
            (Some(mode), true) => {
                return Err(usage(
                    format!("--share-net conflicts with --net {mode:?}: give one of them")
                        .to_lowercase(),
                ))
            }
            (Some(mode), false) => mode,
            (None, false) => policy_net.unwrap_or(if flag(&policy.ns_net, true) {
                NetMode::None
            } else {
                NetMode::Host
            }),
        };
        let host_net = net == NetMode::Host;
        let users: Vec<&str> = policy
            .map_users
            .iter()
            .map(|v| v.v.as_str())
            .chain(cli.map_users.iter().map(String::as_str))
            .collect();
        let groups: Vec<&str> = policy
            .map_groups
            .iter()
            .map(|v| v.v.as_str())
            .chain(cli.map_groups.iter().map(String::as_str))
            .collect();
        let ranges = id_ranges(
            map_auto,
            &users,
            &groups,
            (inner_uid, inner_gid),
            caller,
            cli.verbose,
        )?;

        let mut publish = Vec::new();
        for spec in policy
            .net_publish
            .iter()
            .map(|v| v.v.as_str())
            .chain(cli.publish.iter().map(String::as_str))
        {
            publish.push(crate::ns::net::parse_publish(spec).map_err(usage)?);
        }
        if !publish.is_empty() && net != NetMode::Pasta {
            return Err(usage(
                "--publish forwards ports through pasta: add --net pasta".into(),
            ));
        }
        let namespaces = NsSet::empty()
            .with(Ns::User, true)
            .with(Ns::Mount, flag(&policy.ns_mount, true))
            .with(Ns::Pid, flag(&policy.ns_pid, true) && !cli.share_pid)
            .with(Ns::Ipc, flag(&policy.ns_ipc, true) && !cli.share_ipc)
            .with(Ns::Uts, flag(&policy.ns_uts, true) && !cli.share_uts)
            .with(Ns::Net, !host_net)
            .with(
                Ns::Cgroup,
                flag(&policy.ns_cgroup, true) && !cli.share_cgroup,
            )
            .with(Ns::Time, flag(&policy.ns_time, false) || cli.unshare_time);
        if !namespaces.contains(Ns::Mount) {
            return Err(usage(format!(
                "policy {}: namespaces.mount = false is not supported: sbx always builds its own filesystem view",
                policy.name
            )));
        }

        let hostname = match (namespaces.contains(Ns::Uts), cli.hostname) {
            (true, name) => {
                let name = name
                    .or_else(|| policy.hostname.as_ref().map(|h| h.v.clone()))
                    .unwrap_or_else(|| DEFAULT_HOSTNAME.to_string());
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
        for name in policy
            .caps_keep
            .iter()
            .map(|v| v.v.as_str())
            .chain(cli.cap_add.iter().map(String::as_str))
        {
            keep_caps |= parse_capability(name).map_err(usage)?;
        }
        if ranges.is_some() && inner_uid == 0 {
            // Root over a range of ids: chown, tar and package managers need these, and they
            // act only on ids mapped into the sandbox.
            use caps::Capability as C;
            for cap in [
                C::CAP_CHOWN,
                C::CAP_DAC_OVERRIDE,
                C::CAP_FOWNER,
                C::CAP_FSETID,
                C::CAP_SETUID,
                C::CAP_SETGID,
            ] {
                keep_caps |= cap.bitmask();
            }
        }

        for op in &cli_env {
            match op {
                EnvOp::Set(k, _) => exec::validate_env_name("--setenv", k),
                EnvOp::Unset(k) => exec::validate_env_name("--unsetenv", k),
            }
            .map_err(usage)?;
        }
        let mut base: Vec<(OsString, OsString)> = caller.env.clone();
        if flag(&policy.env_clear, false) {
            base.retain(|(k, _)| policy.env_keep.iter().any(|keep| *k == *keep.v));
        }
        let mut ops: Vec<EnvOp> = policy
            .env_set
            .iter()
            .map(|v| EnvOp::Set(v.v.0.clone().into(), v.v.1.clone().into()))
            .chain(
                policy
                    .env_unset
                    .iter()
                    .map(|v| EnvOp::Unset(v.v.clone().into())),
            )
            .collect();
        if cli.clearenv {
            base.clear();
            ops.clear();
        }
        ops.extend(cli_env);
        let env = exec::build_env(base.into_iter(), false, &ops);
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

        if let Some(dir) = cli.chdir.as_ref().filter(|d| d.is_relative()) {
            return Err(usage(format!(
                "--chdir {}: give an absolute path (it is resolved inside the sandbox)",
                dir.display()
            )));
        }
        // The project: --chdir DIR when it is a directory of the host, else the working
        // directory; none when that is home, above it, / or a shared place.
        // The homes to hide, and both their forms for comparisons: resolved once.
        let homes = caller.homes();
        let all_homes = context::with_resolved(&homes);
        let project = Project::find(
            caller,
            &all_homes,
            cli.chdir.as_deref(),
            cli.allow_home_write,
        )?;
        let vars = Vars::new(caller, &project);
        let workdir = match (cli.chdir, &project) {
            (Some(_), Project::Dir(real)) => Workdir::Explicit(real.clone()),
            (Some(dir), _) => Workdir::Explicit(dir),
            (None, _) => Workdir::Inherited(caller.cwd.clone().ok()),
        };

        if let Some(fd) = cli.json_status_fd {
            if fd < 0 || !crate::sys::linux::fd_is_open(fd) {
                return Err(usage(format!(
                    "--json-status-fd {fd}: not an open file descriptor (open it in the shell, e.g. `3>status.json`)"
                )));
            }
        }

        // The filesystem view, and the landlock rules its mounts need.
        let own_pid_ns = namespaces.contains(Ns::Pid);
        let explicit =
            (fs_args.iter().any(FsArg::starts_view) || cli.root.is_some()) && cli.policy.is_none();
        let cli_ops = fs_ops(fs_args).map_err(usage)?;
        let root = match (&cli.root, &policy.root) {
            (Some(r), _) => Some(r.clone()),
            (None, Some(r)) => Some(vars.expand(&r.v, &r.at)?.ok_or_else(|| {
                usage(format!(
                    "{}: filesystem.root uses ${{CWD}}, and the working directory is not a project",
                    r.at.located()
                ))
            })?),
            (None, None) => None,
        };
        let execute = view::expand_list(&policy.landlock_execute, &vars)?;
        let (mut view, mount_rules) = view::plan(
            view::Input {
                cli_ops,
                explicit,
                root,
                policy,
                caller,
                homes: &homes,
                all_homes: &all_homes,
                project: &project,
                vars: &vars,
                own_pid_ns,
                allow_home_write: cli.allow_home_write,
                unprotect: &cli.unprotect,
            },
            &execute,
        )?;
        let mut notes = Vec::new();
        if view.project.is_none() && !explicit {
            notes.extend(project.note());
        }
        if net != NetMode::Host {
            // /etc/hosts and /etc/resolv.conf match the network mode.
            let name = hostname.as_deref();
            view.ops.push(FsOp::File {
                dest: "/etc/hosts".into(),
                contents: crate::ns::net::hosts_file(name),
            });
            view.ops.push(FsOp::File {
                dest: "/etc/resolv.conf".into(),
                contents: crate::ns::net::resolv_conf(net == NetMode::Pasta),
            });
        } else if let Ok(contents) = std::fs::read("/etc/resolv.conf") {
            // The host's resolver configuration, as it is now: its usual target under /run
            // is hidden by the private /run.
            view.ops.push(FsOp::File {
                dest: "/etc/resolv.conf".into(),
                contents,
            });
        }
        if let Some(p) = cli.propagation {
            view.propagation = p;
        }
        mount::validate(&view).map_err(usage)?;

        let sys_admin = keep_caps & caps::Capability::CAP_SYS_ADMIN.bitmask() != 0;
        let net_caps =
            caps::Capability::CAP_NET_RAW.bitmask() | caps::Capability::CAP_NET_ADMIN.bitmask();
        if net == NetMode::Pasta && keep_caps & net_caps != 0 && !sys_admin {
            // Raw frames go past the rules that keep the host's addresses out, and
            // CAP_NET_ADMIN could remove them. (With CAP_SYS_ADMIN the command's capabilities
            // live in a nested user namespace that does not own the network.)
            return Err(usage(
                "--net pasta keeps the host's addresses out of reach only of a command without \
                 CAP_NET_RAW and CAP_NET_ADMIN: drop them, or use --net none or --net host"
                    .into(),
            ));
        }
        let mut landlock = landlock_plan(policy, &vars, execute, mount_rules)?;
        if sys_admin {
            // A process whose landlock domain handles filesystem access can never mount, and
            // keeping CAP_SYS_ADMIN asks for mounts inside: the filesystem rules go (the view
            // is locked instead), the scopes and TCP rules stay.
            landlock.fs = false;
        }
        let mut limits = Vec::new();
        for (name, v) in &policy.limits {
            let res = crate::confine::limits::resource(name)
                .ok_or_else(|| usage(format!("{}: unknown limit {name}", v.at)))?;
            limits.push((res, v.v));
        }
        let seccomp = seccomp_program(policy, keep_caps)?;
        let umask = policy.umask.as_ref().map(|u| u.v);

        let name = match &cli.name {
            Some(n) => {
                crate::registry::validate_name(n).map_err(usage)?;
                let xdg = caller
                    .var("XDG_RUNTIME_DIR")
                    .map(|v| v.to_string_lossy().into_owned());
                Some((
                    n.clone(),
                    crate::registry::runtime_dir(caller.uid, xdg.as_deref())?,
                ))
            }
            None => None,
        };
        if let Some(dir) = &cli.persist {
            if caller.uid != 0 {
                return Err(usage(format!(
                    "--persist {}: keeping namespaces alive bind-mounts their files on the host, which only real root may do; rootless, use --name NAME and `sbx enter NAME`",
                    dir.display()
                )));
            }
            use std::os::unix::fs::MetadataExt;
            match std::fs::symlink_metadata(dir) {
                Ok(m) if m.is_dir() && m.uid() == caller.uid && m.mode() & 0o022 == 0 => {}
                _ => {
                    return Err(usage(format!(
                        "--persist {}: not a directory of yours that only you can write (its sbx.toml is what `sbx enter` will trust)",
                        dir.display()
                    )))
                }
            }
            let real = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
            // Every host directory the view lets the sandbox write: read-write binds, an
            // overlay's upper and work directories, a --root tree.
            let mut writable: Vec<&std::path::Path> =
                view.root.iter().map(|r| r.as_path()).collect();
            for op in &view.ops {
                match op {
                    FsOp::Bind {
                        src,
                        kind: BindKind::ReadWrite | BindKind::Dev,
                        ..
                    } => writable.push(src),
                    FsOp::Overlay {
                        upper: Upper::Dir { rw, work },
                        ..
                    } => writable.extend([rw.as_path(), work.as_path()]),
                    _ => {}
                }
            }
            // By device and inode, so that no second path to a directory (a bind mount, a
            // symlink) hides that DIR is under it.
            let id = |p: &std::path::Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
            let sources: Vec<(u64, u64)> = writable.iter().filter_map(|s| id(s)).collect();
            let writable_inside = real
                .ancestors()
                .any(|a| id(a).is_some_and(|i| sources.contains(&i)));
            if writable_inside {
                return Err(usage(format!(
                    "--persist {}: the sandbox could write it (it is under a directory the view makes writable); choose a directory outside them",
                    dir.display()
                )));
            }
        }

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
            ranges,
            view,
            namespaces,
            hostname,
            workdir,
            confinement: Confinement {
                new_session: cli.new_session || flag(&policy.new_session, false),
                landlock,
                limits,
                keep_caps,
                umask,
                seccomp,
            },
            as_pid_1: cli.as_pid_1 || flag(&policy.as_pid_1, false),
            die_with_parent: flag(&policy.die_with_parent, false),
            json_status_fd: cli.json_status_fd,
            verbose: cli.verbose,
            net,
            publish,
            policy: policy.name.clone(),
            name,
            persist: cli.persist.clone(),
            notes,
            home: caller.home.clone().ok(),
        })
    }
}

/// The uid and gid map lines for --map-auto, --map-users and --map-groups (None without them).
fn id_ranges(
    auto: bool,
    users: &[&str],
    groups: &[&str],
    own_inside: (u32, u32),
    caller: &Caller,
    verbose: bool,
) -> Result<Option<(Vec<IdMapping>, Vec<IdMapping>)>> {
    if !auto && users.is_empty() && groups.is_empty() {
        return Ok(None);
    }
    let request = |option: &str, values: &[&str]| -> Result<Option<Request>> {
        let mut lines = Vec::new();
        for v in values {
            match crate::idmap::parse_request(option, v).map_err(Error::Usage)? {
                None => return Ok(Some(Request::Auto)),
                Some(line) => lines.push(line),
            }
        }
        Ok(if auto {
            Some(Request::Auto)
        } else if lines.is_empty() {
            None
        } else {
            Some(Request::Lines(lines))
        })
    };
    let name = uzers::get_user_by_uid(caller.uid)
        .map(|u| u.name().to_string_lossy().into_owned())
        .ok_or_else(|| Error::IdRanges {
            what: format!(
                "uid {} has no user name, and /etc/subuid names owners",
                caller.uid
            ),
            hint: "run sbx as a user listed in /etc/passwd (or your name service)".into(),
        })?;
    let mut log = |line: String| {
        if verbose {
            eprintln!("sbx: {line}");
        }
    };
    let mut maps = Vec::new();
    for (kind, option, values, id, inside) in [
        (IdKind::Uid, "--map-users", users, caller.uid, own_inside.0),
        (
            IdKind::Gid,
            "--map-groups",
            groups,
            caller.gid,
            own_inside.1,
        ),
    ] {
        let owner = Owner {
            name: name.clone(),
            id,
        };
        let lines = match request(option, values)? {
            Some(req) => {
                let allowed = crate::idmap::ranges(kind, &owner, &mut log)?;
                build_map(kind, &req, &owner, inside, &allowed)?
            }
            None => vec![IdMapping {
                inner: inside,
                outer: id,
                count: 1,
            }],
        };
        maps.push(lines);
    }
    let gid = maps.pop().unwrap_or_default();
    let uid = maps.pop().unwrap_or_default();
    Ok(Some((uid, gid)))
}

/// The landlock rules: the policy's paths, and what the view's own mounts need. Read,
/// write and execute are distinct rights: reading a file never lets it run.
fn landlock_plan(
    policy: &Policy,
    vars: &Vars,
    execute: Vec<std::path::PathBuf>,
    mounts: view::MountRules,
) -> Result<LandlockPlan> {
    let mut plan = LandlockPlan {
        fs: true,
        mode: policy
            .landlock_mode
            .as_ref()
            .map_or(LandlockMode::BestEffort, |m| m.v),
        read: view::expand_list(&policy.landlock_read, vars)?,
        write: view::expand_list(&policy.landlock_write, vars)?,
        execute,
        bind_tcp: policy
            .landlock_bind_tcp
            .as_ref()
            .map(|p| p.iter().map(|v| v.v).collect()),
        connect_tcp: policy
            .landlock_connect_tcp
            .as_ref()
            .map(|p| p.iter().map(|v| v.v).collect()),
        scope_abstract_unix: true,
        scope_signal: true,
    };
    if let Some(scopes) = &policy.landlock_scopes {
        plan.scope_abstract_unix = scopes.iter().any(|s| s.v == Scope::AbstractUnixSocket);
        plan.scope_signal = scopes.iter().any(|s| s.v == Scope::Signal);
    }
    for (list, more) in [
        (&mut plan.read, mounts.read),
        (&mut plan.write, mounts.write),
        (&mut plan.execute, mounts.execute),
    ] {
        for p in more {
            if !list.contains(&p) {
                list.push(p);
            }
        }
    }
    Ok(plan)
}

/// The policy's seccomp filter, compiled (the default one is compiled once and cached).
fn seccomp_program(policy: &Policy, keep_caps: u64) -> Result<Option<Vec<sock_filter>>> {
    let arch = || seccomp::Arch::native().ok_or(seccomp::Error::UnsupportedArch);
    if policy.seccomp_enabled.as_ref().is_some_and(|e| !e.v) {
        // No filter of the policy's; sbx's own rules (TIOCSTI/TIOCLINUX, new user namespaces,
        // clone3, foreign architectures) stay in every sandbox.
        let spec = SeccompSpec {
            default_action: Action::Allow,
            allow: Vec::new(),
            deny: Vec::new(),
            errno: None,
            rules: SeccompSpec::base_rules(),
        };
        return Ok(Some(seccomp::compile(&spec, arch()?)?));
    }
    let sys_admin = caps::Capability::CAP_SYS_ADMIN.bitmask();
    let deny = policy
        .seccomp_deny
        .iter()
        .map(|v| v.v.clone())
        // Keeping CAP_SYS_ADMIN asks for mounts inside: the mount calls are not denied then.
        .filter(|d| keep_caps & sys_admin == 0 || d != "@mount")
        .collect();
    let mut rules = SeccompSpec::base_rules();
    rules.extend(policy.seccomp_rules.iter().map(|r| r.v.clone()));
    let errno = policy.seccomp_errno.as_ref().map(|v| v.v);
    let spec = SeccompSpec {
        default_action: policy
            .seccomp_default
            .as_ref()
            .map_or(Action::Allow, |v| v.v),
        allow: policy.seccomp_allow.iter().map(|v| v.v.clone()).collect(),
        deny,
        errno,
        rules,
    };
    let mut default = SeccompSpec::default_filter();
    default.errno = Some(libc::EPERM);
    if spec == default {
        return Ok(Some(seccomp::default_program()?.to_vec()));
    }
    Ok(Some(seccomp::compile(&spec, arch()?)?))
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
            cwd: Ok("/home/u/p".into()),
            home: Ok("/home/u".into()),
            cwd_id: None,
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
        assert_eq!(p.confinement.keep_caps, 0);
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
    fn the_parser_free_path_plans_what_the_parser_would() {
        let via_parser = plan(&["--", "ls", "-la"]).unwrap();
        let direct = Plan::for_command(vec!["ls".into(), "-la".into()], &caller()).unwrap();
        assert_eq!(format!("{via_parser:?}"), format!("{direct:?}"));
    }

    #[test]
    fn command_arguments_with_dashes_stay_with_the_command() {
        let p = plan(&["ls", "-la", "--verbose"]).unwrap();
        assert_eq!(p.argv.len(), 3);
        assert!(!p.verbose);
    }
}
