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
/// every mount private and mount a fresh /proc, set the hostname and bring the loopback interface
/// up; (4) drop every capability (the bounding set included) except those kept with --cap-add,
/// set no_new_privs, close inherited file descriptors above 2 and execute the command, looked up
/// on the PATH of its environment.
///
/// EXIT STATUS: the command's status; 128+N when it was killed by signal N; 125 when sbx itself
/// fails; 126 when the command exists but cannot be executed; 127 when it is not found.
#[derive(Debug, Parser)]
#[command(name = "sbx", version, max_term_width = 100)]
pub struct Cli {
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

    /// The uid that the caller's uid appears as inside (overrides --map-root and --map-current).
    #[arg(long, value_name = "UID", help_heading = "Identity")]
    pub uid: Option<u32>,

    /// The gid that the caller's gid appears as inside (overrides --map-root and --map-current).
    #[arg(long, value_name = "GID", help_heading = "Identity")]
    pub gid: Option<u32>,

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

    /// Print each setup step on standard error.
    #[arg(short, long, help_heading = "Process")]
    pub verbose: bool,

    /// The command to run and its arguments (default: $SHELL, else /bin/sh).
    #[arg(value_name = "COMMAND", trailing_var_arg = true)]
    pub command: Vec<OsString>,
}

/// The clap command, for parsing and for generating the man page and completions.
pub fn command() -> clap::Command {
    Cli::command()
}
