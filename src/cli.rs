//! The command line, defined once with clap's derive API. The doc comments below are the text of
//! the man page (`man/sbx.1`) and of `--help`; the man page and shell completions are generated
//! from [`command`] and checked for freshness by `tests/docs.rs`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, CommandFactory, Parser};

/// Run a command in a rootless Linux sandbox.
///
/// sbx runs COMMAND (by default $SHELL, else /bin/sh) in new user, mount, PID, IPC, UTS, network
/// and cgroup namespaces, as an ordinary user, without a setuid helper or a daemon.
///
/// The setup order is fixed: (1) as the caller, unshare the user namespace and write
/// /proc/self/setgroups ("deny"), uid_map and gid_map; (2) as mapped root inside it, unshare the
/// other namespaces and fork, so that the command lives in the new PID namespace under sbx's own
/// PID 1, which reaps zombies, forwards signals and returns the command's exit status; (3) make
/// every mount private, build the filesystem view on a new tmpfs root and pivot_root into it,
/// set the hostname and bring the loopback interface up; (4) lock down per the policy: landlock,
/// resource limits, every capability dropped (the bounding set included) except those kept,
/// no_new_privs, inherited file descriptors above 2 closed, the seccomp filter installed last;
/// then execute the command, looked up on the PATH of its environment.
///
/// THE FILESYSTEM VIEW: without filesystem options the view is safe for untrusted builds: the
/// host's root read-only; private tmpfs on /tmp, /var/tmp, /run and /dev/shm; a fresh /proc; a
/// minimal /dev; the caller's home (from the password database, and a different $HOME too)
/// replaced by an empty private directory, into which come back the project (read-write) and
/// the toolchain directories that exist (~/.cargo, ~/.rustup, ~/.local/bin, ~/.local/lib,
/// ~/.pyenv, ~/.nvm, ~/go, ...) through a copy-on-write overlay whose writes vanish with the
/// sandbox. With any filesystem option the view starts empty and holds only what the options
/// ask for, applied in command-line order (bwrap's semantics). Every destination is resolved
/// beneath the new root, never through a symlink out of it, and every mount is attached from a
/// file descriptor.
///
/// THE PROJECT: the directory the command works on, bound read-write (`${CWD}` in a policy):
/// --chdir DIR when DIR is a directory of the host, else the current directory (symlinks
/// resolved). /, your home and every directory above it, hidden directories of your home and
/// ~/bin, the directories directly under /, /tmp, /var/tmp, /dev/shm, the system's own
/// directories (/etc, /usr, /var/lib, ...) and the runtime directories are never a project:
/// sbx then says so and binds nothing read-write for it. A deleted current directory is an error. The directories between the
/// project and the nearest private place are read-only, so a build that writes ../x gets EROFS
/// instead of losing it; what the command leaves in the private places (home, /var/tmp, /run,
/// /dev/shm; not /tmp) is discarded, and sbx says at exit how much and where. No read-write
/// bind, from the command line or a policy, may have /, your home or a directory above it as
/// its source unless the command line says --allow-home-write.
///
/// SECRETS: every view masks, after all its other mounts, the @secrets set under every home
/// (~/.ssh, ~/.gnupg, ~/.netrc, ~/.pgpass, ~/.npmrc, ~/.pypirc, ~/.git-credentials,
/// ~/.config/gh, ~/.vault-token, ~/.aws, ~/.azure, ~/.config/gcloud, ~/.kube,
/// ~/.docker/config.json, ~/.cargo/credentials*, ~/.password-store, ~/.local/share/keyrings,
/// browser profiles, shell histories and more: `sbx policy show default` lists them all), the
/// runtime directories ($XDG_RUNTIME_DIR, /run/user/UID) and the sockets SSH_AUTH_SOCK and
/// DBUS_SESSION_BUS_ADDRESS name. A policy adds to @secrets with filesystem.secrets or takes one
/// out with "!PATH"; a secret given as the source of a command-line bind is not masked.
///
/// PROTECTED PATHS: inside the project, and inside every other writable bind, the files that
/// tools on the host run or obey without asking stay read-only (the @protect set: the whole
/// .git, so that nothing can give it a new config, commondir or hooks or rename it away;
/// .git/config, .git/hooks, submodule configs and hooks, the .git of every submodule
/// .gitmodules lists, core.hooksPath, .pre-commit-config.yaml, .husky, lefthook.yml, .envrc,
/// mise.toml, .vscode, .idea). A policy adds to it with filesystem.protect; --unprotect PATH or
/// "!PATH" makes one writable (a build that commits: --unprotect .git, which keeps .git in
/// place and its config and hooks read-only). Only what exists when the sandbox starts is
/// protected.
///
/// POLICIES: every sandbox starts from a policy (default: "default"), a TOML file that sets the
/// namespaces, identity, filesystem view, environment, capabilities, landlock rules, seccomp
/// filter, resource limits, network mode and process options; see `sbx policy list` and
/// `sbx policy show NAME`. Command-line options override the policy. Filesystem options given
/// without --policy make an explicit view (bwrap's semantics); with --policy they add to the
/// policy's view. Landlock's read, write and execute are distinct rights: the policy's lists,
/// plus what each mount of the view needs (read-only binds may be read and run, writable mounts
/// read and written); a writable mount that no execute path covers is also mounted noexec.
/// Keeping CAP_SYS_ADMIN runs the command in a nested user namespace with a mount namespace of
/// its own, where it can mount but never unmount, remount or move the view's mounts; landlock
/// then keeps its scopes and TCP rules but not its filesystem rules (a process they restrict
/// can never mount). Every filter, even with seccomp.enabled = false, keeps sbx's own rules:
/// no TIOCSTI or TIOCLINUX, no new user namespace, no foreign-architecture calls.
///
/// HOST HELPERS: newuidmap, newgidmap, getsubids and pasta are run from root-owned system
/// directories (/usr/bin, /usr/sbin, /usr/local/bin, /usr/local/sbin) or the paths a root-owned
/// /etc/sbx/helpers.toml names, never from PATH.
///
/// EXIT STATUS: the command's status; 128+N when it was killed by signal N; 125 when sbx itself
/// fails; 126 when the command exists but cannot be executed; 127 when it is not found.
#[derive(Debug, Default, Parser)]
#[command(
    name = "sbx",
    version,
    max_term_width = 100,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub subcommand: Option<Subcommand>,

    /// The policy to start from: a name (looked up in $XDG_CONFIG_HOME/sbx/policies,
    /// /etc/sbx/policies, then the built-in ones) or a file (a value containing / or ending in
    /// .toml); never the current directory. Command-line options override it. [default: default]
    #[arg(long, value_name = "NAME|PATH", help_heading = "Policy")]
    pub policy: Option<String>,

    /// Map the caller's uid and gid to 0 (root) inside the sandbox.
    #[arg(
        short = 'r',
        long,
        overrides_with = "map_current",
        help_heading = "Identity"
    )]
    pub map_root: bool,

    /// Map the caller's uid and gid to themselves inside the sandbox (the default).
    #[arg(long, overrides_with = "map_root", help_heading = "Identity")]
    pub map_current: bool,

    /// Map the caller to 0 (root) inside and its subordinate ids (/etc/subuid, /etc/subgid)
    /// to 1..N, through newuidmap and newgidmap, as `unshare --map-auto --map-root-user` and
    /// rootless Podman do. The same as --map-users auto --map-groups auto. Root inside then
    /// keeps CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_SETUID and CAP_SETGID,
    /// which act only on the ids mapped into the sandbox, so that chown and tar work.
    #[arg(long, help_heading = "Identity")]
    pub map_auto: bool,

    /// Map uids INNER..INNER+COUNT inside to OUTER..OUTER+COUNT outside (util-linux 2.39 order;
    /// repeatable), or `auto` for the caller's subordinate uids. The outer ids must be the
    /// caller's own or in /etc/subuid; newuidmap writes the map.
    #[arg(long, value_name = "INNER:OUTER:COUNT|auto", action = ArgAction::Append, help_heading = "Identity")]
    pub map_users: Vec<String>,

    /// Like --map-users, for gids and /etc/subgid (newgidmap writes the map).
    #[arg(long, value_name = "INNER:OUTER:COUNT|auto", action = ArgAction::Append, help_heading = "Identity")]
    pub map_groups: Vec<String>,

    /// The uid that the caller's uid appears as inside (overrides --map-root and --map-current).
    #[arg(long, value_name = "UID", help_heading = "Identity")]
    pub uid: Option<u32>,

    /// The gid that the caller's gid appears as inside (overrides --map-root and --map-current).
    #[arg(long, value_name = "GID", help_heading = "Identity")]
    pub gid: Option<u32>,

    /// The sandbox's network: none (a new namespace with only lo, the default), host (the
    /// host's, like --share-net) or pasta (a new namespace with user-mode networking through
    /// pasta(1), package passt; every address of the host stays out of reach unless a port is
    /// published, so pasta is refused to a command that keeps CAP_NET_RAW or CAP_NET_ADMIN).
    #[arg(long, value_enum, value_name = "MODE", help_heading = "Network")]
    pub net: Option<crate::ns::net::NetMode>,

    /// Forward a host port to a port of the sandbox (with --net pasta):
    /// [HOST_IP:]HOST_PORT:PORT[/tcp|/udp]. Repeatable.
    #[arg(short = 'p', long, value_name = "SPEC", action = ArgAction::Append, help_heading = "Network")]
    pub publish: Vec<String>,

    /// Keep the host's network namespace (the sandbox sees the host's interfaces).
    #[arg(long, help_heading = "Namespaces")]
    pub share_net: bool,

    /// Keep the host's IPC namespace (System V IPC and POSIX message queues).
    #[arg(long, help_heading = "Namespaces")]
    pub share_ipc: bool,

    /// Keep the host's UTS namespace (hostname and domain name); --hostname is then refused.
    #[arg(long, help_heading = "Namespaces")]
    pub share_uts: bool,

    /// Keep the host's PID namespace: the sandbox sees the host's processes.
    #[arg(long, help_heading = "Namespaces")]
    pub share_pid: bool,

    /// Keep the host's cgroup namespace.
    #[arg(long, help_heading = "Namespaces")]
    pub share_cgroup: bool,

    /// Also create a new time namespace (CLOCK_MONOTONIC and CLOCK_BOOTTIME offsets).
    #[arg(long, help_heading = "Namespaces")]
    pub unshare_time: bool,

    /// The hostname inside the sandbox's new UTS namespace [default: sbx].
    #[arg(long, value_name = "NAME", help_heading = "Namespaces")]
    pub hostname: Option<String>,

    /// Working directory of the command inside (default: the current directory, else /).
    #[arg(long, value_name = "DIR", help_heading = "Process")]
    pub chdir: Option<PathBuf>,

    /// Set NAME to VALUE in the command's environment (applied in command-line order).
    #[arg(long, num_args = 2, value_names = ["NAME", "VALUE"], action = ArgAction::Append,
          help_heading = "Process")]
    pub setenv: Vec<OsString>,

    /// Remove NAME from the command's environment (applied in command-line order).
    #[arg(long, value_name = "NAME", action = ArgAction::Append, help_heading = "Process")]
    pub unsetenv: Vec<OsString>,

    /// Start the command with an empty environment (--setenv still applies).
    #[arg(long, help_heading = "Process")]
    pub clearenv: bool,

    /// Keep capability CAP (CAP_NET_RAW, net_raw or ALL); every other one is dropped, the
    /// bounding set included. Repeatable.
    #[arg(long, value_name = "CAP", action = ArgAction::Append, help_heading = "Security")]
    pub cap_add: Vec<String>,

    /// Run the command itself as PID 1 of the new PID namespace, without sbx's init. The
    /// command then has to reap zombies and handle signals itself.
    #[arg(long, conflicts_with = "share_pid", help_heading = "Process")]
    pub as_pid_1: bool,

    /// Call setsid() before executing the command, detaching it from the controlling
    /// terminal (which also blocks TIOCSTI input injection into it).
    #[arg(long, help_heading = "Process")]
    pub new_session: bool,

    /// Write JSON lines with the sandbox's status to FD: {"child-pid": N, "<ns>-namespace":
    /// INODE, ...} when the command starts, then {"exit-code": N} when it ends (bwrap's keys).
    #[arg(long, value_name = "FD", help_heading = "Process")]
    pub json_status_fd: Option<i32>,

    /// Register the sandbox under NAME in the caller's runtime directory, so that `sbx ps`
    /// lists it and `sbx enter NAME` joins it.
    #[arg(long, value_name = "NAME", help_heading = "Process")]
    pub name: Option<String>,

    /// Keep the sandbox's namespaces alive in DIR by bind-mounting their files there (needs
    /// real root; rootless, use --name), for `sbx enter DIR`. The PID namespace is not kept:
    /// it ends with its last process.
    #[arg(long, value_name = "DIR", help_heading = "Process")]
    pub persist: Option<PathBuf>,

    /// Print each setup step on standard error.
    #[arg(short, long, help_heading = "Process")]
    pub verbose: bool,

    /// Bind-mount SRC (from the host) on DEST, read-write, recursively, nosuid and nodev.
    #[arg(long, num_args = 2, value_names = ["SRC", "DEST"], action = ArgAction::Append, help_heading = "Filesystem")]
    pub bind: Vec<PathBuf>,

    /// Like --bind, but a missing SRC is skipped.
    #[arg(long, num_args = 2, value_names = ["SRC", "DEST"], action = ArgAction::Append, help_heading = "Filesystem")]
    pub bind_try: Vec<PathBuf>,

    /// Bind-mount SRC on DEST read-only, in every submount too.
    #[arg(long, num_args = 2, value_names = ["SRC", "DEST"], action = ArgAction::Append, help_heading = "Filesystem")]
    pub ro_bind: Vec<PathBuf>,

    /// Like --ro-bind, but a missing SRC is skipped.
    #[arg(long, num_args = 2, value_names = ["SRC", "DEST"], action = ArgAction::Append, help_heading = "Filesystem")]
    pub ro_bind_try: Vec<PathBuf>,

    /// Bind-mount SRC on DEST read-write with device nodes usable (no nodev).
    #[arg(long, num_args = 2, value_names = ["SRC", "DEST"], action = ArgAction::Append, help_heading = "Filesystem")]
    pub dev_bind: Vec<PathBuf>,

    /// Like --dev-bind, but a missing SRC is skipped.
    #[arg(long, num_args = 2, value_names = ["SRC", "DEST"], action = ArgAction::Append, help_heading = "Filesystem")]
    pub dev_bind_try: Vec<PathBuf>,

    /// Mount a new tmpfs on DEST (see --size and --perms).
    #[arg(long, value_name = "DEST", action = ArgAction::Append, help_heading = "Filesystem")]
    pub tmpfs: Vec<PathBuf>,

    /// The size limit of the next --tmpfs, in bytes (suffixes k, m, g allowed).
    #[arg(long, value_name = "BYTES", action = ArgAction::Append, help_heading = "Filesystem")]
    pub size: Vec<String>,

    /// The octal permissions of the next --tmpfs or --dir (default 0755).
    #[arg(long, value_name = "OCTAL", action = ArgAction::Append, help_heading = "Filesystem")]
    pub perms: Vec<String>,

    /// Create the directory DEST (and its parents).
    #[arg(long, value_name = "DEST", action = ArgAction::Append, help_heading = "Filesystem")]
    pub dir: Vec<PathBuf>,

    /// Create a symbolic link DEST pointing to TARGET.
    #[arg(long, num_args = 2, value_names = ["TARGET", "DEST"], action = ArgAction::Append, help_heading = "Filesystem")]
    pub symlink: Vec<PathBuf>,

    /// Make the mount at DEST read-only, with all its submounts.
    #[arg(long, value_name = "DEST", action = ArgAction::Append, help_heading = "Filesystem")]
    pub remount_ro: Vec<PathBuf>,

    /// Mount a fresh procfs for the sandbox's PID namespace on DEST; /proc/sys,
    /// /proc/sysrq-trigger, /proc/irq and /proc/bus are read-only.
    #[arg(long, value_name = "DEST", action = ArgAction::Append, help_heading = "Filesystem")]
    pub proc: Vec<PathBuf>,

    /// Mount a minimal /dev on DEST: null, zero, full, random, urandom and tty from the host,
    /// the stdin, stdout, stderr, fd and core links, ptmx on a new devpts instance, shm as tmpfs.
    #[arg(long, value_name = "DEST", action = ArgAction::Append, help_heading = "Filesystem")]
    pub dev: Vec<PathBuf>,

    /// Mount a POSIX message queue filesystem on DEST (needs the sandbox's own IPC namespace).
    #[arg(long, value_name = "DEST", action = ArgAction::Append, help_heading = "Filesystem")]
    pub mqueue: Vec<PathBuf>,

    /// Add SRC as a lower layer of the next overlay (later ones are higher).
    #[arg(long, value_name = "SRC", action = ArgAction::Append, help_heading = "Filesystem")]
    pub overlay_src: Vec<PathBuf>,

    /// Mount an overlay of the --overlay-src layers on DEST, with writes going to an invisible
    /// tmpfs that disappears with the sandbox.
    #[arg(long, value_name = "DEST", action = ArgAction::Append, help_heading = "Filesystem")]
    pub tmp_overlay: Vec<PathBuf>,

    /// Mount an overlay of the --overlay-src layers on DEST, with writes going to RWSRC (WORKDIR
    /// is overlayfs' empty work directory on the same filesystem).
    #[arg(long, num_args = 3, value_names = ["RWSRC", "WORKDIR", "DEST"], action = ArgAction::Append,
          help_heading = "Filesystem")]
    pub overlay: Vec<PathBuf>,

    /// Put an empty, unreadable mount over PATH (skipped when PATH does not exist inside).
    #[arg(long, value_name = "PATH", action = ArgAction::Append, help_heading = "Filesystem")]
    pub mask: Vec<PathBuf>,

    /// Allow a read-write bind (or --root, or an overlay's upper directory) whose source is /,
    /// your home or a directory above it. Refused otherwise, from the command line and from
    /// every policy alike: whatever the sandbox writes there, such as ~/.bashrc, runs outside
    /// it later. Only the command line can give this; no policy file can.
    #[arg(long, help_heading = "Filesystem")]
    pub allow_home_write: bool,

    /// Make PATH of the project writable although it is protected (see PROTECTED PATHS in
    /// the description; e.g. `--unprotect .git` for a build that commits, and also
    /// `--unprotect .git/hooks` for `pre-commit install`). Repeatable.
    #[arg(long, value_name = "PATH", action = ArgAction::Append, help_heading = "Filesystem")]
    pub unprotect: Vec<String>,

    /// Start the view from the root tree DIR (e.g. a debootstrap'd system) instead of an empty
    /// tmpfs; without other filesystem options, /dev, /proc and /tmp are mounted where DIR has
    /// them.
    #[arg(long, value_name = "DIR", help_heading = "Filesystem")]
    pub root: Option<PathBuf>,

    /// Mount propagation of the sandbox's tree, as unshare(1) means it. The default, private,
    /// keeps every mount made inside from reaching the host.
    #[arg(long, value_name = "MODE", value_enum, help_heading = "Filesystem")]
    pub propagation: Option<Propagation>,

    /// The command to run and its arguments (default: $SHELL, else /bin/sh).
    #[arg(value_name = "COMMAND", trailing_var_arg = true)]
    pub command: Vec<OsString>,
}

