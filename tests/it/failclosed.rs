//! Fail closed (issue 11): every value a policy uses and every place sbx starts from ends in a
//! sandbox that holds, or in a refusal (125) that says what to do. Each test names the item of
//! the issue it guards; the cross product of policies and starting contexts is in contexts.rs.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::util::*;

/// The second test user: its home holds secrets for these tests (the first user's home is
/// compared before and after by contexts.rs, so these tests leave it alone).
const OTHER: &str = "sbxnosub";

fn other_user() -> Option<User> {
    if !require(
        is_root(),
        "running as root",
        "run the suite as root: these tests use a second test user's home",
    ) {
        return None;
    }
    let u = nix::unistd::User::from_name(OTHER)
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("the test user {OTHER:?} is missing: run .ci/setup"));
    Some(User {
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
        home: u.dir,
    })
}

/// Text that marks a secret; it must never show inside a sandbox.
const SECRET: &str = "SBX-TEST-SECRET-4f1c";

/// Secrets of the @secrets set that the issue names, made once in the other user's home.
const SECRET_FILES: &[&str] = &[
    ".ssh/id_test",
    ".netrc",
    ".pgpass",
    ".npmrc",
    ".pypirc",
    ".git-credentials",
    ".config/gh/hosts.yml",
    ".vault-token",
    ".aws/credentials",
    ".kube/config",
    ".docker/config.json",
    ".cargo/credentials.toml",
    ".bash_history",
    ".config/mytool/token",
];

fn secret_home() -> Option<User> {
    let user = other_user()?;
    static MADE: OnceLock<()> = OnceLock::new();
    MADE.get_or_init(|| {
        for f in SECRET_FILES {
            let path = user.home.join(f);
            let mut dir = path.parent().unwrap().to_path_buf();
            std::fs::create_dir_all(&dir).unwrap();
            while dir != user.home {
                std::os::unix::fs::chown(&dir, Some(user.uid), Some(user.gid)).unwrap();
                dir.pop();
            }
            std::fs::write(&path, format!("{SECRET}\n")).unwrap();
            std::os::unix::fs::chown(&path, Some(user.uid), Some(user.gid)).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    });
    Some(user)
}

fn as_other() -> Option<Sbx> {
    Sbx::as_named_user(OTHER)
}

/// Writes a policy file readable by everyone and returns its path.
fn policy_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    path
}

fn unique(tag: &str) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("sbx-fc-{tag}-{}-{n}", std::process::id())
}

/// Runs a program (not sbx) as `user` in `dir`, asserting success: what the user does on the
/// host before or after a sandbox.
fn run_as(user: &User, dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("/usr/bin/setpriv")
        .arg(format!("--reuid={}", user.uid))
        .arg(format!("--regid={}", user.gid))
        .args(["--clear-groups", "--"])
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &user.home)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
}

fn make_dir(path: &Path, user: &User) {
    std::fs::create_dir_all(path).unwrap();
    std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid)).unwrap();
}

// 1. No silent fallbacks.

#[test]
fn an_unset_variable_a_policy_uses_is_an_error_at_its_line() {
    let sbx = Sbx::rootless();
    for (var, line) in [("XDG_RUNTIME_DIR", 4), ("TMPDIR", 4)] {
        let p = policy_file(
            sbx.dir(),
            &format!("{var}.toml"),
            &format!(
                "extends = [\"default\"]\n[filesystem]\nmounts = [\n  {{ bind = \"${{{var}}}/x\", optional = true }},\n]\n"
            ),
        );
        let r = Sbx::rootless()
            .args(["--policy", p.to_str().unwrap(), "--", "true"])
            .run();
        assert_eq!(r.code(), 125, "{var}: {}", r.stderr());
        let err = r.stderr();
        assert!(
            err.contains(&format!("{var}.toml:{line}:"))
                && err.contains(&format!("${{{var}}} is not set"))
                && err.contains("hint:"),
            "{var}: {err}"
        );
    }
    // Set, it expands (and an optional missing source is skipped).
    let p = sbx.dir().join("TMPDIR.toml");
    let mut run = Sbx::rootless().args(["--policy", p.to_str().unwrap(), "--", "true"]);
    run.cmd.env("TMPDIR", "/nonexistent-sbx");
    assert_eq!(run.run().code(), 0);
}

