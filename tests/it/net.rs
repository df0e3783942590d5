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
    // The sandbox ends after one connection: find its pasta while it runs.
    let pastas = pastas_of(child.id());
    assert_eq!(pastas.len(), 1, "one pasta serves the sandbox: {pastas:?}");
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
    assert!(!pastas[0].alive(), "pasta left running: {:?}", pastas[0]);
}

/// A process as seen in /proc: pid and start time (so a reused pid is not mistaken for it).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Proc {
    pid: u32,
    start: u64,
}

impl Proc {
    /// pid, state, parent pid and start time from /proc/PID/stat.
    fn stat(pid: u32) -> Option<(char, u32, u64)> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
        Some((
            rest[0].chars().next()?,
            rest[1].parse().ok()?,
            rest[19].parse().ok()?,
        ))
    }

    fn new(pid: u32) -> Option<Proc> {
        Proc::stat(pid).map(|(_, _, start)| Proc { pid, start })
    }

    /// Still running (a zombie has exited; a new process under the same pid is another one).
    fn alive(&self) -> bool {
        Proc::stat(self.pid)
            .is_some_and(|(state, _, start)| start == self.start && !matches!(state, 'Z' | 'X'))
    }

    fn parent(&self) -> u32 {
        Proc::stat(self.pid).map_or(0, |(_, ppid, _)| ppid)
    }
}

/// The pasta processes serving the sandbox of the sbx process `sbx`: running a passt binary
/// (`pasta` is a link to `passt`, which may re-execute `passt.avx2`), with `sbx` or one of its
/// descendants as the target, pasta's last argument. Found by their target, not their parent,
/// so that a pasta that left sbx's process tree is found too.
fn pastas_of(sbx: u32) -> Vec<Proc> {
    let mut family = live_descendants(sbx);
    family.push(sbx);
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let is_passt = std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| {
            exe.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("passt"))
        });
        let target = std::fs::read(format!("/proc/{pid}/cmdline"))
            .ok()
            .and_then(|c| {
                c.split(|&b| b == 0)
                    .rfind(|a| !a.is_empty())
                    .and_then(|a| std::str::from_utf8(a).ok()?.parse::<u32>().ok())
            });
        if is_passt && target.is_some_and(|t| family.contains(&t)) {
            out.extend(Proc::new(pid).filter(Proc::alive));
        }
    }
    out
}

/// Waits (a bounded while) until `p` has exited.
fn gone(p: Proc) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while p.alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    !p.alive()
}

/// Names in a directory.
fn entries(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
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

/// Runs `sbx --net pasta -- sh -c 'echo up; read x'` (as the test user), with XDG_RUNTIME_DIR
/// and TMPDIR in directories of the test's own, and returns once the sandbox runs.
fn waiting_sandbox(
    runtime: &TestDir,
    tmp: &TestDir,
) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut sbx = Sbx::rootless().args(["--net", "pasta", "--", "sh", "-c", "echo up; read x"]);
    sbx.cmd
        .env("XDG_RUNTIME_DIR", &runtime.path)
        .env("TMPDIR", &tmp.path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = sbx.cmd.spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "up");
    (child, out)
}

#[test]
fn pasta_is_sbx_own_child_and_ends_with_the_sandbox() {
    if !pasta_ready() {
        return;
    }
    let user = unprivileged_user();
    let (runtime, tmp) = (TestDir::new(Some(&user)), TestDir::new(Some(&user)));

    // While the sandbox runs: one pasta, a child of sbx itself (tracked by the pidfd sbx took
    // when it spawned it), and nothing of it on disk where a pid file could be swapped.
    let (mut child, _out) = waiting_sandbox(&runtime, &tmp);
    let pastas = pastas_of(child.id());
    assert_eq!(pastas.len(), 1, "one pasta serves the sandbox: {pastas:?}");
    assert_eq!(pastas[0].parent(), child.id(), "pasta is not sbx's child");
    assert_eq!(entries(&runtime.path), Vec::<String>::new());
    assert_eq!(entries(&tmp.path), Vec::<String>::new());
    // The sandbox ends: pasta is stopped and reaped with it.
    child.stdin.take().unwrap().write_all(b"\n").unwrap();
    assert!(child.wait().unwrap().success());
    assert!(!pastas[0].alive(), "pasta outlived the sandbox");
    assert_eq!(entries(&runtime.path), Vec::<String>::new());

    // kill -KILL of sbx: pasta dies with it.
    let (mut child, _out) = waiting_sandbox(&runtime, &tmp);
    let pastas = pastas_of(child.id());
    assert_eq!(pastas.len(), 1, "one pasta serves the sandbox: {pastas:?}");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(gone(pastas[0]), "pasta outlived kill -KILL of sbx");
    assert_eq!(entries(&runtime.path), Vec::<String>::new());
}