/// sbx's subcommands. A command with one of these names runs after `--`: `sbx -- policy`.
#[derive(Debug, clap::Subcommand)]
pub enum Subcommand {
    /// List, show and check policies.
    #[command(subcommand)]
    Policy(PolicyCommand),

    /// Run a program with some namespaces unshared: a drop-in for util-linux unshare(1), with
    /// its options, semantics and exit statuses (`sbx unshare --help`). Also what sbx does when
    /// installed as `unshare`.
    #[command(disable_help_flag = true)]
    Unshare {
        /// unshare(1)'s options and the program.
        #[arg(
            value_name = "ARGS",
            trailing_var_arg = true,
            allow_hyphen_values = true
        )]
        args: Vec<OsString>,
    },

    /// Run a program in the namespaces of another process: a drop-in for util-linux
    /// nsenter(1) (`sbx nsenter --help`). Also what sbx does when installed as `nsenter`.
    #[command(disable_help_flag = true)]
    Nsenter {
        /// nsenter(1)'s options and the program.
        #[arg(
            value_name = "ARGS",
            trailing_var_arg = true,
            allow_hyphen_values = true
        )]
        args: Vec<OsString>,
    },

    /// List the caller's running named sandboxes: name, pid, policy, start time, command.
    Ps,

    /// Run a command (default: the user's shell) in a running sandbox of the caller's, named,
    /// given by pid, or persisted in a directory, under the same confinement as the sandbox.
    Enter {
        /// The sandbox: its --name, the pid of its sbx or PID 1, or a --persist DIR.
        #[arg(value_name = "NAME|PID|DIR")]
        target: String,
        /// The command and its arguments.
        #[arg(value_name = "COMMAND", trailing_var_arg = true)]
        command: Vec<OsString>,
    },

    /// Show the namespaces of a process (default: the caller): type, inode, owning user
    /// namespace, and whether it is the host's.
    Ns {
        /// The process.
        pid: Option<i32>,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// List the policies that --policy NAME can reach: name, where it comes from, description.
    List,
    /// Print the resolved policy NAME (or file), each value marked with the file and line it
    /// came from.
    Show {
        #[arg(value_name = "NAME|PATH")]
        name: String,
    },
    /// Check policy files: exit 0 when all are valid, else print every error with
    /// file:line:column and a hint, and exit 125.
    Check {
        #[arg(value_name = "FILE", required = true)]
        files: Vec<String>,
    },
}

/// Mount propagation modes (mount_namespaces(7)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Propagation {
    /// Nothing propagates in either direction.
    Private,
    /// Mounts from the host propagate in; nothing propagates out.
    Slave,
    /// Mounts from the host propagate in, and mounts inside propagate between the sandbox's
    /// own peers (nested mount namespaces); the host's tree is detached, so none reaches it.
    Shared,
    /// Keep what the new mount namespace inherited (rootless, the kernel has already made the
    /// host's shared mounts slaves; real root needs slave, as pivot_root refuses shared mounts).
    Unchanged,
}

/// The clap command, for parsing and for generating the man page and completions.
pub fn command() -> clap::Command {
    Cli::command()
}