#[test]
fn a_deleted_working_directory_is_refused() {
    let sbx = Sbx::rootless();
    let gone = sbx.dir().join("gone");
    std::fs::create_dir(&gone).unwrap();
    std::fs::set_permissions(&gone, std::fs::Permissions::from_mode(0o777)).unwrap();
    let r = sbx
        .args(["--", "sh", "-c", "echo ran"])
        .via_shell(&format!(
            "cd {} && rmdir {}",
            gone.display(),
            gone.display()
        ))
        .run();
    assert_eq!(r.code(), 125, "{}", r.stderr());
    assert!(
        r.stderr().contains("deleted") && r.stderr().contains("--chdir"),
        "{}",
        r.stderr()
    );
    assert!(!r.stdout().contains("ran"));
    // --chdir names another one: fine.
    let sbx = Sbx::rootless();
    let gone = sbx.dir().join("gone");
    std::fs::create_dir(&gone).unwrap();
    std::fs::set_permissions(&gone, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = sbx
        .args(["--chdir", "/usr", "--", "pwd"])
        .via_shell(&format!(
            "cd {} && rmdir {}",
            gone.display(),
            gone.display()
        ))
        .run()
        .ok();
    assert_eq!(out.trim(), "/usr");
}

// 2. Nothing that holds home is ever writable.

#[test]
fn home_and_the_directories_above_it_are_never_the_project() {
    let Some(user) = other_user() else { return };
    let mark = unique("home");
    for cwd in [
        user.home.clone(),
        PathBuf::from("/home"),
        PathBuf::from("/"),
    ] {
        for policy in ["default", "build", "devtool", "untrusted", "makepkg"] {
            let mut sbx = as_other().unwrap().args([
                "--policy",
                policy,
                "--",
                "sh",
                "-c",
                &format!(
                    "echo x >> {h}/.bashrc; echo x > {h}/{mark}; echo x > /home/{mark}; echo done",
                    h = user.home.display()
                ),
            ]);
            sbx.cmd.current_dir(&cwd);
            let before = std::fs::read(user.home.join(".bashrc")).unwrap();
            let r = sbx.run();
            assert_eq!(r.code(), 0, "{policy} in {}: {}", cwd.display(), r.stderr());
            assert!(r.stdout().contains("done"));
            assert!(
                r.stderr().contains("not a project") && r.stderr().contains("--chdir"),
                "{policy} in {}: {}",
                cwd.display(),
                r.stderr()
            );
            assert_eq!(std::fs::read(user.home.join(".bashrc")).unwrap(), before);
            assert!(!user.home.join(&mark).exists() && !Path::new("/home").join(&mark).exists());
        }
    }
}

#[test]
fn read_write_binds_of_home_or_above_need_the_command_line_to_say_so() {
    let Some(user) = other_user() else { return };
    let home = user.home.display().to_string();
    let dir = TestDir::new(Some(&user));
    for args in [
        vec!["--policy", "default", "--bind", &home, &home],
        vec!["--bind", "/", "/x"],
        vec!["--bind", "/home", "/h"],
        vec!["--dev-bind", &home, "/h"],
        vec!["--root", "/"],
    ] {
        let mut a = args.clone();
        a.extend(["--", "true"]);
        let r = as_other().unwrap().args(&a).run();
        assert_eq!(r.code(), 125, "{args:?}: {}", r.stderr());
        assert!(r.stderr().contains("--allow-home-write"), "{}", r.stderr());
    }
    // From a policy, even a user's own: refused at its line, whatever the command line lacks.
    let p = policy_file(
        &dir.path,
        "home.toml",
        "extends = [\"default\"]\n[filesystem]\nmounts = [\n  { bind = \"${HOME}\", dest = \"/h\" },\n]\n",
    );
    let r = as_other()
        .unwrap()
        .args(["--policy", p.to_str().unwrap(), "--", "true"])
        .run();
    assert_eq!(r.code(), 125);
    assert!(
        r.stderr().contains("home.toml:4:") && r.stderr().contains("--allow-home-write"),
        "{}",
        r.stderr()
    );
    // Asked for in so many words on the command line, it works.
    let mark = unique("allowed");
    let r = as_other()
        .unwrap()
        .args([
            "--allow-home-write",
            "--policy",
            "default",
            "--bind",
            &home,
            &home,
            "--",
            "sh",
            "-c",
            &format!("echo ok > {home}/{mark}"),
        ])
        .run();
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(user.home.join(&mark).exists());
    std::fs::remove_file(user.home.join(&mark)).unwrap();
}

// 3. Nothing vanishes without a word.

#[test]
fn the_projects_parents_are_read_only_and_leftovers_are_named() {
    let user = unprivileged_user();
    let dir = TestDir::new(Some(&user));
    let pkg = dir.path.join("pkg");
    make_dir(&pkg, &user);
    let sbx = Sbx::rootless();
    let mut sbx = sbx.args([
        "-v",
        "--",
        "sh",
        "-c",
        "echo x > ../out; echo parent=$?; echo x > ~/out; echo home=$?; echo x > ./in",
    ]);
    sbx.cmd.current_dir(&pkg);
    let r = sbx.run();
    let out = r.ok();
    assert!(
        out.contains("parent=2") && out.contains("home=0"),
        "{out}{}",
        r.stderr()
    );
    let err = r.stderr();
    assert!(err.contains("Read-only file system"), "{err}");
    assert!(
        err.contains("discarded") && err.contains("~/out"),
        "the exit message names ~/out: {err}"
    );
    assert!(err.contains("private and writable"), "-v lists them: {err}");
    assert!(!pkg.parent().unwrap().join("out").exists());
    assert!(pkg.join("in").exists(), "the project itself is writable");
    // Nothing left behind: nothing said.
    let mut quiet = Sbx::rootless().args(["--", "true"]);
    quiet.cmd.current_dir(&pkg);
    let r = quiet.run();
    assert!(!r.stderr().contains("discarded"), "{}", r.stderr());
}

// 4. One list of secrets, in every view.

#[test]
fn every_view_masks_the_same_secrets() {
    let Some(user) = secret_home() else { return };
    let dir = TestDir::new(Some(&user));
    // Every secret of the built-in set (.config/mytool is only the custom policy's).
    let cat: String = SECRET_FILES
        .iter()
        .filter(|f| !f.starts_with(".config/mytool"))
        .map(|f| format!("cat {}/{f} 2>/dev/null; ", user.home.display()))
        .collect();
    let custom = policy_file(
        &dir.path,
        "mine.toml",
        "extends = [\"devtool\"]\n[filesystem]\nsecrets = [\".config/mytool\"]\n",
    );
    let home = user.home.display().to_string();
    let views: Vec<Vec<&str>> = vec![
        vec!["--policy", "default"],
        vec!["--policy", "devtool"],
        vec!["--policy", "build"],
        vec!["--policy", custom.to_str().unwrap()],
        vec!["--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"],
        vec!["--policy", "default", "--ro-bind", &home, &home],
    ];
    let custom_cat = format!("{cat} cat {home}/.config/mytool/token 2>/dev/null");
    for view in views {
        let mut a = view.clone();
        let script = if view.contains(&custom.to_str().unwrap()) {
            &custom_cat
        } else {
            &cat
        };
        a.extend(["--", "sh", "-c", script]);
        let mut sbx = as_other().unwrap().args(&a);
        sbx.cmd.current_dir(&dir.path);
        let r = sbx.run();
        assert!(
            !r.stdout().contains(SECRET),
            "{view:?} shows a secret: {}",
            r.stdout()
        );
    }
    // The custom addition is masked where devtool alone shows it.
    let mut sbx = as_other().unwrap().args([
        "--policy",
        "devtool",
        "--",
        "cat",
        &format!("{home}/.config/mytool/token"),
    ]);
    sbx.cmd.current_dir(&dir.path);
    assert!(sbx.run().ok().contains(SECRET));
    // A secret named as the source of a command-line bind is the caller's choice.
    let npmrc = format!("{home}/.npmrc");
    let mut sbx = as_other().unwrap().args([
        "--policy",
        "devtool",
        "--ro-bind",
        &npmrc,
        &npmrc,
        "--",
        "cat",
        &npmrc,
    ]);
    sbx.cmd.current_dir(&dir.path);
    assert!(sbx.run().ok().contains(SECRET));
}

// 11. Home from the password database.

#[test]
fn a_different_home_in_the_environment_never_shows_the_real_one() {
    let Some(user) = secret_home() else { return };
    let dir = TestDir::new(Some(&user));
    let key = format!("{}/.ssh/id_test", user.home.display());
    for home in [None, Some("/"), Some(""), Some(dir.path.to_str().unwrap())] {
        for policy in ["default", "devtool"] {
            let mut sbx = as_other()
                .unwrap()
                .args(["--policy", policy, "--", "cat", &key]);
            match home {
                None => sbx.cmd.env_remove("HOME"),
                Some(h) => sbx.cmd.env("HOME", h),
            };
            sbx.cmd.current_dir(&dir.path);
            let r = sbx.run();
            assert!(
                !r.stdout().contains(SECRET),
                "HOME={home:?} {policy}: the key shows: {}",
                r.stdout()
            );
        }
    }
}

// 5. devtool without the runtime dir; caches on demand.

#[test]
fn devtool_reaches_no_runtime_dir_or_agent_and_makes_its_caches() {
    if !require(have("python3"), "python3", "apt-get install python3") {
        return;
    }
    let Some(user) = other_user() else { return };
    let dir = TestDir::new(Some(&user));
    let run = dir.path.join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
    let sockets: Vec<(PathBuf, std::os::unix::net::UnixListener)> = ["bus", "agent"]
        .iter()
        .map(|n| {
            let p = run.join(n);
            let l = std::os::unix::net::UnixListener::bind(&p).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777)).unwrap();
            l.set_nonblocking(true).unwrap();
            (p, l)
        })
        .collect();
    // A daemon's socket under home (Docker Desktop's), which no variable names.
    let docker = user.home.join(".docker/run");
    std::fs::create_dir_all(&docker).unwrap();
    for d in [user.home.join(".docker"), docker.clone()] {
        std::os::unix::fs::chown(&d, Some(user.uid), Some(user.gid)).unwrap();
    }
    let docker_sock = docker.join(format!("docker-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&docker_sock);
    let docker_listener = std::os::unix::net::UnixListener::bind(&docker_sock).unwrap();
    std::fs::set_permissions(&docker_sock, std::fs::Permissions::from_mode(0o777)).unwrap();
    docker_listener.set_nonblocking(true).unwrap();
    let script = format!(
        "import socket\nfor p in {:?}:\n    s = socket.socket(socket.AF_UNIX)\n    try:\n        s.connect(p); print('connected', p)\n    except OSError as e:\n        print('refused', p, e.errno)\n",
        sockets
            .iter()
            .map(|(p, _)| p.display().to_string())
            .chain([docker_sock.display().to_string()])
            .collect::<Vec<_>>()
    );
    let cache = user.home.join(".cache");
    let _ = std::fs::remove_dir_all(&cache);
    let mut sbx = as_other().unwrap().args([
        "--policy",
        "devtool",
        "--",
        "sh",
        "-c",
        "python3 -c \"$0\" && touch ~/.cache/made-inside",
        &script,
    ]);
    sbx.cmd
        .env("XDG_RUNTIME_DIR", &run)
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", run.join("bus").display()),
        )
        .env("SSH_AUTH_SOCK", run.join("agent"))
        .current_dir(&dir.path);
    let r = sbx.run();
    let out = r.ok();
    assert!(!out.contains("connected"), "{out}");
    assert_eq!(out.matches("refused").count(), 3, "{out}");
    assert!(
        docker_listener.accept().is_err(),
        "the docker socket got a connection"
    );
    let _ = std::fs::remove_file(&docker_sock);
    for (p, l) in &sockets {
        assert!(
            l.accept().is_err(),
            "{} got a connection from the sandbox",
            p.display()
        );
    }
    assert!(
        cache.join("made-inside").exists(),
        "devtool makes ~/.cache on demand and keeps it writable"
    );
    let _ = std::fs::remove_dir_all(&cache);
}

