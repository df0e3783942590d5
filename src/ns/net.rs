//! The network namespace (network_namespaces(7)) and the sandbox's network modes:
//! - `none`: a new namespace holding only `lo`, which sbx brings up;
//! - `host`: the host's namespace;
//! - `pasta`: a new namespace connected to the outside by pasta(1) (Debian package `passt`),
//!   user-mode networking as rootless Podman does it. sbx starts pasta on the sandbox's network
//!   namespace before the command runs and stops it when the sandbox ends; pasta needs no
//!   capability on the host.
//!
//! With pasta, no address of the host is reachable from the sandbox unless a port is
//! published: pasta forwards no port of the host's loopback or of the host (`-T none -U none`,
//! `--no-map-gw`), and since pasta connects to any other destination from the host's side,
//! every address the host delivers locally (each interface's, link-local ones included) gets a
//! `prohibit` rule (ip-rule(8)) in the sandbox's namespace before pasta attaches to it.
//!
//! pasta runs in the foreground as sbx's own child: sbx holds a pidfd taken at spawn, signals
//! only through it, and pasta gets SIGKILL when sbx dies. pasta's pid file is a FIFO that only
//! tells sbx when the network is ready; what it says is checked, never obeyed.

use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::unistd::Pid;

use crate::error::{Error, Result};
use crate::sys::{linux, Sys};

/// The address pasta answers DNS on, inside the sandbox (forwarded to the host's resolver).
pub const PASTA_DNS: &str = "169.254.1.1";

pub fn bring_loopback_up(sys: &mut impl Sys) -> Result<()> {
    sys.loopback_up().map_err(|errno| Error::Loopback { errno })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetMode {
    /// A new network namespace with only the loopback interface.
    None,
    /// The host's network namespace (the same as --share-net).
    Host,
    /// A new network namespace with user-mode networking through pasta (package passt).
    Pasta,
}

impl NetMode {
    pub fn name(self) -> &'static str {
        match self {
            NetMode::None => "none",
            NetMode::Host => "host",
            NetMode::Pasta => "pasta",
        }
    }
}

/// A forwarded port: `[HOST_IP:]HOST_PORT:PORT[/tcp|/udp]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub port: u16,
    pub udp: bool,
}

/// Parses one `--publish` value.
pub fn parse_publish(spec: &str) -> Result<Publish, String> {
    let err = |why: &str| {
        format!("--publish {spec}: {why} (expected [HOST_IP:]HOST_PORT:PORT[/tcp|/udp])")
    };
    let (addr, proto) = match spec.rsplit_once('/') {
        Some((a, "tcp")) => (a, false),
        Some((a, "udp")) => (a, true),
        Some(_) => return Err(err("the protocol must be tcp or udp")),
        None => (spec, false),
    };
    let (rest, port) = addr.rsplit_once(':').ok_or_else(|| err("missing PORT"))?;
    let port: u16 = port
        .parse()
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| err("bad PORT"))?;
    let (host_ip, host_port) = match rest.rsplit_once(':') {
        Some((ip, hp)) => {
            let ip = ip.trim_start_matches('[').trim_end_matches(']');
            (
                Some(ip.parse::<IpAddr>().map_err(|_| err("bad HOST_IP"))?),
                hp,
            )
        }
        None => (None, rest),
    };
    let host_port: u16 = host_port
        .parse()
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| err("bad HOST_PORT"))?;
    Ok(Publish {
        host_ip,
        host_port,
        port,
        udp: proto,
    })
}

