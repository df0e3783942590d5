//! Networking (issue 6): none, host and pasta, published ports, and what stays out of reach.
//! Traffic goes only to loopback and to test hosts that these tests build themselves in
//! network namespaces of their own.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::os::linux::net::SocketAddrExt;

use crate::util::*;

const CONNECT: &str = r#"
import socket, sys
for target in sys.argv[1:]:
    try:
        if target.startswith("@"):
            s = socket.socket(socket.AF_UNIX); s.settimeout(3); s.connect("\0" + target[1:])
        else:
            host, port = target.rsplit(":", 1)
            s = socket.create_connection((host, int(port)), timeout=3)
        print(target, "reached", s.recv(64).decode().strip())
    except OSError as e:
        print(target, "unreachable", e.errno)
"#;

/// A TCP server on host loopback and a host abstract unix socket that both answer "hi".
struct HostServices {
    port: u16,
    abstract_name: String,
    _threads: Vec<std::thread::JoinHandle<()>>,
}

fn host_services() -> HostServices {
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let abstract_name = format!("sbx-test-{}-{port}", std::process::id());
    let addr =
        std::os::unix::net::SocketAddr::from_abstract_name(abstract_name.as_bytes()).unwrap();
    let unix = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
    let t1 = std::thread::spawn(move || {
        for s in tcp.incoming().flatten() {
            let _ = (&s).write_all(b"hi\n");
        }
    });
    let t2 = std::thread::spawn(move || {
        for s in unix.incoming().flatten() {
            let _ = (&s).write_all(b"hi\n");
        }
    });
    HostServices {
        port,
        abstract_name,
        _threads: vec![t1, t2],
    }
}