// 7. Landlock and noexec mean what the policy says.

#[test]
fn untrusted_code_cannot_run_what_it_wrote_where_execute_excludes_it() {
    let sbx = Sbx::rootless();
    let custom = policy_file(
        sbx.dir(),
        "noexec.toml",
        "extends = [\"default\"]\n[filesystem]\nview = \"empty\"\nmounts = [\n  \
         { ro_bind = \"/usr\" }, { symlink = \"usr/bin\", dest = \"/bin\" },\n  \
         { symlink = \"usr/lib\", dest = \"/lib\" }, { symlink = \"usr/lib64\", dest = \"/lib64\" },\n  \
         { proc = \"/proc\" }, { dev = \"/dev\" }, { tmpfs = \"/scratch\" },\n]\n\
         [landlock]\nread = [\"!/\", \"/usr\", \"/scratch\"]\nexecute = [\"!/\", \"/usr\"]\n",
    );
    let script = "cp /usr/bin/id $D/x && chmod +x $D/x; $D/x; echo direct=$?; \
                  /lib64/ld-linux-x86-64.so.2 $D/x >/dev/null 2>&1; echo loader=$?; \
                  /usr/bin/id -u >/dev/null; echo system=$?";
    for (policy, d) in [
        ("untrusted", "/tmp"),
        (custom.to_str().unwrap(), "/scratch"),
    ] {
        let r = Sbx::rootless()
            .args([
                "--policy", policy, "--setenv", "D", d, "--", "sh", "-c", script,
            ])
            .run();
        let out = r.ok();
        assert!(
            out.contains("direct=126") && !out.contains("loader=0") && out.contains("system=0"),
            "{policy}: {out}{}",
            r.stderr()
        );
    }
}