/// pasta's arguments for a sandbox whose namespaces are those of `pid`. pasta runs in the
/// foreground, as sbx's own child, and writes its pid to `pid_file` (a FIFO that sbx reads)
/// once the namespace's network is configured: that line is the readiness signal, never a pid
/// to act on.
pub fn pasta_args(pid: Pid, publish: &[Publish], pid_file: &Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "--foreground",
        "--config-net",
        "--quiet",
        "--no-map-gw",
        "-T",
        "none",
        "-U",
        "none",
        "--dns-forward",
        PASTA_DNS,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let spec = |p: &Publish| match p.host_ip {
        Some(ip) => format!("{ip}/{}:{}", p.host_port, p.port),
        None => format!("{}:{}", p.host_port, p.port),
    };
    let tcp: Vec<String> = publish.iter().filter(|p| !p.udp).map(spec).collect();
    let udp: Vec<String> = publish.iter().filter(|p| p.udp).map(spec).collect();
    args.extend([
        "-t".into(),
        if tcp.is_empty() {
            "none".into()
        } else {
            tcp.join(",")
        },
    ]);
    args.extend([
        "-u".into(),
        if udp.is_empty() {
            "none".into()
        } else {
            udp.join(",")
        },
    ]);
    args.extend(["--pid".into(), pid_file.display().to_string()]);
    if nix::unistd::geteuid().is_root() {
        // Started as root, pasta changes to nobody, who cannot open the sandbox's user
        // namespace (owned by root): keep root.
        args.extend(["--runas".into(), "0:0".into()]);
    }
    args.push(pid.as_raw().to_string());
    args
}

/// A running pasta: sbx's own child, known by the pidfd taken when it was spawned. Stopped
/// (SIGKILL through that pidfd) and reaped on drop; it also gets SIGKILL when sbx dies.
pub struct Pasta {
    pidfd: OwnedFd,
}

impl Pasta {
    /// Keeps the host's own addresses out of the network namespace of `pid`, then starts pasta
    /// on it and waits until pasta has configured the network.
    pub fn start(pid: Pid, publish: &[Publish], verbose: bool) -> Result<Pasta> {
        // pasta binds IPv4 and IPv6 apart and carries on when only one of them is free, so a
        // port taken on the host is found here, before pasta starts.
        for p in publish {
            check_port_free(p)?;
        }
        let pasta_bin = crate::hostbin::find("pasta", "the package passt").map_err(|what| {
            Error::Network {
                what: format!("--net pasta needs pasta: {what}"),
                hint: "install the package passt (Debian/Ubuntu: apt install passt; Fedora: dnf install passt; Arch: pacman -S passt)".into(),
            }
        })?;

        // pasta connects to whatever address the sandbox asks for from the host's side, so an
        // address of the host itself (another interface's, or the link-local one, which no
        // pasta option maps away) would reach the host's own services. The sandbox's network
        // refuses every one of them before pasta connects it.
        let host = host_local_prefixes().map_err(|errno| Error::Network {
            what: format!("cannot list the host's own addresses (netlink RTM_GETROUTE): {errno}"),
            hint: "--net pasta needs the host's addresses to keep them out of the sandbox".into(),
        })?;
        if verbose {
            let list: Vec<String> = host.iter().map(|(a, l)| format!("{a}/{l}")).collect();
            eprintln!(
                "sbx: prohibit the host's addresses in the sandbox's network: {}",
                list.join(" ")
            );
        }
        prohibit_in_namespace(pid, &host)?;

        let ready = Readiness::new()?;
        let args = pasta_args(pid, publish, &ready.fifo_path());
        if verbose {
            eprintln!("sbx: {} {}", pasta_bin.display(), args.join(" "));
        }
        // pasta's messages, read back only if it fails; a pipe could fill up and block it.
        let stderr = std::fs::File::from(
            nix::sys::memfd::memfd_create(
                c"sbx-pasta-stderr",
                nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC,
            )
            .map_err(Error::process("create a memfd for pasta's messages"))?,
        );
        let mut cmd = Command::new(&pasta_bin);
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr.try_clone().map_err(|e| Error::Network {
                what: format!("cannot duplicate an fd: {e}"),
                hint: String::new(),
            })?);
        linux::kill_with_this_process(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| Error::Network {
            what: format!("cannot start {}: {e}", pasta_bin.display()),
            hint: "check that pasta runs: pasta --version".into(),
        })?;
        let child_pid = child.id();
        // Not reaped yet, so this pid is still the child's: the pidfd names exactly it.
        let pasta = match linux::pidfd_open(Pid::from_raw(child_pid as i32)) {
            Ok(pidfd) => Pasta { pidfd },
            Err(errno) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Process {
                    what: "open a pidfd of pasta",
                    errno,
                });
            }
        };
        match ready.wait(&pasta.pidfd) {
            Ok(line) if line.trim() == child_pid.to_string() => Ok(pasta),
            Ok(line) => Err(Error::Network {
                what: format!(
                    "pasta's pid file says {:?}, but the pasta sbx started is pid {child_pid}",
                    line.trim()
                ),
                hint: "another process wrote to pasta's pid file; sbx stopped its pasta".into(),
            }),
            Err(why) => {
                drop(pasta);
                Err(pasta_failed(&why, stderr, publish))
            }
        }
    }
}