#[test]
fn default_network_reaches_neither_host_loopback_nor_abstract_sockets() {
    if !require(have("python3"), "python3", "apt-get install python3") {
        return;
    }
    let h = host_services();
    let tcp = format!("127.0.0.1:{}", h.port);
    let unix = format!("@{}", h.abstract_name);
    let out = rootless_ok(&["--", "python3", "-c", CONNECT, &tcp, &unix]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with(&format!("{tcp} unreachable")), "{out}");
    assert!(
        lines[1].starts_with(&format!("{unix} unreachable")),
        "{out}"
    );
    let out = rootless_ok(&["--", "cat", "/etc/hosts", "/etc/resolv.conf"]);
    assert!(
        out.contains("127.0.0.1\tlocalhost") && !out.contains("nameserver"),
        "{out}"
    );

    // --net host: both answer (the abstract socket scope is off in this policy).
    let dir = TestDir::new(Some(&unprivileged_user()));
    let policy = dir.path.join("p.toml");
    std::fs::write(
        &policy,
        "extends = [\"default\"]\n[landlock]\nscopes = []\n",
    )
    .unwrap();
    std::fs::set_permissions(&policy, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = rootless_ok(&[
        "--policy",
        policy.to_str().unwrap(),
        "--net",
        "host",
        "--",
        "python3",
        "-c",
        CONNECT,
        &tcp,
        &unix,
    ]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec![format!("{tcp} reached hi"), format!("{unix} reached hi")]
    );
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    assert_eq!(
        rootless_ok(&["--net", "host", "--", "cat", "/etc/resolv.conf"]),
        host_resolv
    );
    // The default policy's scope keeps host abstract sockets out even on the host's network.
    let out = rootless_ok(&["--net", "host", "--", "python3", "-c", CONNECT, &unix]);
    assert!(out.contains("unreachable"), "{out}");
}

fn pasta_ready() -> bool {
    require(have("pasta"), "pasta", "apt-get install passt")
        && require(have("python3"), "python3", "apt-get install python3")
        && require(
            std::fs::metadata("/dev/net/tun").is_ok_and(|m| {
                std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o006 == 0o006
            }),
            "/dev/net/tun usable by unprivileged users",
            "chmod 0666 /dev/net/tun (the usual permission; .ci/setup does it)",
        )
}

#[test]
fn published_port_reaches_the_sandbox_and_is_freed_afterwards() {
    if !pasta_ready() {
        return;
    }
    let port = free_port();
    let server = "import socket\ns = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
                  s.bind(('0.0.0.0', 8080)); s.listen(1); print('ready', flush=True)\n\
                  c, _ = s.accept(); c.sendall(b'from-sandbox\\n'); c.close()\n";
    let mut sbx = Sbx::rootless().args([
        "--net",
        "pasta",
        "-p",
        &format!("{port}:8080"),
        "--",
        "python3",
        "-c",
        server,
    ]);
    sbx.cmd.stdout(Stdio::piped());
    let mut child = sbx.cmd.spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    let mut got = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.is_empty() && Instant::now() < deadline {
        if let Ok(mut c) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = c.read_to_string(&mut got);
        }
    }
    assert_eq!(got.trim(), "from-sandbox");
    let status = child.wait().unwrap();
    assert!(status.success());
    // pasta is gone and the port is free again.
    assert!(
        std::net::TcpListener::bind(("0.0.0.0", port)).is_ok(),
        "port {port} still taken"
    );
    let pastas = Command::new("pgrep")
        .args(["-u", &unprivileged_user().uid.to_string(), "-x", "pasta"])
        .output()
        .unwrap();
    assert!(
        pastas.stdout.is_empty(),
        "pasta left running: {}",
        String::from_utf8_lossy(&pastas.stdout)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn pasta_errors_name_the_package_and_the_port() {
    // pasta missing: sbx never searches PATH for its host helpers, so "missing" means missing
    // from the system directories: hide /usr/bin/pasta in a mount namespace of the test's own.
    if !pasta_ready()
        || !require(
            is_root(),
            "running as root",
            "run the suite as root to hide /usr/bin/pasta in a private mount namespace",
        )
    {
        return;
    }
    let r = Sbx::rootless()
        .args(["--net", "pasta", "--", "true"])
        .wrapped(
            &["unshare", "-m", "--propagation", "private", "sh"],
            "mount --bind /dev/null /usr/bin/pasta",
        )
        .run();
    assert_eq!(r.code(), 125, "{}", r.stderr());
    assert!(
        r.stderr().contains("pasta") && r.stderr().contains("package passt"),
        "{}",
        r.stderr()
    );

    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let r = Sbx::rootless()
        .args(["--net", "pasta", "-p", &format!("{port}:80"), "--", "true"])
        .run();
    assert_eq!(r.code(), 125, "{}", r.stderr());
    assert!(r.stderr().contains(&port.to_string()), "{}", r.stderr());
    let r = Sbx::rootless().args(["-p", "8080:80", "--", "true"]).run();
    assert_eq!(r.code(), 125);
    assert!(r.stderr().contains("--net pasta"), "{}", r.stderr());
}

#[test]
fn a_pasta_planted_on_path_is_never_run() {
    if !pasta_ready() {
        return;
    }
    let user = unprivileged_user();
    let dir = TestDir::new(Some(&user));
    let marker = dir.path.join("planted-pasta-ran");
    let planted = dir.path.join("pasta");
    std::fs::write(
        &planted,
        format!("#!/bin/sh\ntouch {}\nexit 1\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(
        &planted,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::chown(&planted, Some(user.uid), Some(user.gid)).unwrap();
    let mut sbx = Sbx::rootless().args(["--net", "pasta", "--", "cat", "/proc/net/dev"]);
    sbx.cmd.env(
        "PATH",
        format!("{}:/usr/local/bin:/usr/bin:/bin", dir.path.display()),
    );
    let r = sbx.run();
    assert!(!marker.exists(), "sbx ran the pasta planted on PATH");
    let out = r.ok();
    // The real pasta ran: the sandbox has its interface besides lo.
    let ifaces: Vec<&str> = out
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert!(
        ifaces.len() == 2 && ifaces.contains(&"lo"),
        "pasta's interface missing: {ifaces:?}"
    );
}

/// Network namespaces of the test's own, each held by a `sleep` (no `ip netns add`, whose
/// bind mounts would show in the host's mount table that other tests compare): `outer` holds
/// the sandbox's "host" side at .1 and routes everything to .2 in `peer`, where a TCP server
/// and a DNS server run.
struct TestNet {
    outer: Child,
    peer: Child,
    subnet: String,
    servers: Vec<Child>,
    dir: TestDir,
}

impl TestNet {
    fn new() -> Option<TestNet> {
        if !require(
            is_root(),
            "root",
            "run the suite as root: the test builds its own network namespaces",
        ) || !require(have("ip"), "ip(8)", "apt-get install iproute2")
        {
            return None;
        }
        let holder = || {
            Command::new("unshare")
                .args(["-n", "sleep", "600"])
                .spawn()
                .unwrap()
        };
        let n = std::process::id() % 200 + 20;
        let net = TestNet {
            outer: holder(),
            peer: holder(),
            subnet: format!("10.211.{n}"),
            servers: Vec::new(),
            dir: TestDir::new(None),
        };
        let (o, p, subnet) = (net.outer.id(), net.peer.id(), net.subnet.clone());
        // Wait until both holders are in their namespaces.
        let deadline = Instant::now() + Duration::from_secs(5);
        while [o, p]
            .iter()
            .any(|pid| host_ns(*pid, "net") == host_ns(std::process::id(), "net"))
        {
            assert!(Instant::now() < deadline, "unshare -n did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        let sh = |cmd: String| {
            let ok = Command::new("sh")
                .arg("-c")
                .arg(&cmd)
                .status()
                .unwrap()
                .success();
            assert!(ok, "{cmd}");
        };
        sh(format!(
            "ip link add veth0 netns {o} type veth peer name veth1 netns {p}"
        ));
        sh(format!(
            "nsenter -t {o} -n ip addr add {subnet}.1/24 dev veth0"
        ));
        sh(format!(
            "nsenter -t {p} -n ip addr add {subnet}.2/24 dev veth1"
        ));
        for pid in [o, p] {
            sh(format!("nsenter -t {pid} -n ip link set lo up"));
        }
        sh(format!("nsenter -t {o} -n ip link set veth0 up"));
        sh(format!("nsenter -t {p} -n ip link set veth1 up"));
        sh(format!(
            "nsenter -t {o} -n ip route add default via {subnet}.2"
        ));
        std::fs::write(
            net.dir.path.join("resolv.conf"),
            format!("nameserver {subnet}.2\n"),
        )
        .unwrap();
        Some(net)
    }

    fn serve(&mut self, pid: u32, script: &str) {
        let mut child = Command::new("nsenter")
            .args(["-t", &pid.to_string(), "-n", "python3", "-c", script])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready");
        self.servers.push(child);
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        for c in self
            .servers
            .iter_mut()
            .chain([&mut self.outer, &mut self.peer])
        {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

const TCP_SERVER: &str = r#"
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((@IP@, 8000)); s.listen(8); print('ready', flush=True)
while True:
    c, _ = s.accept(); c.sendall(b'@NAME@\n'); c.close()
"#;

/// Answers every A query with @IP@.
const DNS_SERVER: &str = r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((@IP@, 53)); print('ready', flush=True)
while True:
    q, peer = s.recvfrom(512)
    end = 12
    while q[end] != 0:
        end += q[end] + 1
    question = q[12:end + 5]
    answer = b'\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04' + socket.inet_aton(@IP@)
    s.sendto(q[:2] + b'\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00' + question + answer, peer)
"#;

#[test]
fn pasta_reaches_the_outside_and_its_dns_but_not_host_loopback() {
    if !pasta_ready() {
        return;
    }
    let Some(mut net) = TestNet::new() else {
        return;
    };
    let server_ip = format!("{}.2", net.subnet);
    let (outer, peer) = (net.outer.id(), net.peer.id());
    net.serve(
        peer,
        &TCP_SERVER
            .replace("@IP@", &format!("'{server_ip}'"))
            .replace("@NAME@", "outside"),
    );
    net.serve(peer, &DNS_SERVER.replace("@IP@", &format!("'{server_ip}'")));
    // A service on the outer namespace's own loopback: the sandbox must not reach it.
    net.serve(
        outer,
        &TCP_SERVER
            .replace("@IP@", "'127.0.0.1'")
            .replace("@NAME@", "host-loopback"),
    );

    let user = unprivileged_user();
    let script = format!(
        "{CONNECT}\nimport socket\ntry:\n    print('dns', socket.gethostbyname('server.sbx.test'))\nexcept OSError as e:\n    print('dns failed', e)\n"
    );
    let dir = TestDir::new(Some(&user));
    // pasta reads /etc/resolv.conf: bind the test's over it in a private mount namespace, then
    // enter the outer network namespace and drop to the test user.
    let resolv = net.dir.path.join("resolv.conf");
    let enter = format!(
        "mount --bind {} /etc/resolv.conf && exec nsenter -t {outer} -n \"$@\"",
        resolv.display()
    );
    let out = Command::new("unshare")
        .args([
            "-m",
            "--propagation=private",
            "sh",
            "-c",
            &enter,
            "sh",
            "setpriv",
        ])
        .arg(format!("--reuid={}", user.uid))
        .arg(format!("--regid={}", user.gid))
        .args(["--clear-groups", "--"])
        .arg(sbx_bin())
        .args(["--net", "pasta", "--", "python3", "-c", &script])
        .arg(format!("{server_ip}:8000"))
        .arg("127.0.0.1:8000")
        .arg(format!("{}.1:8000", net.subnet))
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &user.home)
        .current_dir(&dir.path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        format!("{server_ip}:8000 reached outside"),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("127.0.0.1:8000 unreachable"),
        "{stdout}"
    );
    assert!(
        lines[2].contains("unreachable") || !lines[2].contains("host-loopback"),
        "{stdout}"
    );
    assert_eq!(lines[3], format!("dns {server_ip}"), "{stdout}");
}

#[test]
fn pasta_works_for_real_root_too() {
    if !pasta_ready() {
        return;
    }
    let Some(sbx) = Sbx::as_root() else { return };
    let out = sbx
        .args(["--net", "pasta", "--", "cat", "/proc/net/dev"])
        .run()
        .ok();
    let ifaces: Vec<&str> = out
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert!(
        ifaces.len() == 2 && ifaces.contains(&"lo"),
        "pasta's interface missing: {ifaces:?}"
    );
}