// 8. Overrides that can't leak.

#[test]
fn a_user_policy_extends_default_with_a_bind_that_is_there_and_writable() {
    let user = unprivileged_user();
    let dir = TestDir::new(Some(&user));
    let cfg = dir.path.join("cfg");
    let data = dir.path.join("data");
    let sbx = Sbx::rootless();
    make_dir(&cfg.join("sbx/policies"), &user);
    make_dir(&data, &user);
    policy_file(
        &cfg.join("sbx/policies"),
        "mine.toml",
        &format!(
            "extends = [\"default\"]\n[filesystem]\nmounts = [{{ bind = {:?}, dest = \"/data\" }}]\n[landlock]\nwrite = [\"/data\"]\n",
            data.display().to_string()
        ),
    );
    let mut sbx = sbx.args([
        "--policy",
        "mine",
        "--",
        "sh",
        "-c",
        "echo x > /data/f && ls ~",
    ]);
    sbx.cmd.env("XDG_CONFIG_HOME", &cfg);
    sbx.run().ok();
    assert!(
        data.join("f").exists(),
        "the policy's mount is in the default view"
    );
}

#[test]
fn a_user_default_extends_the_builtin_and_leaves_other_builtins_alone() {
    let user = unprivileged_user();
    let dir = TestDir::new(Some(&user));
    let cfg = dir.path.join("cfg");
    make_dir(&cfg.join("sbx/policies"), &user);
    let show = |name: &str| {
        let mut s = Sbx::rootless().args(["policy", "show", name]);
        s.cmd.env("XDG_CONFIG_HOME", &cfg);
        s.run().ok()
    };
    let untrusted_before = show("untrusted");
    let build_before = show("build");
    policy_file(
        &cfg.join("sbx/policies"),
        "default.toml",
        "extends = [\"default\"]\n[identity]\nhostname = \"mine\"\n[network]\nmode = \"host\"\n",
    );
    let mut s = Sbx::rootless().args(["--", "hostname"]);
    s.cmd.env("XDG_CONFIG_HOME", &cfg);
    assert_eq!(s.run().ok().trim(), "mine", "the user's default is used");
    assert_eq!(show("untrusted"), untrusted_before);
    assert_eq!(show("build"), build_before);
    let shown = show("default");
    assert!(
        shown.contains("overrides the built-in policy") && shown.contains("<builtin>/default.toml"),
        "{shown}"
    );
}