impl Drop for Pasta {
    fn drop(&mut self) {
        // pasta keeps no state worth a clean exit, and ignores SIGTERM: SIGKILL.
        let _ = linux::pidfd_send_signal(&self.pidfd, libc::SIGKILL);
        // Reap it, unless the monitor's wait loop already did (ECHILD).
        use nix::sys::wait::{waitid, Id, WaitPidFlag};
        use std::os::fd::AsFd;
        while let Err(nix::errno::Errno::EINTR) =
            waitid(Id::PIDFd(self.pidfd.as_fd()), WaitPidFlag::WEXITED)
        {}
    }
}

/// The error for a pasta that exited (or closed its pid file) before it was ready.
fn pasta_failed(why: &str, mut stderr: std::fs::File, publish: &[Publish]) -> Error {
    use std::io::{Read, Seek};
    let mut text = String::new();
    let _ = stderr.rewind();
    let _ = stderr.read_to_string(&mut text);
    // pasta also complains when there is no syslog to write to; that is noise here.
    let msg = text
        .lines()
        .filter(|l| !l.contains("syslog") && !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let hint = if msg.contains("bind") || msg.contains("in use") || msg.contains("Address") {
        let ports: Vec<String> = publish.iter().map(|p| p.host_port.to_string()).collect();
        format!(
            "a published host port is already in use ({}): choose another",
            ports.join(", ")
        )
    } else {
        "pasta could not set up the sandbox's network".into()
    };
    Error::Network {
        what: format!(
            "pasta failed ({why}){}",
            if msg.is_empty() {
                String::new()
            } else {
                format!(": {msg}")
            }
        ),
        hint,
    }
}

/// Fails when a published host port is already taken on the host.
fn check_port_free(p: &Publish) -> Result<()> {
    let ip = p
        .host_ip
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let addr = std::net::SocketAddr::new(ip, p.host_port);
    let taken = if p.udp {
        std::net::UdpSocket::bind(addr).err()
    } else {
        std::net::TcpListener::bind(addr).err()
    };
    match taken {
        Some(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(Error::Network {
            what: format!(
                "--publish: port {} ({}) is already in use on the host",
                p.host_port,
                if p.udp { "udp" } else { "tcp" }
            ),
            hint: format!("choose another host port, or stop what listens on {addr}"),
        }),
        _ => Ok(()),
    }
}

/// pasta's readiness: a FIFO in a private directory, given to pasta as its pid file. pasta
/// writes its pid there once the namespace is configured (after closing every inherited fd,
/// in recent versions, so a pipe would not do). The directory is gone once pasta is ready.
struct Readiness {
    dir: PathBuf,
    fifo: std::fs::File,
}

impl Readiness {
    fn new() -> Result<Readiness> {
        let dir = private_dir()?;
        let path = dir.join("pasta.pid");
        let fifo = nix::unistd::mkfifo(
            &path,
            nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
        )
        .map_err(std::io::Error::from)
        .and_then(|()| {
            // A reader exists before pasta starts, so pasta's open does not block.
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&path)
        });
        match fifo {
            Ok(fifo) => Ok(Readiness { dir, fifo }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(Error::Network {
                    what: format!("cannot create a FIFO in {}: {e}", dir.display()),
                    hint: "set XDG_RUNTIME_DIR or TMPDIR to a writable directory".into(),
                })
            }
        }
    }

    fn fifo_path(&self) -> PathBuf {
        self.dir.join("pasta.pid")
    }

    /// The line pasta wrote, or why there is none (pasta exited, or closed the FIFO first).
    fn wait(&self, pidfd: &OwnedFd) -> std::result::Result<String, String> {
        use nix::poll::{PollFd, PollFlags, PollTimeout};
        use std::io::Read;
        use std::os::fd::AsFd;
        let mut got = Vec::new();
        loop {
            let mut fds = [
                PollFd::new(self.fifo.as_fd(), PollFlags::POLLIN),
                PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
            ];
            match nix::poll::poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(errno) => return Err(format!("poll: {errno}")),
            }
            let fifo_ready = fds[0].any().unwrap_or(false);
            let exited = fds[1].any().unwrap_or(false);
            if fifo_ready {
                let mut buf = [0u8; 64];
                match (&self.fifo).read(&mut buf) {
                    Ok(0) => return Err("it closed its pid file without writing a pid".into()),
                    Ok(n) => {
                        got.extend_from_slice(&buf[..n]);
                        if got.contains(&b'\n') {
                            return Ok(String::from_utf8_lossy(&got).into_owned());
                        }
                        if got.len() > 64 {
                            return Err("its pid file holds no pid".into());
                        }
                        continue;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(format!("reading its pid file: {e}")),
                }
            }
            if exited {
                return Err("it exited before the network was ready".into());
            }
        }
    }
}

impl Drop for Readiness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A directory only the caller can enter, for pasta's readiness FIFO.
fn private_dir() -> Result<PathBuf> {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let template = base.join("sbx-pasta-XXXXXX");
    nix::unistd::mkdtemp(&template).map_err(|errno| Error::Network {
        what: format!(
            "cannot create a private directory in {}: {errno}",
            base.display()
        ),
        hint: "set XDG_RUNTIME_DIR or TMPDIR to a writable directory".into(),
    })
}

/// Where the host's addresses are refused in the sandbox: right after the rule that looks up
/// the local table (priority 0), so that the addresses pasta copies from the host onto the
/// sandbox's interface stay the sandbox's own, and before the main table.
pub const HOST_RULE_PRIORITY: u32 = 1;

/// Every prefix the host delivers locally (`local` routes of its local routing table: each
/// address of each interface, link-local ones included, and the loopback ranges), IPv4 and
/// IPv6, without duplicates.
fn host_local_prefixes() -> std::result::Result<Vec<(IpAddr, u8)>, nix::errno::Errno> {
    let mut sock = rtnl::Socket::open()?;
    let mut all = Vec::new();
    for family in [libc::AF_INET, libc::AF_INET6] {
        let msgs = sock.dump(libc::RTM_GETROUTE, &rtnl::rtmsg(family as u8))?;
        for (kind, payload) in msgs {
            if kind != libc::RTM_NEWROUTE {
                continue;
            }
            if let Some(prefix) = rtnl::local_route(&payload) {
                if !all.contains(&prefix) {
                    all.push(prefix);
                }
            }
        }
    }
    Ok(all)
}

/// Adds a `prohibit` rule for each prefix to the network namespace of `pid`, from a child of
/// sbx that joins that process's user and network namespaces (where it has CAP_NET_ADMIN, as
/// pasta does). A rule, not a route: a connection to a link-local address carries its
/// interface, and the kernel then looks only at routes through that interface, so a
/// `prohibit` route is passed over; the rule is consulted first.
fn prohibit_in_namespace(pid: Pid, prefixes: &[(IpAddr, u8)]) -> Result<()> {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let target = linux::pidfd_open(pid).map_err(Error::process("open a pidfd of the sandbox"))?;
    let (rx, tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(Error::process("create a pipe"))?;
    match linux::fork().map_err(Error::process("fork"))? {
        linux::Fork::Child => {
            drop(rx);
            let code = match enter_and_prohibit(&target, prefixes) {
                Ok(()) => 0,
                Err(msg) => {
                    let _ = linux::write_all_raw(tx.as_raw_fd(), msg.as_bytes());
                    1
                }
            };
            linux::exit_now(code)
        }
        linux::Fork::Parent(child) => {
            drop(tx);
            let mut msg = String::new();
            let _ = std::fs::File::from(rx).read_to_string(&mut msg);
            let status = crate::ns::pid::wait_for(child)?;
            if status == nix::sys::wait::WaitStatus::Exited(child, 0) && msg.is_empty() {
                return Ok(());
            }
            if msg.is_empty() {
                msg = format!("{status:?}");
            }
            Err(Error::Network {
                what: format!("cannot keep the host's addresses out of the sandbox: {msg}"),
                hint: "--net pasta needs policy routing in the kernel (CONFIG_IP_MULTIPLE_TABLES, CONFIG_IPV6_MULTIPLE_TABLES)".into(),
            })
        }
    }
}

/// In the child: join the namespaces, add the rules.
fn enter_and_prohibit(
    target: &OwnedFd,
    prefixes: &[(IpAddr, u8)],
) -> std::result::Result<(), String> {
    use nix::sched::CloneFlags;
    nix::sched::setns(target, CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("cannot enter the sandbox's user and network namespaces: {e}"))?;
    let mut sock = rtnl::Socket::open().map_err(|e| format!("netlink socket: {e}"))?;
    for &(addr, len) in prefixes {
        match sock.request(
            libc::RTM_NEWRULE,
            &rtnl::prohibit_rule(addr, len, HOST_RULE_PRIORITY),
        ) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(format!("ip rule add prohibit to {addr}/{len}: {e}")),
        }
    }
    Ok(())
}

/// Just enough rtnetlink (rtnetlink(7)) to read the host's local routes and add rules.
mod rtnl {
    use nix::errno::Errno;
    use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType};
    use std::net::IpAddr;
    use std::os::fd::{AsRawFd, OwnedFd};

    const HDR: usize = 16;
    /// `struct fib_rule_hdr`'s action that answers EACCES (linux/fib_rules.h).
    const FR_ACT_PROHIBIT: u8 = 8;
    const FRA_DST: u16 = 1;
    const FRA_PRIORITY: u16 = 6;

    pub struct Socket {
        fd: OwnedFd,
        seq: u32,
    }

    impl Socket {
        pub fn open() -> Result<Socket, Errno> {
            let fd = socket::socket(
                AddressFamily::Netlink,
                SockType::Raw,
                SockFlag::SOCK_CLOEXEC,
                SockProtocol::NetlinkRoute,
            )?;
            Ok(Socket { fd, seq: 0 })
        }

        fn send(&mut self, kind: u16, flags: u16, payload: &[u8]) -> Result<u32, Errno> {
            self.seq += 1;
            let msg = message(kind, flags, self.seq, payload);
            socket::send(self.fd.as_raw_fd(), &msg, MsgFlags::empty())?;
            Ok(self.seq)
        }

        /// Reads replies to `seq` and hands each message (type, payload) to `each` until it
        /// returns true, or fails with the errno of an error reply.
        fn replies(
            &mut self,
            seq: u32,
            mut each: impl FnMut(u16, &[u8]) -> Result<bool, Errno>,
        ) -> Result<(), Errno> {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = socket::recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty())?;
                for (kind, msg_seq, payload) in messages(&buf[..n]) {
                    if msg_seq != seq {
                        continue;
                    }
                    if each(kind, payload)? {
                        return Ok(());
                    }
                }
            }
        }

        /// A request that changes something; Ok once the kernel acknowledges it.
        pub fn request(&mut self, kind: u16, payload: &[u8]) -> Result<(), Errno> {
            let flags =
                libc::NLM_F_REQUEST | libc::NLM_F_ACK | libc::NLM_F_CREATE | libc::NLM_F_EXCL;
            let seq = self.send(kind, flags as u16, payload)?;
            self.replies(seq, |kind, payload| match error_reply(kind, payload) {
                Some(0) => Ok(true),
                Some(errno) => Err(Errno::from_raw(errno)),
                None => Ok(false),
            })
        }

        /// A dump: every message of the reply, as (type, payload).
        pub fn dump(&mut self, kind: u16, payload: &[u8]) -> Result<Vec<(u16, Vec<u8>)>, Errno> {
            let seq = self.send(
                kind,
                (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16,
                payload,
            )?;
            let mut out = Vec::new();
            self.replies(seq, |kind, payload| {
                if kind == libc::NLMSG_DONE as u16 {
                    return Ok(true);
                }
                match error_reply(kind, payload) {
                    Some(0) => return Ok(true),
                    Some(errno) => return Err(Errno::from_raw(errno)),
                    None => {}
                }
                out.push((kind, payload.to_vec()));
                Ok(false)
            })?;
            Ok(out)
        }
    }

    /// A netlink message: `struct nlmsghdr` (native endian), then the payload.
    pub fn message(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let len = (HDR + payload.len()) as u32;
        let mut m = Vec::with_capacity(len as usize);
        m.extend_from_slice(&len.to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&flags.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(payload);
        m
    }

    /// The messages in one datagram: (type, sequence number, payload).
    pub fn messages(mut buf: &[u8]) -> Vec<(u16, u32, &[u8])> {
        let mut out = Vec::new();
        while buf.len() >= HDR {
            let len = u32::from_ne_bytes(buf[0..4].try_into().unwrap()) as usize;
            if len < HDR || len > buf.len() {
                break;
            }
            let kind = u16::from_ne_bytes([buf[4], buf[5]]);
            let seq = u32::from_ne_bytes(buf[8..12].try_into().unwrap());
            out.push((kind, seq, &buf[HDR..len]));
            buf = &buf[align(len).min(buf.len())..];
        }
        out
    }

    /// For an NLMSG_ERROR message, its errno (0 for an acknowledgement).
    fn error_reply(kind: u16, payload: &[u8]) -> Option<i32> {
        if kind != libc::NLMSG_ERROR as u16 {
            return None;
        }
        let code = payload
            .get(0..4)
            .map_or(-libc::EPROTO, |b| i32::from_ne_bytes(b.try_into().unwrap()));
        Some(-code)
    }

    fn align(len: usize) -> usize {
        (len + 3) & !3
    }

    fn attr(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
        let len = (4 + data.len()) as u16;
        out.extend_from_slice(&len.to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(data);
        out.resize(align(out.len()), 0);
    }

    fn attrs(mut buf: &[u8]) -> Vec<(u16, &[u8])> {
        let mut out = Vec::new();
        while buf.len() >= 4 {
            let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
            if len < 4 || len > buf.len() {
                break;
            }
            out.push((u16::from_ne_bytes([buf[2], buf[3]]), &buf[4..len]));
            buf = &buf[align(len).min(buf.len())..];
        }
        out
    }

    fn octets(addr: IpAddr) -> Vec<u8> {
        match addr {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        }
    }

    fn family(addr: IpAddr) -> u8 {
        match addr {
            IpAddr::V4(_) => libc::AF_INET as u8,
            IpAddr::V6(_) => libc::AF_INET6 as u8,
        }
    }

    /// `struct rtmsg` for a dump of one address family's routes.
    pub fn rtmsg(family: u8) -> Vec<u8> {
        let mut m = vec![0u8; 12];
        m[0] = family;
        m
    }

    /// The destination of a route message, when it is a `local` route of the local table.
    pub fn local_route(payload: &[u8]) -> Option<(IpAddr, u8)> {
        if payload.len() < 12 {
            return None;
        }
        let (family, dst_len, mut table, kind) =
            (payload[0], payload[1], payload[4] as u32, payload[7]);
        let mut dst = None;
        for (t, data) in attrs(&payload[12..]) {
            match t {
                libc::RTA_TABLE if data.len() == 4 => {
                    table = u32::from_ne_bytes(data.try_into().unwrap())
                }
                libc::RTA_DST => dst = Some(data),
                _ => {}
            }
        }
        if table != libc::RT_TABLE_LOCAL as u32 || kind != libc::RTN_LOCAL {
            return None;
        }
        let addr = match (family as i32, dst?) {
            (libc::AF_INET, d) if d.len() == 4 => IpAddr::from(<[u8; 4]>::try_from(d).ok()?),
            (libc::AF_INET6, d) if d.len() == 16 => IpAddr::from(<[u8; 16]>::try_from(d).ok()?),
            _ => return None,
        };
        Some((addr, dst_len))
    }

    /// `struct fib_rule_hdr` and attributes of `ip rule add to ADDR/LEN prohibit pref PRIORITY`.
    pub fn prohibit_rule(addr: IpAddr, len: u8, priority: u32) -> Vec<u8> {
        // family, dst_len, src_len, tos, table, res1, res2, action; flags.
        let mut m = vec![family(addr), len, 0, 0, 0, 0, 0, FR_ACT_PROHIBIT];
        m.extend_from_slice(&0u32.to_ne_bytes());
        attr(&mut m, FRA_DST, &octets(addr));
        attr(&mut m, FRA_PRIORITY, &priority.to_ne_bytes());
        m
    }
}

/// The `/etc/hosts` of a sandbox without the host's network: localhost and its own name.
pub fn hosts_file(hostname: Option<&str>) -> Vec<u8> {
    let mut s = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    if let Some(h) = hostname {
        s.push_str(&format!("127.0.1.1\t{h}\n"));
    }
    s.into_bytes()
}

/// The `/etc/resolv.conf` of each mode that does not use the host's.
pub fn resolv_conf(pasta: bool) -> Vec<u8> {
    if pasta {
        format!("# sbx: pasta's DNS forwarder\nnameserver {PASTA_DNS}\n").into_bytes()
    } else {
        b"# sbx: no network (--net none): only localhost resolves\n".to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_specs_parse() {
        assert_eq!(
            parse_publish("18080:8080").unwrap(),
            Publish {
                host_ip: None,
                host_port: 18080,
                port: 8080,
                udp: false
            }
        );
        let p = parse_publish("127.0.0.1:53:5353/udp").unwrap();
        assert_eq!(
            (p.host_ip.unwrap().to_string(), p.host_port, p.port, p.udp),
            ("127.0.0.1".into(), 53, 5353, true)
        );
        let p = parse_publish("[::1]:8443:443/tcp").unwrap();
        assert_eq!(p.host_ip.unwrap().to_string(), "::1");
        for bad in [
            "8080",
            "x:80",
            "80:0",
            "1.2.3:80:80",
            "80:80/sctp",
            "70000:80",
        ] {
            assert!(
                parse_publish(bad).unwrap_err().contains("--publish"),
                "{bad}"
            );
        }
    }

    #[test]
    fn pasta_never_exposes_host_ports_unless_published() {
        let args = pasta_args(Pid::from_raw(42), &[], Path::new("/r/p"));
        let joined = args.join(" ");
        for want in [
            "-T none",
            "-U none",
            "-t none",
            "-u none",
            "--no-map-gw",
            "--config-net",
            "--dns-forward 169.254.1.1",
            // sbx's own child for its whole life, so the pidfd sbx takes at spawn stays valid;
            // the pid file is only the readiness signal.
            "--foreground",
            "--pid /r/p",
        ] {
            assert!(joined.contains(want), "{want}: {joined}");
        }
        assert_eq!(args.last().unwrap(), "42");
        let args = pasta_args(
            Pid::from_raw(42),
            &[
                parse_publish("18080:8080").unwrap(),
                parse_publish("127.0.0.1:53:53/udp").unwrap(),
            ],
            Path::new("/p"),
        );
        let joined = args.join(" ");
        assert!(
            joined.contains("-t 18080:8080") && joined.contains("-u 127.0.0.1/53:53"),
            "{joined}"
        );
    }

    #[test]
    fn a_prohibit_rule_is_what_ip_rule_sends() {
        // `ip rule add to 10.1.2.3/32 prohibit pref 1` and its IPv6 counterpart, as strace
        // shows iproute2 sending them (after the 16-byte nlmsghdr).
        let v4 = rtnl::prohibit_rule("10.1.2.3".parse().unwrap(), 32, 1);
        let mut want = vec![libc::AF_INET as u8, 32, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0];
        want.extend([8, 0, 1, 0, 10, 1, 2, 3]); // FRA_DST
        want.extend([8, 0, 6, 0]); // FRA_PRIORITY
        want.extend(1u32.to_ne_bytes());
        assert_eq!(v4, want);
        let v6 = rtnl::prohibit_rule("fe80::1".parse().unwrap(), 128, 1);
        assert_eq!(&v6[..2], &[libc::AF_INET6 as u8, 128]);
        assert_eq!(&v6[12..16], &[20, 0, 1, 0]);
        assert_eq!(
            v6[16..32],
            "fe80::1".parse::<std::net::Ipv6Addr>().unwrap().octets()
        );
        assert_eq!(v6.len(), 12 + 20 + 8);
    }

    #[test]
    fn only_local_routes_of_the_local_table_are_the_host() {
        let route = |table: u8, kind: u8, dst: &[u8], len: u8| {
            let family = if dst.len() == 4 {
                libc::AF_INET
            } else {
                libc::AF_INET6
            };
            let mut m = vec![family as u8, len, 0, 0, table, 2, 0, kind, 0, 0, 0, 0];
            m.extend(((4 + dst.len()) as u16).to_ne_bytes());
            m.extend(libc::RTA_DST.to_ne_bytes());
            m.extend(dst);
            m
        };
        let local = libc::RT_TABLE_LOCAL;
        assert_eq!(
            rtnl::local_route(&route(local, libc::RTN_LOCAL, &[127, 0, 0, 0], 8)),
            Some(("127.0.0.0".parse().unwrap(), 8))
        );
        let ll = "fe80::2819:c4ff:feab:453b"
            .parse::<std::net::Ipv6Addr>()
            .unwrap();
        assert_eq!(
            rtnl::local_route(&route(local, libc::RTN_LOCAL, &ll.octets(), 128)),
            Some((IpAddr::V6(ll), 128))
        );
        // A broadcast route of the local table, and a unicast route of the main one: not.
        assert_eq!(
            rtnl::local_route(&route(local, 3, &[10, 0, 0, 255], 32)),
            None
        );
        assert_eq!(rtnl::local_route(&route(254, 1, &[10, 0, 0, 0], 24)), None);
        // Truncated or odd messages are skipped, not guessed at.
        assert_eq!(rtnl::local_route(&[2, 32, 0]), None);
        assert_eq!(
            rtnl::local_route(&route(local, libc::RTN_LOCAL, &[1, 2, 3], 32)),
            None
        );
    }

    #[test]
    fn netlink_messages_split_and_join() {
        let mut buf = rtnl::message(24, 2, 7, &[1, 2, 3]);
        buf.resize(20, 0);
        buf.extend(rtnl::message(3, 2, 7, &[]));
        let msgs = rtnl::messages(&buf);
        assert_eq!(msgs, vec![(24, 7, &[1u8, 2, 3][..]), (3, 7, &[][..])]);
        // A length past the end stops the walk.
        let mut bad = rtnl::message(24, 0, 1, &[0; 8]);
        bad[0] = 200;
        assert!(rtnl::messages(&bad).is_empty());
    }

    #[test]
    fn the_host_local_addresses_include_loopback() {
        let host = host_local_prefixes().unwrap();
        assert!(
            host.contains(&("127.0.0.1".parse().unwrap(), 32)),
            "{host:?}"
        );
    }
}
