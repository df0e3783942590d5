//! `sbx policy show`: the resolved policy as TOML, each value followed by the file and line it
//! came from.

use std::fmt::Write;

use super::schema::Mount;
use super::{Policy, Val};

fn q(s: &str) -> String {
    format!("{s:?}")
}

struct Out(String);

impl Out {
    fn section(&mut self, name: &str) {
        let _ = write!(self.0, "\n[{name}]\n");
    }

    fn scalar<T>(&mut self, key: &str, v: &Option<Val<T>>, repr: impl Fn(&T) -> String) {
        if let Some(v) = v {
            let line = format!("{key} = {}", repr(&v.v));
            let _ = writeln!(self.0, "{line:<48} # {}", v.at);
        }
    }

    fn list<T>(&mut self, key: &str, items: &[Val<T>], repr: impl Fn(&T) -> String) {
        if items.is_empty() {
            return;
        }
        let _ = writeln!(self.0, "{key} = [");
        for v in items {
            let line = format!("    {},", repr(&v.v));
            if v.at.line == 0 {
                let _ = writeln!(self.0, "{line:<48} # {}", v.at.file);
            } else {
                let _ = writeln!(self.0, "{line:<48} # {}", v.at);
            }
        }
        let _ = writeln!(self.0, "]");
    }
}

fn mount(m: &Mount) -> String {
    let mut parts = Vec::new();
    let mut kv = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            parts.push(format!("{k} = {}", q(v)));
        }
    };
    for (k, v) in [
        ("bind", &m.bind),
        ("ro_bind", &m.ro_bind),
        ("dev_bind", &m.dev_bind),
        ("tmpfs", &m.tmpfs),
        ("dir", &m.dir),
        ("symlink", &m.symlink),
        ("remount_ro", &m.remount_ro),
        ("proc", &m.proc),
        ("dev", &m.dev),
        ("mqueue", &m.mqueue),
        ("overlay", &m.overlay),
        ("mask", &m.mask),
        ("dest", &m.dest),
        ("size", &m.size),
        ("perms", &m.perms),
        ("upper", &m.upper),
        ("work", &m.work),
    ] {
        kv(k, v);
    }
    if let Some(l) = &m.lower {
        parts.push(format!(
            "lower = [{}]",
            l.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ")
        ));
    }
    if let Some(o) = m.optional {
        parts.push(format!("optional = {o}"));
    }
    if let Some(c) = m.create {
        parts.push(format!("create = {c}"));
    }
    format!("{{ {} }}", parts.join(", "))
}

/// Renders a resolved policy with provenance.
pub fn render(p: &Policy) -> String {
    let mut o = Out(String::new());
    let _ = writeln!(
        o.0,
        "# policy {:?}, resolved from: {}",
        p.name,
        p.chain.join(", ")
    );
    if let Some(top) = p.chain.last() {
        let builtin = format!("<builtin>/{}.toml", p.name);
        if *top != builtin && super::BUILTIN.iter().any(|(n, _)| *n == p.name) {
            let _ = writeln!(
                o.0,
                "# {top} overrides the built-in policy {:?} for --policy {}; other built-in policies still extend only built-in ones",
                p.name, p.name
            );
        }
    }
    o.scalar("description", &p.description, |s| q(s));
    let b = |v: &bool| v.to_string();
    let s = |v: &String| q(v);
    o.section("namespaces");
    for (k, v) in [
        ("mount", &p.ns_mount),
        ("pid", &p.ns_pid),
        ("ipc", &p.ns_ipc),
        ("uts", &p.ns_uts),
        ("net", &p.ns_net),
        ("cgroup", &p.ns_cgroup),
        ("time", &p.ns_time),
    ] {
        o.scalar(k, v, b);
    }
    o.section("identity");
    o.scalar("map", &p.map, |m| q(m.name()));
    o.list("map_users", &p.map_users, s);
    o.list("map_groups", &p.map_groups, s);
    o.scalar("uid", &p.uid, |v| v.to_string());
    o.scalar("gid", &p.gid, |v| v.to_string());
    o.scalar("hostname", &p.hostname, s);
    o.section("filesystem");
    o.scalar("view", &p.view, |v| q(v.name()));
    o.scalar("root", &p.root, s);
    o.list("mounts", &p.mounts, mount);
    o.list("secrets", &p.secrets, s);
    o.list("protect", &p.protect, s);
    o.section("environment");
    o.scalar("clear", &p.env_clear, b);
    o.list("keep", &p.env_keep, s);
    o.list("set", &p.env_set, |(k, v)| format!("{k} = {}", q(v)));
    o.list("unset", &p.env_unset, s);
    o.section("capabilities");
    o.list("keep", &p.caps_keep, s);
    o.section("landlock");
    o.scalar("mode", &p.landlock_mode, |m| q(m.name()));
    o.list("read", &p.landlock_read, s);
    o.list("write", &p.landlock_write, s);
    o.list("execute", &p.landlock_execute, s);
    let port = |v: &u16| v.to_string();
    if let Some(ports) = &p.landlock_bind_tcp {
        o.list("bind_tcp", ports, port);
    }
    if let Some(ports) = &p.landlock_connect_tcp {
        o.list("connect_tcp", ports, port);
    }
    if let Some(scopes) = &p.landlock_scopes {
        o.list("scopes", scopes, |v| q(v.name()));
    }
    o.section("seccomp");
    o.scalar("enabled", &p.seccomp_enabled, b);
    o.scalar("default_action", &p.seccomp_default, |a| q(a.name()));
    o.scalar("errno", &p.seccomp_errno, |v| v.to_string());
    o.list("allow", &p.seccomp_allow, s);
    o.list("deny", &p.seccomp_deny, s);
    o.list("rules", &p.seccomp_rules, |r| {
        format!(
            "{{ syscall = {}, action = {:?}, args = {} conditions }}",
            q(&r.syscall),
            r.action,
            r.args.len()
        )
    });
    o.section("limits");
    for (name, v) in &p.limits {
        o.scalar(name, &Some(v.clone()), |n| n.to_string());
    }
    o.section("network");
    o.scalar("mode", &p.net_mode, |m| q(m.name()));
    o.list("publish", &p.net_publish, s);
    o.section("process");
    o.scalar("die_with_parent", &p.die_with_parent, b);
    o.scalar("new_session", &p.new_session, b);
    o.scalar("as_pid_1", &p.as_pid_1, b);
    o.scalar("umask", &p.umask, |u| q(&format!("{u:03o}")));
    o.0
}