// 9. A typed schema.

#[test]
fn an_unknown_value_is_an_error_at_its_line_never_a_default() {
    let sbx = Sbx::rootless();
    for (text, at, hint) in [
        (
            "[network]\nmode = \"hots\"\n",
            ":2:8:",
            "did you mean \"host\"?",
        ),
        (
            "[seccomp]\ndefault_action = \"deny\"\n",
            ":2:18:",
            "one of: allow, errno",
        ),
        ("[process]\numask = \"999\"\n", ":2:9:", ""),
        ("[identity]\nhostname = \"a/b\"\n", ":2:12:", ""),
        ("[identity]\nhostname = \"a\\nb\"\n", ":2:12:", ""),
        (
            "[filesystem]\nmounts = [{ tmpfs = \"/x\\u0000\" }]\n",
            ":2:",
            "NUL",
        ),
    ] {
        let p = policy_file(
            sbx.dir(),
            "bad.toml",
            &format!("extends = [\"default\"]\n{text}"),
        );
        let r = Sbx::rootless()
            .args(["--policy", p.to_str().unwrap(), "--", "true"])
            .run();
        assert_eq!(r.code(), 125, "{text}: {}", r.stderr());
        let at = at.replace(":2:", ":3:");
        assert!(
            r.stderr().contains(&at) && r.stderr().contains(hint),
            "{text}: {}",
            r.stderr()
        );
    }
    let r = Sbx::rootless()
        .args(["--hostname", "evil\n1.2.3.4 good", "--", "true"])
        .run();
    assert_eq!(r.code(), 125);
}

