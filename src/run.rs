//! The sandbox, as one script that reads top to bottom in the design's order. Two or three
//! sbx processes take part:
//!
//! - the **monitor** forwards signals to PID 1, writes the JSON status and exits with the
//!   command's status. When nothing has to happen outside the user namespace while it is made,
//!   the monitor itself unshares the user namespace, writes its maps, unshares the other
//!   namespaces as mapped root and forks PID 1 (the fast path);
//! - otherwise a **keeper** (the monitor's child) does that, while the monitor stays on the
//!   host to run newuidmap and newgidmap, start pasta, bind --persist files or keep the --name
//!   registry entry; the keeper dies with the monitor;
//! - **init**, PID 1 of the new PID namespace, builds the filesystem view, sets the hostname,
//!   brings `lo` up, forks the command, then reaps and forwards signals until the command exits.
//!   It dies with its parent, and the kernel then kills everything else in the namespace.
//!
//! The command itself applies landlock, resource limits, drops capabilities, sets no_new_privs,
//! closes inherited fds, installs the seccomp filter and executes.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::unistd::Pid;

use crate::confine::caps;
use crate::error::{Error, Result};
use crate::idmap::subid::IdKind;
use crate::ns::net::NetMode;
use crate::ns::{self, pid, Ns};
use crate::plan::{Plan, Workdir};
use crate::sys::linux::{self, Fork};
use crate::sys::{Linux, Sys};

macro_rules! step {
    ($plan:expr, $($arg:tt)*) => {
        if $plan.verbose {
            eprintln!("sbx: {}", format_args!($($arg)*));
        }
    };
}

