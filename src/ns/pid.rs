//! The PID namespace (pid_namespaces(7)) and sbx's init: PID 1 reaps every zombie, forwards
//! signals to the command and, when the command exits, kills what is left and exits with the
//! command's status. It sleeps on a signalfd(2) and never polls.

use std::os::fd::AsFd;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::error::{Error, Result};
use crate::sys::linux;

/// `si_code` of a signal the kernel sent itself, such as the terminal's SIGINT to the whole
/// foreground process group: the command got its own copy, so it is not forwarded again.
const SI_KERNEL: i32 = 0x80;

/// The signals passed on to the command.
pub const FORWARDED: [Signal; 8] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
];

/// The signals a supervisor takes through its signalfd: the forwarded ones and SIGCHLD.
pub fn supervised_signals() -> SigSet {
    let mut set = SigSet::empty();
    for sig in FORWARDED {
        set.add(sig);
    }
    set.add(Signal::SIGCHLD);
    set
}

/// Blocks the supervised signals (before forking, so no child can miss or die of one).
pub fn block_supervised_signals() -> Result<()> {
    supervised_signals()
        .thread_block()
        .map_err(Error::process("block signals"))
}

/// Restores an empty signal mask in the process that executes the command.
pub fn unblock_all_signals() -> Result<()> {
    SigSet::empty()
        .thread_set_mask()
        .map_err(Error::process("reset the signal mask"))
}

/// A signalfd over the supervised signals (they must already be blocked).
pub fn signalfd() -> Result<SignalFd> {
    SignalFd::with_flags(&supervised_signals(), SfdFlags::SFD_CLOEXEC)
        .map_err(Error::process("create a signalfd"))
}

/// Waits until `child` exits, reaping every other child on the way and passing each forwarded
/// signal that did not come from the kernel to `forward`.
pub fn supervise(
    sfd: &mut SignalFd,
    child: Pid,
    mut forward: impl FnMut(Signal),
) -> Result<WaitStatus> {
    loop {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(status) if status.pid() == Some(child) => return Ok(status),
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(errno) => {
                    return Err(Error::Process {
                        what: "wait for the command",
                        errno,
                    })
                }
            }
        }
        let info = match sfd.read_signal() {
            Ok(Some(info)) => info,
            Ok(None) | Err(Errno::EINTR) => continue,
            Err(errno) => {
                return Err(Error::Process {
                    what: "read the signalfd",
                    errno,
                })
            }
        };
        let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
            continue;
        };
        if sig == Signal::SIGCHLD || info.ssi_code == SI_KERNEL {
            continue;
        }
        forward(sig);
    }
}

/// The exit status sbx reports for a wait status: the code, or 128+N for signal N.
pub fn exit_code(status: WaitStatus) -> i32 {
    match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        _ => crate::error::EXIT_SBX_FAILURE,
    }
}

/// Waits for one child, retrying on EINTR.
pub fn wait_for(child: Pid) -> Result<WaitStatus> {
    loop {
        match waitpid(child, Some(WaitPidFlag::__WALL)) {
            Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => return Ok(status),
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(errno) => {
                return Err(Error::Process {
                    what: "wait for the sandbox",
                    errno,
                })
            }
        }
    }
}

/// Arms PR_SET_PDEATHSIG so that this process is killed when its parent dies, then closes the
/// race where the parent died before the prctl: the parent's pidfd is readable once it exited.
pub fn die_with_parent(parent: &impl AsFd) -> Result<()> {
    linux::set_pdeathsig(libc::SIGKILL).map_err(Error::process("set the parent-death signal"))?;
    let mut fds = [PollFd::new(parent.as_fd(), PollFlags::POLLIN)];
    match nix::poll::poll(&mut fds, PollTimeout::ZERO) {
        Ok(0) => Ok(()),
        Ok(_) => linux::exit_now(crate::error::EXIT_SBX_FAILURE),
        Err(errno) => Err(Error::Process {
            what: "check that sbx is still alive",
            errno,
        }),
    }
}

/// Kills what is left of the sandbox after the command exited. As PID 1, kill(-1) reaches every
/// other process of the namespace; with a shared PID namespace sbx's init is only a subreaper,
/// so it kills its descendants, which are re-parented to it as their parents die.
pub fn kill_leftovers(pid1: bool) {
    if pid1 {
        let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
        return;
    }
    let me = std::process::id() as i32;
    loop {
        let children = children_of(me);
        if children.is_empty() {
            return;
        }
        for child in &children {
            let _ = kill(Pid::from_raw(*child), Signal::SIGKILL);
        }
        for child in children {
            let _ = waitpid(Pid::from_raw(child), Some(WaitPidFlag::__WALL));
        }
    }
}

/// The pids whose parent is `parent`, from /proc.
fn children_of(parent: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    // The command name may hold spaces and parentheses: ppid follows the last ')'.
                    let rest = &stat[stat.rfind(')')? + 2..];
                    rest.split(' ').nth(1)?.parse::<i32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        let pid = Pid::from_raw(2);
        assert_eq!(exit_code(WaitStatus::Exited(pid, 42)), 42);
        assert_eq!(
            exit_code(WaitStatus::Signaled(pid, Signal::SIGTERM, false)),
            143
        );
        assert_eq!(
            exit_code(WaitStatus::Signaled(pid, Signal::SIGKILL, true)),
            137
        );
    }

    #[test]
    fn supervised_signals_cover_the_forwarded_ones_and_sigchld() {
        let set = supervised_signals();
        for sig in FORWARDED {
            assert!(set.contains(sig));
        }
        assert!(set.contains(Signal::SIGCHLD));
        assert!(
            !set.contains(Signal::SIGTSTP),
            "job control must keep working"
        );
    }
}