// 12. A locked view.

#[test]
fn a_kept_cap_sys_admin_cannot_unmount_or_remount_the_view() {
    let Some(user) = secret_home() else { return };
    let dir = TestDir::new(Some(&user));
    let h = user.home.display().to_string();
    let script = format!(
        "umount -l {h}/.ssh 2>/dev/null; umount -l {h} 2>/dev/null; umount -l / 2>/dev/null; \
         mount -o remount,bind,rw / 2>/dev/null; mount -o remount,rw / 2>/dev/null; \
         cat {h}/.ssh/id_test 2>/dev/null; echo x > /usr/sbx-it-locked 2>/dev/null; \
         mkdir -p /tmp/m && mount -t tmpfs own /tmp/m && echo own-mount-ok"
    );
    for map in ["--map-root", "--map-current"] {
        let mut sbx = as_other().unwrap().args([
            map,
            "--cap-add",
            "CAP_SYS_ADMIN",
            "--",
            "sh",
            "-c",
            &script,
        ]);
        sbx.cmd.current_dir(&dir.path);
        let r = sbx.run();
        let out = r.stdout();
        assert!(!out.contains(SECRET), "{map}: the mask came off: {out}");
        assert!(out.contains("own-mount-ok"), "{map}: {out}{}", r.stderr());
        assert!(!Path::new("/usr/sbx-it-locked").exists());
    }
}

// 15. What runs outside later stays read-only.