#[test]
fn a_pid_file_naming_another_process_is_not_obeyed() {
    // A pasta whose pid file names a victim, a process of the same user, once pasta is up: sbx
    // must never signal it. The stand-in replaces /usr/bin/pasta in a private mount namespace
    // and runs a copy of the real one.
    if !pasta_ready()
        || !require(
            is_root(),
            "running as root",
            "run the suite as root to replace /usr/bin/pasta in a private mount namespace",
        )
        || !require(have("bash"), "bash", "apt-get install bash")
    {
        return;
    }
    let user = unprivileged_user();
    let bin = TestDir::new(None);
    let work = TestDir::new(Some(&user));
    for name in ["passt", "passt.avx2"] {
        let from = std::path::Path::new("/usr/bin").join(name);
        if from.exists() {
            std::fs::copy(&from, bin.path.join(name)).unwrap();
        }
    }
    let mut victim = Command::new("setpriv")
        .arg(format!("--reuid={}", user.uid))
        .arg(format!("--regid={}", user.gid))
        .args(["--clear-groups", "sleep", "600"])
        .spawn()
        .unwrap();
    let liar = LIAR
        .replace("@BIN@", bin.path.to_str().unwrap())
        .replace("@WORK@", work.path.to_str().unwrap())
        .replace("@VICTIM@", &victim.id().to_string());
    let stand_in = bin.path.join("pasta");
    std::fs::write(&stand_in, liar).unwrap();
    std::fs::set_permissions(
        &stand_in,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let r = Sbx::rootless()
        .args(["--net", "pasta", "--", "true"])
        .wrapped(
            &["unshare", "-m", "--propagation", "private", "sh"],
            &format!("mount --bind {} /usr/bin/pasta", stand_in.display()),
        )
        .run();
    let victim_alive = victim.try_wait().unwrap().is_none();
    let _ = victim.kill();
    let _ = victim.wait();
    assert!(
        victim_alive,
        "sbx killed the process pasta's pid file named"
    );
    // The pid file disagrees with the pasta sbx started: sbx refuses to go on.
    assert_eq!(r.code(), 125, "{}", r.stderr());
    assert!(r.stderr().contains("pid file"), "{}", r.stderr());
    // And the pasta it started is stopped.
    let copies: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/exe"))
                .is_ok_and(|exe| exe.starts_with(&bin.path))
                && Proc::new(*pid).is_some_and(|p| p.alive())
        })
        .collect();
    assert_eq!(copies, Vec::<u32>::new(), "pasta left running");
}

/// A stand-in for pasta that gives the real one a pid file of its own and, once pasta is up,
/// writes @VICTIM@ into the pid file sbx named.
const LIAR: &str = r#"#!/bin/bash
own=@WORK@/own.pid.$$
args=() next=
for a in "$@"; do
    if [ -n "$next" ]; then pidfile=$a; a=$own; next=; fi
    [ "$a" = --pid ] && next=1
    args+=("$a")
done
case " $* " in
*" --foreground "* | *" -f "*)
    (while [ ! -s "$own" ]; do sleep 0.05; done; echo @VICTIM@ >"$pidfile") &
    exec -a pasta @BIN@/passt "${args[@]}" ;;
*)
    (exec -a pasta @BIN@/passt "${args[@]}") || exit
    echo @VICTIM@ >"$pidfile" ;;
esac
"#;