/// Runs the sandbox described by `plan` and returns the exit status for sbx.
pub fn run(plan: &Plan) -> Result<i32> {
    for note in &plan.notes {
        eprintln!("sbx: {note}");
    }
    if plan.die_with_parent {
        // The process that started sbx is the parent here (no PID namespace yet), so a changed
        // getppid() after the prctl means it is already gone.
        let parent = nix::unistd::getppid();
        linux::set_pdeathsig(libc::SIGKILL)
            .map_err(Error::process("set the parent-death signal"))?;
        if nix::unistd::getppid() != parent {
            return Err(Error::Process {
                what: "start: the parent of sbx has exited",
                errno: nix::errno::Errno::ESRCH,
            });
        }
    }
    // A name is taken before anything starts, so a name in use changes nothing.
    let registration = match &plan.name {
        Some((name, dir)) => Some(crate::registry::reserve(
            dir,
            name,
            std::process::id() as i32,
        )?),
        None => None,
    };
    let _unregister = Unregister(registration.clone());
    // Nothing the caller left open may reach the sandbox; the status fd stays with the monitor.
    linux::close_range_from(3, true).map_err(Error::process("mark inherited fds close-on-exec"))?;
    pid::block_supervised_signals()?;
    let mut sfd = pid::signalfd()?;
    if registration.is_none()
        && plan.ranges.is_none()
        && plan.net != NetMode::Pasta
        && plan.persist.is_none()
    {
        return run_in_place(plan, &mut sfd);
    }
    let monitor = linux::pidfd_open(Pid::this()).map_err(Error::process("open a pidfd of sbx"))?;
    let (report_rx, report_tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(Error::process("create a pipe"))?;
    // With id ranges, --persist or pasta, the keeper waits on this pipe for the monitor's part.
    let go = if plan.net == NetMode::Pasta || plan.ranges.is_some() || plan.persist.is_some() {
        Some(
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                .map_err(Error::process("create a pipe"))?,
        )
    } else {
        None
    };

    let keeper = match linux::fork().map_err(Error::process("fork"))? {
        Fork::Child => {
            drop(report_rx);
            drop(sfd);
            let go_rx = go.map(|(rx, _tx)| rx);
            let code = keeper(plan, &monitor, report_tx, go_rx).unwrap_or_else(|e| report(&e));
            linux::exit_now(code)
        }
        Fork::Parent(pid) => pid,
    };
    drop(report_tx);
    drop(monitor);
    let mut report_rx = std::fs::File::from(report_rx);

    let mut _pasta = None;
    if let Some((go_rx, go_tx)) = go {
        drop(go_rx);
        if let Err(e) = outside_steps(plan, keeper, &mut report_rx, &go_tx, &mut _pasta) {
            drop(go_tx);
            let _ = pid::wait_for(keeper);
            return Err(e);
        }
    }

    // The keeper reports the host pid of the sandbox's PID 1 (and, for --json-status-fd, the
    // namespace inodes), or closes the pipe on failure.
    let mut report = Vec::new();
    let _ = std::io::Read::read_to_end(&mut report_rx, &mut report);
    let init = report
        .get(..4)
        .map(|b| Pid::from_raw(i32::from_ne_bytes([b[0], b[1], b[2], b[3]])));
    // The entry that `sbx enter` trusts lives sealed in this process, not in the registry.
    let mut _published = None;
    if let (Some(init), Some(path)) = (init, &registration) {
        _published = Some(crate::registry::publish(
            path,
            &entry_for(plan, init, keeper),
        )?);
    }
    let namespaces = String::from_utf8_lossy(report.get(4..).unwrap_or_default()).into_owned();
    supervise_to_end(plan, &mut sfd, keeper, init, &namespaces)
}

/// The monitor's part until the end: the first JSON status line, then waiting for `child`
/// (the keeper, or PID 1 itself) while passing signals on to PID 1, then the exit status.
fn supervise_to_end(
    plan: &Plan,
    sfd: &mut nix::sys::signalfd::SignalFd,
    child: Pid,
    pid1: Option<Pid>,
    namespaces: &str,
) -> Result<i32> {
    let pid1_fd = pid1.and_then(|pid| linux::pidfd_open(pid).ok());
    if let (Some(fd), Some(pid1)) = (plan.json_status_fd, pid1) {
        let line = format!("{{\"child-pid\": {}{namespaces}}}\n", pid1.as_raw());
        let _ = linux::write_all_raw(fd, line.as_bytes());
    }
    let status = pid::supervise(sfd, child, |sig| {
        if let Some(fd) = &pid1_fd {
            let _ = linux::pidfd_send_signal(fd, sig as i32);
        }
    })?;
    let code = pid::exit_code(status);
    if let Some(fd) = plan.json_status_fd {
        let _ = linux::write_all_raw(fd, format!("{{\"exit-code\": {code}}}\n").as_bytes());
    }
    Ok(code)
}

/// The fast path, when nothing has to be done from outside the user namespace (no id ranges,
/// pasta, --persist or --name): sbx itself unshares the user namespace, as step 1 of the
/// design reads, and forks PID 1 directly, which saves the keeper process.
fn run_in_place(plan: &Plan, sfd: &mut nix::sys::signalfd::SignalFd) -> Result<i32> {
    let mut sys = Linux;
    enter_namespaces(&mut sys, plan, &mut || Ok(()))?;
    let ns_dir = open_ns_dir(plan)?;
    let me = linux::pidfd_open(Pid::this()).map_err(Error::process("open a pidfd"))?;
    let pid1 = match linux::fork().map_err(Error::process("fork PID 1"))? {
        Fork::Child => {
            let code = init(plan, &me, None).unwrap_or_else(|e| report(&e));
            linux::exit_now(code)
        }
        Fork::Parent(pid) => pid,
    };
    drop(me);
    let namespaces = ns_dir
        .as_ref()
        .map(|dir| namespace_json(plan, dir))
        .unwrap_or_default();
    supervise_to_end(plan, sfd, pid1, Some(pid1), &namespaces)
}

/// For --json-status-fd: /proc/self/ns, opened before PID 1 pivots the shared mount namespace
/// (after that this process's /proc is the sandbox's, where it has no pid).
fn open_ns_dir(plan: &Plan) -> Result<Option<OwnedFd>> {
    match plan.json_status_fd {
        Some(_) => Ok(Some(
            linux::openat2(
                libc::AT_FDCWD,
                c"/proc/self/ns",
                libc::O_PATH | libc::O_DIRECTORY,
                0,
                0,
            )
            .map_err(Error::process("open /proc/self/ns"))?,
        )),
        None => Ok(None),
    }
}

/// What the monitor does from outside while the keeper waits: write the id ranges with
/// newuidmap and newgidmap once the user namespace exists ("U" -> "M"), attach pasta once the
/// network namespace exists ("N" -> "G"), and persist the namespaces once PID 1 has built
/// the view ("P" -> "K"; "F" when PID 1 failed first). The keeper exits quietly when the
/// pipe closes.
fn outside_steps(
    plan: &Plan,
    keeper: Pid,
    report_rx: &mut std::fs::File,
    go_tx: &OwnedFd,
    pasta: &mut Option<crate::ns::net::Pasta>,
) -> Result<()> {
    let mut expect = |want: u8| {
        let mut byte = [0u8; 1];
        std::io::Read::read_exact(report_rx, &mut byte).is_ok() && byte[0] == want
    };
    if let Some((uid, gid)) = &plan.ranges {
        if !expect(b'U') {
            return Ok(());
        }
        crate::idmap::write_with_helper(IdKind::Uid, keeper, uid, plan.verbose)?;
        crate::idmap::write_with_helper(IdKind::Gid, keeper, gid, plan.verbose)?;
        linux::write_all_raw(go_tx.as_raw_fd(), b"M")
            .map_err(Error::process("resume the sandbox"))?;
    }
    if plan.net == NetMode::Pasta {
        if !expect(b'N') {
            return Ok(());
        }
        *pasta = Some(crate::ns::net::Pasta::start(
            keeper,
            &plan.publish,
            plan.verbose,
        )?);
        linux::write_all_raw(go_tx.as_raw_fd(), b"G")
            .map_err(Error::process("resume the sandbox"))?;
    }
    if let Some(dir) = &plan.persist {
        // Only once PID 1 has built the view: persisted before that, the mount namespace
        // would still be a copy of the host's.
        if !expect(b'P') {
            return Ok(());
        }
        persist_namespaces(dir, keeper, plan)?;
        linux::write_all_raw(go_tx.as_raw_fd(), b"K")
            .map_err(Error::process("resume the sandbox"))?;
    }
    Ok(())
}

/// Removes the registry entry when the monitor ends (a SIGKILL leaves it for `sbx ps` to clear).
struct Unregister(Option<std::path::PathBuf>);

impl Drop for Unregister {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// What `sbx enter` needs, for the registry.
fn entry_for(plan: &Plan, init: Pid, keeper: Pid) -> crate::registry::Entry {
    let monitor = std::process::id() as i32;
    let workdir = match &plan.workdir {
        Workdir::Explicit(d) => d.clone(),
        Workdir::Inherited(Some(d)) => d.clone(),
        Workdir::Inherited(None) => "/".into(),
    };
    let start = |pid: i32| crate::registry::start_time(pid).unwrap_or(0);
    crate::registry::Entry {
        name: plan.name.as_ref().map(|n| n.0.clone()).unwrap_or_default(),
        monitor_pid: monitor,
        monitor_start: start(monitor),
        keeper_pid: keeper.as_raw(),
        keeper_start: start(keeper.as_raw()),
        init_pid: init.as_raw(),
        init_start: start(init.as_raw()),
        policy: plan.policy.clone(),
        command: plan
            .argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        started: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        workdir,
        env: plan
            .envp
            .iter()
            .map(|e| e.to_string_lossy().into_owned())
            .collect(),
        namespaces: plan
            .namespaces
            .iter()
            .map(|ns| ns.proc_name().to_string())
            .collect(),
        confinement: plan.confinement.clone(),
    }
}

/// --persist DIR: bind-mount the sandbox's namespace files into DIR (real root only; the PID
/// namespace cannot outlive its processes), with the confinement for `sbx enter DIR`. Done
/// from the keeper's namespaces while it waits, so a command that ends at once loses nothing.
/// Every file is created afresh (O_EXCL, never through a symlink) and bound through its fd;
/// when one step fails, what was done before is undone.
fn persist_namespaces(dir: &std::path::Path, keeper: Pid, plan: &Plan) -> Result<()> {
    let fail = |what: String, hint: &str| Error::Registry {
        what,
        hint: hint.to_string(),
    };
    let cdir = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
        .map_err(|_| fail(format!("{}: a NUL byte in the path", dir.display()), ""))?;
    let dirfd = linux::openat2(
        libc::AT_FDCWD,
        &cdir,
        libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        0,
        0,
    )
    .map_err(|e| {
        fail(
            format!("cannot open {}: {e}", dir.display()),
            "--persist needs a directory (not a symlink)",
        )
    })?;
    let create = |name: &str| {
        let cname = std::ffi::CString::new(name).unwrap_or_default();
        linux::openat2(
            dirfd.as_raw_fd(),
            &cname,
            libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_WRONLY,
            0o600,
            linux::RESOLVE_BENEATH | linux::RESOLVE_NO_SYMLINKS,
        )
    };
    let mut done: Vec<(String, std::os::fd::OwnedFd, bool)> = Vec::new();
    let undo = |done: &mut Vec<(String, std::os::fd::OwnedFd, bool)>| {
        for (name, fd, mounted) in done.drain(..).rev() {
            if mounted {
                let _ = nix::mount::umount2(
                    format!("/proc/self/fd/{}", fd.as_raw_fd()).as_str(),
                    nix::mount::MntFlags::MNT_DETACH,
                );
            }
            drop(fd);
            let _ = nix::unistd::unlinkat(
                Some(dirfd.as_raw_fd()),
                name.as_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
        }
    };
    let names: Vec<Ns> = plan.namespaces.iter().filter(|ns| *ns != Ns::Pid).collect();
    for ns in names {
        let name = ns.proc_name();
        let file = if ns == Ns::Time {
            "time_for_children"
        } else {
            name
        };
        let fd = match create(name) {
            Ok(fd) => fd,
            Err(e) => {
                undo(&mut done);
                return Err(fail(
                    format!("cannot create {}/{name}: {e}", dir.display()),
                    "--persist needs an empty directory of yours",
                ));
            }
        };
        done.push((name.to_string(), fd, false));
        let src = format!("/proc/{}/ns/{file}", keeper.as_raw());
        let target = format!(
            "/proc/self/fd/{}",
            done.last().map_or(-1, |d| d.1.as_raw_fd())
        );
        if let Err(errno) = nix::mount::mount(
            Some(src.as_str()),
            target.as_str(),
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        ) {
            undo(&mut done);
            return Err(Error::Mount {
                op: "bind the namespace file on",
                target: dir.join(name),
                errno,
                hint: "--persist needs real root".into(),
            });
        }
        if let Some(last) = done.last_mut() {
            last.2 = true;
        }
    }
    let mut entry = entry_for(plan, keeper, keeper);
    entry.namespaces.retain(|n| n != "pid");
    let text = toml::to_string(&entry).unwrap_or_default();
    let written = create("sbx.toml")
        .map_err(|e| e.to_string())
        .and_then(|fd| {
            linux::write_all_raw(fd.as_raw_fd(), text.as_bytes()).map_err(|e| e.to_string())
        });
    if let Err(e) = written {
        undo(&mut done);
        return Err(fail(
            format!("cannot write {}/sbx.toml: {e}", dir.display()),
            "--persist needs an empty directory of yours",
        ));
    }
    Ok(())
}

/// Prints an error the way every sbx process does, and returns its exit status.
pub fn report(err: &Error) -> i32 {
    eprintln!("sbx: {err}");
    err.exit_code()
}

/// The keeper: steps 1 and 2 of the setup, then PID 1 is forked and waited for.
fn keeper(plan: &Plan, monitor: &OwnedFd, report_tx: OwnedFd, go: Option<OwnedFd>) -> Result<i32> {
    pid::die_with_parent(monitor)?;
    let mut keep = vec![monitor.as_raw_fd(), report_tx.as_raw_fd()];
    keep.extend(go.as_ref().map(AsRawFd::as_raw_fd));
    close_fds_except(&keep)?;
    let mut sys = Linux;
    // Waits for the monitor to say `answer` after telling it `what` is ready.
    let wait = |what: &[u8], answer: u8| -> Result<()> {
        linux::write_all_raw(report_tx.as_raw_fd(), what)
            .map_err(Error::process("report to sbx"))?;
        let mut got = [0u8; 1];
        let fd = go.as_ref().map_or(-1, AsRawFd::as_raw_fd);
        if !matches!(nix::unistd::read(fd, &mut got), Ok(1)) || got[0] != answer {
            // The monitor reports why; nothing more to say here.
            linux::exit_now(crate::error::EXIT_SBX_FAILURE);
        }
        Ok(())
    };
    enter_namespaces(&mut sys, plan, &mut || wait(b"U", b'M'))?;
    if plan.net == NetMode::Pasta {
        wait(b"N", b'G')?;
    }

    let ns_dir = open_ns_dir(plan)?;
    let me = linux::pidfd_open(Pid::this()).map_err(Error::process("open a pidfd"))?;
    // With --persist, PID 1 says when the view is built ("R") and waits for the namespaces
    // to be persisted ("K") before it starts the command.
    let handshake = match plan.persist {
        Some(_) => {
            let o = nix::fcntl::OFlag::O_CLOEXEC;
            Some((
                nix::unistd::pipe2(o).map_err(Error::process("create a pipe"))?,
                nix::unistd::pipe2(o).map_err(Error::process("create a pipe"))?,
            ))
        }
        None => None,
    };
    match linux::fork().map_err(Error::process("fork PID 1"))? {
        Fork::Child => {
            drop(report_tx);
            let ready = handshake.map(|((_, ready_tx), (resume_rx, _))| (ready_tx, resume_rx));
            let code = init(plan, &me, ready).unwrap_or_else(|e| report(&e));
            linux::exit_now(code)
        }
        Fork::Parent(init) => {
            drop(me);
            if let Some(((ready_rx, ready_tx), (resume_rx, resume_tx))) = handshake {
                drop(ready_tx);
                drop(resume_rx);
                let mut got = [0u8; 1];
                if matches!(nix::unistd::read(ready_rx.as_raw_fd(), &mut got), Ok(1))
                    && got[0] == b'R'
                {
                    wait(b"P", b'K')?;
                    linux::write_all_raw(resume_tx.as_raw_fd(), b"K")
                        .map_err(Error::process("resume PID 1"))?;
                } else {
                    // PID 1 failed before its view was built: nothing is persisted.
                    let _ = linux::write_all_raw(report_tx.as_raw_fd(), b"F");
                }
            }
            let mut msg = init.as_raw().to_ne_bytes().to_vec();
            if let Some(dir) = &ns_dir {
                msg.extend_from_slice(namespace_json(plan, dir).as_bytes());
            }
            let _ = linux::write_all_raw(report_tx.as_raw_fd(), &msg);
            drop(report_tx);
            Ok(pid::exit_code(pid::wait_for(init)?))
        }
    }
}

/// Steps 1 and 2: the user namespace and its maps, then every other namespace as mapped root.
/// With id ranges, `wait_for_maps` lets newuidmap and newgidmap write the maps from outside.
pub fn enter_namespaces(
    sys: &mut impl Sys,
    plan: &Plan,
    wait_for_maps: &mut dyn FnMut() -> Result<()>,
) -> Result<()> {
    match &plan.ranges {
        None => {
            step!(
                plan,
                "unshare(CLONE_NEWUSER); map uid {} -> {}, gid {} -> {}",
                plan.uid.outside,
                plan.uid.inside,
                plan.gid.outside,
                plan.gid.inside
            );
            ns::user::enter_user_namespace(sys, plan.uid, plan.gid)?;
        }
        Some(_) => {
            step!(
                plan,
                "unshare(CLONE_NEWUSER); newuidmap and newgidmap write the maps"
            );
            ns::user::unshare_user(sys)?;
            wait_for_maps()?;
        }
    }
    step!(
        plan,
        "unshare({})",
        ns::flag_names(plan.namespaces.with(Ns::User, false).flags())
    );
    ns::unshare_namespaces(sys, plan.namespaces)
}

/// Step 3, in PID 1: the filesystem view, the hostname and the loopback interface. Returns
/// the private places whose leftovers sbx reports at exit.
pub fn build_sandbox(sys: &mut impl Sys, plan: &Plan) -> Result<ns::mount::Discarded> {
    step!(
        plan,
        "filesystem view: {} operations, then pivot_root",
        plan.view.ops.len()
    );
    let discarded = ns::mount::build_view(sys, &plan.view)?;
    if plan.verbose && !discarded.places().is_empty() {
        let places: Vec<String> = discarded.places().iter().map(|p| tilde(plan, p)).collect();
        step!(
            plan,
            "private and writable, discarded at exit: /tmp, {}",
            places.join(", ")
        );
    }
    if let Some(name) = &plan.hostname {
        step!(plan, "hostname {name}");
        ns::uts::set_hostname(sys, name)?;
    }
    if plan.namespaces.contains(Ns::Net) {
        step!(plan, "loopback up");
        ns::net::bring_loopback_up(sys)?;
    }
    Ok(discarded)
}

/// `path` as `~/...` when it is under the caller's home.
fn tilde(plan: &Plan, path: &std::path::Path) -> String {
    match plan.home.as_deref().and_then(|h| path.strip_prefix(h).ok()) {
        Some(rest) if rest.as_os_str().is_empty() => "~".into(),
        Some(rest) => format!("~/{}", rest.display()),
        None => path.display().to_string(),
    }
}

/// Says what the command left in the sandbox's private places, which are gone with it.
fn report_discarded(plan: &Plan, discarded: &ns::mount::Discarded) {
    let left = discarded.left_behind();
    if left.is_empty() {
        return;
    }
    let total: usize = left.iter().map(|(_, n)| n).sum();
    let mut shown: Vec<String> = left
        .iter()
        .take(5)
        .map(|(p, n)| match n {
            1 => tilde(plan, p),
            n => format!("{} ({n} entries)", tilde(plan, p)),
        })
        .collect();
    if left.len() > 5 {
        shown.push(format!("and {} more", left.len() - 5));
    }
    eprintln!(
        "sbx: the command left {total} new {} in places private to the sandbox, now discarded: {}. \
         To keep such files, run from (or --bind) a directory of the host for them.",
        if total == 1 { "entry" } else { "files and directories" },
        shown.join(", ")
    );
}

/// PID 1 of the sandbox.
fn init(plan: &Plan, keeper: &OwnedFd, persist: Option<(OwnedFd, OwnedFd)>) -> Result<i32> {
    pid::die_with_parent(keeper)?;
    let keep: Vec<i32> = persist
        .iter()
        .flat_map(|(a, b)| [a.as_raw_fd(), b.as_raw_fd()])
        .collect();
    close_fds_except(&keep)?;
    let mut sys = Linux;
    let discarded = build_sandbox(&mut sys, plan)?;
    if let Some((ready, resume)) = persist {
        // The view is built: now the namespaces may be persisted (see `keeper`).
        linux::write_all_raw(ready.as_raw_fd(), b"R").map_err(Error::process("report to sbx"))?;
        let mut got = [0u8; 1];
        if !matches!(nix::unistd::read(resume.as_raw_fd(), &mut got), Ok(1)) || got[0] != b'K' {
            linux::exit_now(crate::error::EXIT_SBX_FAILURE);
        }
    }

    if plan.as_pid_1 {
        return Err(exec_command(&mut sys, plan));
    }
    // Nothing inside may ptrace this process or take its fds with pidfd_getfd.
    linux::set_dumpable(false).map_err(Error::process("make PID 1 non-dumpable"))?;
    if !plan.namespaces.contains(Ns::Pid) {
        linux::set_child_subreaper().map_err(Error::process("become a subreaper"))?;
    }
    let mut sfd = pid::signalfd()?;
    let command = match linux::fork().map_err(Error::process("fork the command"))? {
        Fork::Child => {
            drop(sfd);
            if !plan.namespaces.contains(Ns::Pid) {
                // Without a PID namespace of its own, the command must not outlive init.
                let _ = linux::set_pdeathsig(libc::SIGKILL);
            }
            let err = exec_command(&mut sys, plan);
            linux::exit_now(report(&err))
        }
        Fork::Parent(pid) => pid,
    };
    // PID 1 keeps no privilege: it only reaps and forwards signals.
    caps::drop_capabilities(&mut sys, 0)?;
    caps::set_no_new_privs(&mut sys)?;

    let status = pid::supervise(&mut sfd, command, |sig| {
        let _ = nix::sys::signal::kill(command, sig);
    })?;
    pid::kill_leftovers(plan.namespaces.contains(Ns::Pid));
    report_discarded(plan, &discarded);
    Ok(pid::exit_code(status))
}

/// Confines this process and executes the command; returns only on failure.
fn exec_command(sys: &mut impl Sys, plan: &Plan) -> Error {
    crate::confine::confine_and_exec(
        sys,
        &plan.confinement,
        &plan.workdir,
        &plan.argv,
        &plan.envp,
        plan.verbose,
    )
}

/// Closes every fd above 2 except `keep`.
fn close_fds_except(keep: &[i32]) -> Result<()> {
    let mut keep: Vec<u32> = keep.iter().map(|&fd| fd as u32).collect();
    keep.sort_unstable();
    let mut first = 3u32;
    for fd in keep {
        if fd > first {
            linux::close_range(first, fd - 1).map_err(Error::process("close inherited fds"))?;
        }
        first = first.max(fd + 1);
    }
    linux::close_range_from(first, false).map_err(Error::process("close inherited fds"))
}

/// The namespace part of the first JSON status line, with bwrap's keys, read by the keeper
/// from its own namespaces (the PID and time ones are those of its children).
fn namespace_json(plan: &Plan, ns_dir: &OwnedFd) -> String {
    let mut json = String::new();
    for ns in plan.namespaces.iter() {
        let file = match ns {
            Ns::Pid => "pid_for_children",
            Ns::Time => "time_for_children",
            other => other.proc_name(),
        };
        let stat =
            nix::sys::stat::fstatat(Some(ns_dir.as_raw_fd()), file, nix::fcntl::AtFlags::empty());
        if let Ok(st) = stat {
            json.push_str(&format!(
                ", \"{}-namespace\": {}",
                ns.proc_name(),
                st.st_ino
            ));
        }
    }
    json
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Caller;
    use crate::sys::fake::Fake;

    fn plan(args: &[&str]) -> Plan {
        plan_in("/tmp/w/p", args)
    }

    fn plan_in(cwd: &str, args: &[&str]) -> Plan {
        let mut argv = vec!["sbx"];
        argv.extend_from_slice(args);
        let m = crate::cli::command().try_get_matches_from(argv).unwrap();
        let caller = Caller {
            uid: 1000,
            gid: 1000,
            cwd: Ok(cwd.into()),
            home: Ok("/home/u".into()),
            cwd_id: None,
            env: vec![],
        };
        Plan::from_matches(&m, &caller).unwrap()
    }

    /// The whole setup, in the design's order, as the three sbx processes make it.
    fn whole_setup(sys: &mut Fake, plan: &Plan) {
        enter_namespaces(sys, plan, &mut || Ok(())).unwrap();
        build_sandbox(sys, plan).unwrap();
        crate::confine::confine(sys, &plan.confinement, &plan.workdir, false).unwrap();
        crate::confine::install_seccomp(sys, &plan.confinement, false).unwrap();
    }

    #[test]
    fn setup_follows_the_design_order() {
        let mut sys = Fake::new();
        sys.last_cap = 1;
        let p = plan(&["--map-root", "--hostname", "box", "true"]);
        whole_setup(&mut sys, &p);
        assert_eq!(
            sys.calls,
            vec![
                "unshare(CLONE_NEWUSER)",
                "write(/proc/self/setgroups, \"deny\")",
                "write(/proc/self/uid_map, \"0 1000 1\\n\")",
                "write(/proc/self/gid_map, \"0 1000 1\\n\")",
                "unshare(CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWIPC|CLONE_NEWUTS|CLONE_NEWNET|CLONE_NEWCGROUP)",
                "mount(None, /, None, MS_REC | MS_PRIVATE, None)",
                "apply_view[--ro-bind /, --dev /dev, --proc /proc, --tmpfs /tmp, --tmpfs /var/tmp, --tmpfs /run, --bind-try /tmp/w/p, (generated file) /etc/hosts, (generated file) /etc/resolv.conf]",
                "sethostname(box)",
                "loopback_up",
                "chdir(/tmp/w/p)",
                "landlock(BestEffort, 15 rules)",
                "capbset_drop(0)",
                "capbset_drop(1)",
                "capset(0x0, 0x0, 0x0)",
                "cap_ambient_clear_all",
                "set_no_new_privs",
                &format!(
                    "seccomp({} instructions)",
                    p.confinement.seccomp.as_ref().unwrap().len()
                ),
            ]
        );
    }

    #[test]
    fn policy_limits_and_umask_come_between_landlock_and_seccomp() {
        let mut sys = Fake::new();
        sys.last_cap = 0;
        let p = plan_in("/tmp", &["--policy", "untrusted", "true"]);
        whole_setup(&mut sys, &p);
        let pos = |prefix: &str| {
            sys.calls
                .iter()
                .position(|c| c.starts_with(prefix))
                .unwrap_or_else(|| panic!("{prefix}: {:?}", sys.calls))
        };
        assert!(pos("setsid") < pos("landlock"));
        assert!(pos("landlock") < pos("setrlimit"));
        assert!(pos("setrlimit") < pos("capbset_drop"));
        assert!(pos("set_no_new_privs") < pos("seccomp"));
        assert_eq!(pos("seccomp"), sys.calls.len() - 1, "seccomp is last");
        let p = plan_in("/tmp", &["--policy", "build", "true"]);
        let mut sys = Fake::new();
        whole_setup(&mut sys, &p);
        assert!(
            sys.calls.contains(&"umask(22)".to_string()),
            "{:?}",
            sys.calls
        );
    }

    #[test]
    fn shared_namespaces_skip_their_steps() {
        let mut sys = Fake::new();
        sys.last_cap = 0;
        let p = plan(&[
            "--share-net",
            "--share-uts",
            "--share-pid",
            "--new-session",
            "true",
        ]);
        whole_setup(&mut sys, &p);
        assert!(sys
            .calls
            .contains(&"unshare(CLONE_NEWNS|CLONE_NEWIPC|CLONE_NEWCGROUP)".to_string()));
        assert!(!sys
            .calls
            .iter()
            .any(|c| c.starts_with("sethostname") || c == "loopback_up"));
        assert!(sys
            .calls
            .iter()
            .any(|c| c.starts_with("apply_view[--ro-bind /")));
        assert!(sys.calls.contains(&"setsid".to_string()));
    }

    #[test]
    fn a_missing_working_directory_falls_back_to_root_unless_explicit() {
        let mut sys = Fake::new();
        sys.failures
            .push(("chdir(/tmp/w/p)".into(), nix::errno::Errno::ENOENT));
        let p = plan(&["true"]);
        crate::confine::enter_workdir(&mut sys, &p.workdir, false).unwrap();
        assert_eq!(sys.calls, vec!["chdir(/tmp/w/p)", "chdir(/)"]);
        let mut sys = Fake::new();
        sys.failures
            .push(("chdir(/nope)".into(), nix::errno::Errno::ENOENT));
        let p = plan(&["--chdir", "/nope", "true"]);
        let err = crate::confine::enter_workdir(&mut sys, &p.workdir, false).unwrap_err();
        assert!(err.to_string().contains("/nope"));
    }
}