#[test]
fn git_hooks_and_config_of_the_project_stay_read_only_under_every_policy() {
    if !require(have("git"), "git", "apt-get install git") {
        return;
    }
    let user = unprivileged_user();
    for policy in ["default", "build", "devtool", "untrusted", "makepkg"] {
        let dir = TestDir::new(Some(&user));
        let proj = dir.path.join("proj");
        make_dir(&proj, &user);
        let sbx = Sbx::rootless();
        let as_user = |args: &[&str]| run_as(&user, &proj, args);
        as_user(&["git", "init", "-q"]);
        std::fs::write(proj.join(".envrc"), "export OK=1\n").unwrap();
        // A submodule's .git is a pointer file that git status follows.
        std::fs::write(
            proj.join(".gitmodules"),
            "[submodule \"lib\"]\n\tpath = lib\n",
        )
        .unwrap();
        make_dir(&proj.join("lib"), &user);
        std::fs::write(proj.join("lib/.git"), "gitdir: ../.git/modules/lib\n").unwrap();
        let marker = dir.path.join("planted-ran");
        let script = format!(
            "git config core.fsmonitor 'touch {m}'; echo config=$?; \
             echo 'touch {m}' > .git/hooks/pre-commit; echo hook=$?; \
             echo ../evil > .git/commondir; echo commondir=$?; \
             mv .git .git.orig; echo rename=$?; \
             echo 'gitdir: ../evil' > lib/.git; echo submodule=$?; \
             echo 'touch {m}' > .envrc; echo envrc=$?; echo x > src.c; echo src=$?",
            m = marker.display()
        );
        let mut sbx = sbx.args(["--policy", policy, "--", "sh", "-c", &script]);
        sbx.cmd.current_dir(&proj);
        let r = sbx.run();
        let out = r.ok();
        for refused in [
            "config=",
            "hook=",
            "commondir=",
            "rename=",
            "submodule=",
            "envrc=",
        ] {
            assert!(
                !out.contains(&format!("{refused}0")),
                "{policy}: {refused} written: {out}"
            );
        }
        assert!(
            out.contains("src=0"),
            "{policy}: the project is writable: {out}"
        );
        let config = std::fs::read_to_string(proj.join(".git/config")).unwrap();
        assert!(!config.contains("fsmonitor"), "{policy}: {config}");
        assert!(!proj.join(".git/hooks/pre-commit").exists());
        assert_eq!(
            std::fs::read_to_string(proj.join(".envrc")).unwrap(),
            "export OK=1\n"
        );
        assert_eq!(
            std::fs::read_to_string(proj.join("lib/.git")).unwrap(),
            "gitdir: ../.git/modules/lib\n"
        );
        as_user(&["git", "status", "--short"]);
        assert!(
            !marker.exists(),
            "{policy}: a host git status ran what was planted"
        );
    }
    // Opting out on the command line, for a build that must.
    let dir = TestDir::new(Some(&user));
    let proj = dir.path.join("proj");
    make_dir(&proj, &user);
    let sbx = Sbx::rootless();
    std::fs::create_dir_all(proj.join(".git/hooks")).unwrap();
    std::os::unix::fs::chown(proj.join(".git"), Some(user.uid), Some(user.gid)).unwrap();
    std::os::unix::fs::chown(proj.join(".git/hooks"), Some(user.uid), Some(user.gid)).unwrap();
    let mut sbx = sbx.args([
        "--unprotect",
        ".git",
        "--unprotect",
        ".git/hooks",
        "--",
        "sh",
        "-c",
        "echo x > .git/hooks/pre-commit",
    ]);
    sbx.cmd.current_dir(&proj);
    sbx.run().ok();
    assert!(proj.join(".git/hooks/pre-commit").exists());
    let r = Sbx::rootless()
        .args(["--unprotect", ".git/hoks", "--", "true"])
        .run();
    assert_eq!(r.code(), 125);
    assert!(
        r.stderr().contains("did you mean .git/hooks?"),
        "{}",
        r.stderr()
    );
}

// 6. Host helpers by trusted path, sbx unshare included.

#[test]
fn sbx_unshare_never_runs_a_helper_planted_on_path() {
    let user = unprivileged_user();
    let dir = TestDir::new(Some(&user));
    let bin = dir.path.join("bin");
    make_dir(&bin, &user);
    let marker = dir.path.join("planted-ran");
    for helper in ["newuidmap", "newgidmap"] {
        let p = bin.join(helper);
        std::fs::write(&p, format!("#!/bin/sh\ntouch {}\n", marker.display())).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut sbx = Sbx::rootless().args(["unshare", "--map-auto", "-r", "--", "true"]);
    sbx.cmd
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()));
    let r = sbx.run();
    assert!(
        !marker.exists(),
        "sbx unshare ran {}: {}",
        bin.display(),
        r.stderr()
    );
}

// 6 (landlock). Keeping CAP_SYS_ADMIN keeps the scopes: no signal reaches the host.

