//! The network namespace (network_namespaces(7)) and the sandbox's network modes:
//! - `none`: a new namespace holding only `lo`, which sbx brings up;
//! - `host`: the host's namespace;
//! - `pasta`: a new namespace connected to the outside by pasta(1) (Debian package `passt`),
//!   user-mode networking as rootless Podman does it. sbx starts pasta on the sandbox's network
//!   namespace before the command runs and stops it when the sandbox ends; pasta needs no
//!   capability on the host. No port of the host reaches the sandbox unless published, and the
//!   host's loopback services stay out of reach (`-T none -U none --no-map-gw`).

use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// pasta's arguments for a sandbox whose namespaces are those of `pid`.
pub fn pasta_args(pid: Pid, publish: &[Publish], pid_file: &Path) -> Vec<String> {
    let mut args: Vec<String> = [
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

/// A running pasta, stopped (and waited for) on drop.
pub struct Pasta {
    pidfd: Option<OwnedFd>,
    dir: PathBuf,
}

impl Pasta {
    /// Starts pasta on the namespaces of `pid` and waits until it has configured the network
    /// (pasta's first process exits once the namespace is set up and the daemon runs).
    pub fn start(pid: Pid, publish: &[Publish], verbose: bool) -> Result<Pasta> {
        // pasta binds IPv4 and IPv6 apart and carries on when only one of them is free, so a
        // port taken on the host is found here, before pasta starts.
        for p in publish {
            check_port_free(p)?;
        }
        let dir = private_dir()?;
        let mut pasta = Pasta { pidfd: None, dir };
        let pid_file = pasta.dir.join("pasta.pid");
        let args = pasta_args(pid, publish, &pid_file);
        if verbose {
            eprintln!("sbx: pasta {}", args.join(" "));
        }
        let pasta_bin = crate::hostbin::find("pasta", "the package passt").map_err(|what| {
            Error::Network {
                what: format!("--net pasta needs pasta: {what}"),
                hint: "install the package passt (Debian/Ubuntu: apt install passt; Fedora: dnf install passt; Arch: pacman -S passt)".into(),
            }
        })?;
        let out = Command::new(&pasta_bin)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| Error::Network {
                what: format!("cannot start {}: {e}", pasta_bin.display()),
                hint: "check that pasta runs: pasta --version".into(),
            })?;
        if let Ok(text) = std::fs::read_to_string(&pid_file) {
            if let Ok(p) = text.trim().parse::<i32>() {
                pasta.pidfd = linux::pidfd_open(Pid::from_raw(p)).ok();
            }
        }
        if !out.status.success() {
            // pasta also complains when there is no syslog to write to; that is noise here.
            let msg = String::from_utf8_lossy(&out.stderr)
                .lines()
                .filter(|l| !l.contains("syslog"))
                .collect::<Vec<_>>()
                .join("; ");
            let hint = if msg.contains("bind") || msg.contains("in use") || msg.contains("Address")
            {
                let ports: Vec<String> = publish.iter().map(|p| p.host_port.to_string()).collect();
                format!(
                    "a published host port is already in use ({}): choose another",
                    ports.join(", ")
                )
            } else {
                "pasta could not set up the sandbox's network".into()
            };
            return Err(Error::Network {
                what: format!("pasta failed: {msg}"),
                hint,
            });
        }
        Ok(pasta)
    }
}

impl Drop for Pasta {
    fn drop(&mut self) {
        if let Some(fd) = self.pidfd.take() {
            // pasta keeps no state worth a clean exit, and it runs as PID 1 of a PID namespace
            // of its own, where a SIGTERM from outside without a handler is dropped: SIGKILL.
            let _ = linux::pidfd_send_signal(&fd, libc::SIGKILL);
            wait_exit(&fd, Duration::from_secs(2));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
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

/// Waits until the process behind a pidfd has exited (its pidfd becomes readable).
fn wait_exit(fd: &OwnedFd, timeout: Duration) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let end = Instant::now() + timeout;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let ms =
            PollTimeout::try_from(left.as_millis().min(1000) as i32).unwrap_or(PollTimeout::ZERO);
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match nix::poll::poll(&mut fds, ms) {
            Ok(n) if n > 0 => return true,
            Err(nix::errno::Errno::EINTR) => continue,
            _ if left.is_zero() => return false,
            _ => continue,
        }
    }
}

/// A directory only the caller can enter, for pasta's pid file.
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
}