/// Network namespaces of the test's own, each held by a `sleep` (no `ip netns add`, whose
/// bind mounts would show in the host's mount table that other tests compare): `outer` plays
/// the host, at .1 and ::1 of the test subnets, and routes everything to .2 and ::2 in `peer`,
/// the gateway and the outside. `outer` also has an IPv6 link-local address on its veth, and
/// one more address of each family on its `lo` (as a host has on its other interfaces).
struct TestNet {
    outer: Child,
    peer: Child,
    /// The IPv4 /24 of the veth pair, e.g. `10.211.42`.
    subnet: String,
    /// The IPv6 /64 of the veth pair, e.g. `fd00:211:42:`.
    subnet6: String,
    /// `outer`'s addresses on its `lo`, beyond the loopback ones.
    extra: [String; 2],
    /// `outer`'s link-local address on its veth.
    host_ll: String,
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
        let mut net = TestNet {
            outer: holder(),
            peer: holder(),
            subnet: format!("10.211.{n}"),
            subnet6: format!("fd00:211:{n}:"),
            extra: [format!("10.212.{n}.1"), format!("fd00:212:{n}::1")],
            host_ll: String::new(),
            servers: Vec::new(),
            dir: TestDir::new(None),
        };
        let (o, p, subnet, subnet6) = (
            net.outer.id(),
            net.peer.id(),
            net.subnet.clone(),
            net.subnet6.clone(),
        );
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
            let out = Command::new("sh").arg("-c").arg(&cmd).output().unwrap();
            assert!(
                out.status.success(),
                "{cmd}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        // IPv6 addresses usable at once: no duplicate address detection in these namespaces
        // (set before the veth exists, which takes the namespace's defaults).
        for pid in [o, p] {
            sh(format!(
                "nsenter -t {pid} -n sh -c 'echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad'"
            ));
        }
        sh(format!(
            "ip link add veth0 netns {o} type veth peer name veth1 netns {p}"
        ));
        for (pid, dev, host) in [(o, "veth0", "1"), (p, "veth1", "2")] {
            sh(format!(
                "nsenter -t {pid} -n ip addr add {subnet}.{host}/24 dev {dev}"
            ));
            sh(format!(
                "nsenter -t {pid} -n ip addr add {subnet6}:{host}/64 dev {dev}"
            ));
            sh(format!("nsenter -t {pid} -n ip link set lo up"));
            sh(format!("nsenter -t {pid} -n ip link set {dev} up"));
        }
        sh(format!(
            "nsenter -t {o} -n ip addr add {}/32 dev lo",
            net.extra[0]
        ));
        sh(format!(
            "nsenter -t {o} -n ip addr add {}/128 dev lo",
            net.extra[1]
        ));
        sh(format!(
            "nsenter -t {o} -n ip route add default via {subnet}.2"
        ));
        sh(format!(
            "nsenter -t {o} -n ip -6 route add default via {subnet6}:2"
        ));
        let ll = sh(format!(
            "nsenter -t {o} -n ip -6 -o addr show dev veth0 scope link"
        ));
        net.host_ll = ll
            .split_whitespace()
            .skip_while(|w| *w != "inet6")
            .nth(1)
            .and_then(|a| a.split('/').next())
            .unwrap_or_else(|| panic!("no link-local address on veth0: {ll}"))
            .to_string();
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

    /// Runs `sbx --net pasta -- python3 -c SCRIPT ARGS...` from the `outer` namespace as the
    /// test user, with the test's resolv.conf bound over /etc/resolv.conf (pasta reads it) in a
    /// private mount namespace.
    fn sbx_python(&self, script: &str, args: &[String]) -> std::process::Output {
        let user = unprivileged_user();
        let dir = TestDir::new(Some(&user));
        let resolv = self.dir.path.join("resolv.conf");
        let enter = format!(
            "mount --bind {} /etc/resolv.conf && exec nsenter -t {} -n \"$@\"",
            resolv.display(),
            self.outer.id()
        );
        Command::new("unshare")
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
            .args(["--net", "pasta", "--", "python3", "-c", script])
            .args(args)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", &user.home)
            .current_dir(&dir.path)
            .output()
            .unwrap()
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

/// Listens on port 8000 of every address, IPv6 (`[::]`, IPv6 only) and IPv4 (`0.0.0.0`) on
/// sockets of their own, and answers @NAME@.
const ANY_ADDRESS_SERVER: &str = r#"
import socket, threading
def serve(family, addr):
    s = socket.socket(family); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind(addr); s.listen(8)
    def loop():
        while True:
            c, _ = s.accept(); c.sendall(b'@NAME@\n'); c.close()
    threading.Thread(target=loop, daemon=True).start()
serve(socket.AF_INET6, ('::', 8000))
serve(socket.AF_INET, ('0.0.0.0', 8000))
print('ready', flush=True)
threading.Event().wait()
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

    let script = format!(
        "{CONNECT}\nimport socket\ntry:\n    print('dns', socket.gethostbyname('server.sbx.test'))\nexcept OSError as e:\n    print('dns failed', e)\n"
    );
    let out = net.sbx_python(
        &script,
        &[
            format!("{server_ip}:8000"),
            "127.0.0.1:8000".into(),
            format!("{}.1:8000", net.subnet),
        ],
    );
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
    assert!(!lines[2].contains("host-loopback"), "{stdout}");
    assert_eq!(lines[3], format!("dns {server_ip}"), "{stdout}");
}

/// Connects to each `HOST:PORT` argument (`%IF` in HOST stands for the sandbox's interface)
/// and prints `TARGET reached ANSWER` or `TARGET unreachable ERRNO` (`None` for a time-out).
/// Waits first until IPv6 duplicate address detection has finished in the sandbox, as a link-
/// local connection needs the sandbox's own link-local address.
const PROBE: &str = r#"
import socket, sys, time
deadline = time.time() + 20
while time.time() < deadline:
    flags = [int(l.split()[4], 16) for l in open('/proc/net/if_inet6')]
    if not any(f & 0x40 for f in flags):  # IFA_F_TENTATIVE
        break
    time.sleep(0.1)
iface = [name for _, name in socket.if_nameindex() if name != 'lo'][0]
for target in sys.argv[1:]:
    host, port = target.rsplit(':', 1)
    host = host.strip('[]').replace('%IF', '%' + iface)
    family, kind, proto, _, addr = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)[0]
    s = socket.socket(family, kind, proto); s.settimeout(5)
    try:
        s.connect(addr)
        print(target, 'reached', s.recv(64).decode().strip())
    except OSError as e:
        print(target, 'unreachable', e.errno)
"#;

#[test]
fn pasta_keeps_every_address_of_the_host_out() {
    if !pasta_ready() {
        return;
    }
    let Some(mut net) = TestNet::new() else {
        return;
    };
    let (outer, peer) = (net.outer.id(), net.peer.id());
    // The host listens on every address; so does the outside, to tell the two apart.
    net.serve(outer, &ANY_ADDRESS_SERVER.replace("@NAME@", "host"));
    net.serve(peer, &ANY_ADDRESS_SERVER.replace("@NAME@", "outside"));
    let (s4, s6) = (&net.subnet, &net.subnet6);
    let host = [
        format!("{s4}.1:8000"),
        format!("[{s6}:1]:8000"),
        format!("{}:8000", net.extra[0]),
        format!("[{}]:8000", net.extra[1]),
        format!("[{}%IF]:8000", net.host_ll),
        "127.0.0.1:8000".to_string(),
        "[::1]:8000".to_string(),
    ];
    let gateway = [format!("{s4}.2:8000"), format!("[{s6}:2]:8000")];
    let out = net.sbx_python(PROBE, &[&gateway[..], &host[..]].concat());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{all}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), gateway.len() + host.len(), "{all}");
    // The gateway is the outside, over IPv4 and IPv6: the network works, and the gateway's
    // address does not lead to the host.
    for (target, line) in gateway.iter().zip(&lines) {
        assert_eq!(*line, format!("{target} reached outside"), "{all}");
    }
    // Every address of the host is refused at once (an address pasta copied onto the
    // sandbox's interface, and loopback, are the sandbox's own, where nothing listens): never
    // the host's service, and never a time-out that would leave it unknown.
    let not_refused: Vec<&&str> = host
        .iter()
        .zip(&lines[gateway.len()..])
        .filter(|(target, line)| {
            line.strip_prefix(&format!("{target} unreachable "))
                .is_none_or(|errno| errno == "None")
        })
        .map(|(_, line)| line)
        .collect();
    assert!(
        not_refused.is_empty(),
        "host addresses not refused: {not_refused:?}\n{all}"
    );
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