#[test]
fn a_kept_cap_sys_admin_still_cannot_signal_the_host() {
    let user = unprivileged_user();
    let dir = TestDir::new(Some(&user));
    let pidfile = dir.path.join("sleeper.pid");
    // The sleeper is the test user's, as sbx's caller would be, in sbx's process group.
    let as_user = if is_root() {
        format!(
            "/usr/bin/setpriv --reuid={} --regid={} --clear-groups ",
            user.uid, user.gid
        )
    } else {
        String::new()
    };
    let r = Sbx::rootless()
        .args([
            "--cap-add",
            "CAP_SYS_ADMIN",
            "--",
            "sh",
            "-c",
            "trap '' USR1; kill -USR1 0; echo sent",
        ])
        .via_shell(&format!(
            "{as_user}sleep 30 >/dev/null 2>&1 </dev/null & echo $! > {}",
            pidfile.display()
        ))
        .run();
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let alive = std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z");
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
    assert!(r.stdout().contains("sent"), "{}", r.stderr());
    assert!(
        alive,
        "the host's sleep (same process group) was signalled from inside"
    );
}

// 16. An empty program name is explained, not a panic.

#[test]
fn an_empty_argv0_or_command_name_is_explained() {
    // bash's `exec -a ''` runs sbx with an empty argv[0].
    let user = unprivileged_user();
    let dir = TestDir::new(Some(&user));
    let mut cmd = std::process::Command::new("/usr/bin/setpriv");
    cmd.arg(format!("--reuid={}", user.uid))
        .arg(format!("--regid={}", user.gid))
        .args([
            "--clear-groups",
            "--",
            "bash",
            "-c",
            "exec -a '' \"$0\" -- echo ran",
        ])
        .arg(sbx_bin())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &user.home)
        .current_dir(&dir.path);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ran");
    let r = Sbx::rootless().args(["--", ""]).run();
    assert_eq!(r.code(), 127);
    assert!(r.stderr().contains("empty command name"), "{}", r.stderr());
}

#[test]
fn every_writable_bind_keeps_its_git_read_only_and_an_unprotected_git_stays_pinned() {
    if !require(have("git"), "git", "apt-get install git") {
        return;
    }
    let user = unprivileged_user();
    let dir = TestDir::new(Some(&user));
    let proj = dir.path.join("proj");
    make_dir(&proj, &user);
    run_as(&user, &proj, &["git", "init", "-q"]);
    let p = proj.to_str().unwrap();
    let config = std::fs::read_to_string(proj.join(".git/config")).unwrap();
    // Bound elsewhere, and in an explicit view: the same protection as the project's.
    for args in [
        vec![
            "--policy",
            "default",
            "--bind",
            p,
            "/tmp/work",
            "--",
            "sh",
            "-c",
            "echo x >> /tmp/work/.git/config",
        ],
        vec![
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--bind",
            p,
            p,
            "--",
            "sh",
            "-c",
            &format!("echo x >> {p}/.git/config"),
        ],
    ] {
        let r = Sbx::rootless().args(&args).run();
        assert_ne!(r.code(), 0, "{args:?}");
        assert_eq!(
            std::fs::read_to_string(proj.join(".git/config")).unwrap(),
            config
        );
    }
    // --unprotect .git: commits may write it, but it cannot be renamed away from its config
    // and hooks, which stay read-only.
    let mut sbx = Sbx::rootless().args([
        "--unprotect",
        ".git",
        "--",
        "sh",
        "-c",
        "echo x > .git/COMMIT_EDITMSG; echo msg=$?; mv .git .gold; echo rename=$?; \
         echo x >> .git/config; echo config=$?",
    ]);
    sbx.cmd.current_dir(&proj);
    let out = sbx.run().ok();
    assert!(
        out.contains("msg=0") && !out.contains("rename=0") && !out.contains("config=0"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(proj.join(".git/config")).unwrap(),
        config
    );
}

#[test]
fn pasta_is_refused_to_a_command_that_keeps_raw_or_admin_network_capabilities() {
    for cap in ["CAP_NET_RAW", "CAP_NET_ADMIN"] {
        let r = Sbx::rootless()
            .args(["--net", "pasta", "--cap-add", cap, "--", "true"])
            .run();
        assert_eq!(r.code(), 125, "{cap}: {}", r.stderr());
        assert!(r.stderr().contains("CAP_NET_RAW"), "{}", r.stderr());
    }
}
