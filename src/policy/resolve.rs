//! `extends` and merging: a chain of parsed files folded into one [`Policy`].

use std::rc::Rc;

use toml::Spanned;

use super::schema::{self, File};
use super::{line_col, lookup, lookup_parent, parse, Origin, PolicyError, Source, Val};

/// A fully resolved policy. Every value keeps its origin.
#[derive(Debug, Default, Clone)]
pub struct Policy {
    pub name: String,
    /// The files applied, parents first.
    pub chain: Vec<String>,
    pub description: Option<Val<String>>,
    pub ns_mount: Option<Val<bool>>,
    pub ns_pid: Option<Val<bool>>,
    pub ns_ipc: Option<Val<bool>>,
    pub ns_uts: Option<Val<bool>>,
    pub ns_net: Option<Val<bool>>,
    pub ns_cgroup: Option<Val<bool>>,
    pub ns_time: Option<Val<bool>>,
    pub map: Option<Val<schema::MapMode>>,
    pub map_users: Vec<Val<String>>,
    pub map_groups: Vec<Val<String>>,
    pub uid: Option<Val<u32>>,
    pub gid: Option<Val<u32>>,
    pub hostname: Option<Val<String>>,
    pub view: Option<Val<schema::ViewKind>>,
    pub root: Option<Val<String>>,
    pub mounts: Vec<Val<schema::Mount>>,
    pub secrets: Vec<Val<String>>,
    pub protect: Vec<Val<String>>,
    pub env_clear: Option<Val<bool>>,
    pub env_keep: Vec<Val<String>>,
    pub env_set: Vec<Val<(String, String)>>,
    pub env_unset: Vec<Val<String>>,
    pub caps_keep: Vec<Val<String>>,
    pub landlock_mode: Option<Val<schema::LandlockMode>>,
    pub landlock_read: Vec<Val<String>>,
    pub landlock_write: Vec<Val<String>>,
    pub landlock_execute: Vec<Val<String>>,
    pub landlock_bind_tcp: Option<Vec<Val<u16>>>,
    pub landlock_connect_tcp: Option<Vec<Val<u16>>>,
    pub landlock_scopes: Option<Vec<Val<schema::Scope>>>,
    pub seccomp_enabled: Option<Val<bool>>,
    pub seccomp_default: Option<Val<schema::Action>>,
    pub seccomp_errno: Option<Val<i32>>,
    pub seccomp_allow: Vec<Val<String>>,
    pub seccomp_deny: Vec<Val<String>>,
    pub seccomp_rules: Vec<Val<crate::confine::seccomp::RuleSpec>>,
    pub limits: Vec<(&'static str, Val<u64>)>,
    pub net_mode: Option<Val<schema::NetMode>>,
    pub net_publish: Vec<Val<String>>,
    pub die_with_parent: Option<Val<bool>>,
    pub new_session: Option<Val<bool>>,
    pub as_pid_1: Option<Val<bool>>,
    pub umask: Option<Val<u32>>,
}

/// A policy before any file: the built-in sets of secrets and protected project paths, which
/// files add to or take from.
fn base(name: &str) -> Policy {
    let builtin = |list: &[&str], what: &str| {
        let file: std::rc::Rc<str> = std::rc::Rc::from(format!("<sbx {what}>").as_str());
        list.iter()
            .map(|s| Val {
                v: s.to_string(),
                at: Origin {
                    file: file.clone(),
                    line: 0,
                    col: 0,
                },
            })
            .collect()
    };
    Policy {
        name: name.to_string(),
        secrets: builtin(crate::ns::mount::SECRETS, "@secrets"),
        protect: builtin(crate::ns::mount::PROTECT, "@protect"),
        ..Policy::default()
    }
}

/// Resolves a policy by name or path, following `extends` depth-first, parents first.
pub fn resolve(name: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Policy, PolicyError> {
    let source = lookup(name, env)?;
    let mut policy = base(&source.name);
    let mut stack = Vec::new();
    apply_file(&mut policy, source, env, &mut stack)?;
    Ok(policy)
}

/// Resolves a policy whose text is already loaded (for `policy check`).
pub fn resolve_source(
    source: Source,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Policy, PolicyError> {
    let mut policy = base(&source.name);
    apply_file(&mut policy, source, env, &mut Vec::new())?;
    Ok(policy)
}

fn apply_file(
    policy: &mut Policy,
    source: Source,
    env: &dyn Fn(&str) -> Option<String>,
    stack: &mut Vec<String>,
) -> Result<(), PolicyError> {
    let id = source.display_name();
    let file = parse(&source)?;
    stack.push(id.clone());
    for parent in &file.extends {
        let at = |message: String, hint: Option<String>| {
            let (line, col) = line_col(&source.text, parent.span().start);
            PolicyError {
                file: id.clone(),
                line,
                col,
                message,
                hint,
            }
        };
        let parent_source = lookup_parent(parent.get_ref(), &source, env).map_err(|e| {
            at(
                format!("extends {:?}: {}", parent.get_ref(), e.message),
                e.hint.clone(),
            )
        })?;
        let parent_id = parent_source.display_name();
        if stack.contains(&parent_id) {
            let mut cycle = stack.clone();
            cycle.push(parent_id);
            return Err(at(
                format!(
                    "extends {:?} makes a cycle: {}",
                    parent.get_ref(),
                    cycle.join(" -> ")
                ),
                Some("remove one of the extends entries of this cycle".into()),
            ));
        }
        apply_file(policy, parent_source, env, stack)?;
    }
    stack.pop();
    Layer {
        policy,
        file: Rc::from(id.as_str()),
        text: &source.text,
    }
    .merge(file)?;
    policy.chain.push(id);
    Ok(())
}

struct Layer<'a> {
    policy: &'a mut Policy,
    file: Rc<str>,
    text: &'a str,
}

impl Layer<'_> {
    fn origin<T>(&self, s: &Spanned<T>) -> Origin {
        let (line, col) = line_col(self.text, s.span().start);
        Origin {
            file: self.file.clone(),
            line,
            col,
        }
    }

    fn val<T: Clone>(&self, s: &Spanned<T>) -> Val<T> {
        Val {
            v: s.get_ref().clone(),
            at: self.origin(s),
        }
    }

    fn error<T>(&self, s: &Spanned<T>, message: String, hint: Option<String>) -> PolicyError {
        let (line, col) = line_col(self.text, s.span().start);
        PolicyError {
            file: self.file.to_string(),
            line,
            col,
            message,
            hint,
        }
    }

    /// Sets an enumerated or parsed value; a bad one is an error here too (validation has
    /// reported it already), never a default.
    fn checked<T: Clone>(
        &self,
        slot: &mut Option<Val<T>>,
        value: &Option<Spanned<schema::Checked<T>>>,
    ) -> Result<(), PolicyError> {
        if let Some(v) = value {
            match &v.get_ref().0 {
                Ok(t) => {
                    *slot = Some(Val {
                        v: t.clone(),
                        at: self.origin(v),
                    })
                }
                Err(m) => return Err(self.error(v, m.clone(), None)),
            }
        }
        Ok(())
    }

    fn set<T: Clone>(&self, slot: &mut Option<Val<T>>, value: &Option<Spanned<T>>) {
        if let Some(v) = value {
            *slot = Some(self.val(v));
        }
    }

    /// Appends a list, where `"!x"` removes inherited entries equal to x.
    fn append(&self, list: &mut Vec<Val<String>>, values: &[Spanned<String>]) {
        for v in values {
            match v.get_ref().strip_prefix('!') {
                Some(removed) => list.retain(|e| e.v != removed),
                None => list.push(self.val(v)),
            }
        }
    }

    fn merge(self, f: File) -> Result<(), PolicyError> {
        // Validation that needs the file's positions happens here, once per file.
        super::validate::file(&f, &|s, m, h| self.error(s, m, h))?;
        let mut p = std::mem::take(self.policy);
        self.set(&mut p.description, &f.description);
        let ns = &f.namespaces;
        self.set(&mut p.ns_mount, &ns.mount);
        self.set(&mut p.ns_pid, &ns.pid);
        self.set(&mut p.ns_ipc, &ns.ipc);
        self.set(&mut p.ns_uts, &ns.uts);
        self.set(&mut p.ns_net, &ns.net);
        self.set(&mut p.ns_cgroup, &ns.cgroup);
        self.set(&mut p.ns_time, &ns.time);
        self.checked(&mut p.map, &f.identity.map)?;
        self.append(&mut p.map_users, &f.identity.map_users);
        self.append(&mut p.map_groups, &f.identity.map_groups);
        self.set(&mut p.uid, &f.identity.uid);
        self.set(&mut p.gid, &f.identity.gid);
        self.set(&mut p.hostname, &f.identity.hostname);
        self.checked(&mut p.view, &f.filesystem.view)?;
        self.set(&mut p.root, &f.filesystem.root);
        self.append(&mut p.secrets, &f.filesystem.secrets);
        self.append(&mut p.protect, &f.filesystem.protect);
        for m in &f.filesystem.mounts {
            match &m.get_ref().remove {
                Some(dest) => p.mounts.retain(|e| {
                    super::validate::mount_dest(&e.v).as_deref() != Some(dest.as_str())
                }),
                None => p.mounts.push(self.val(m)),
            }
        }
        self.set(&mut p.env_clear, &f.environment.clear);
        self.append(&mut p.env_keep, &f.environment.keep);
        for (k, v) in &f.environment.set {
            p.env_set.retain(|e| e.v.0 != *k);
            p.env_set.push(Val {
                v: (k.clone(), v.get_ref().clone()),
                at: self.origin(v),
            });
        }
        self.append(&mut p.env_unset, &f.environment.unset);
        self.append(&mut p.caps_keep, &f.capabilities.keep);
        let ll = &f.landlock;
        self.checked(&mut p.landlock_mode, &ll.mode)?;
        self.append(&mut p.landlock_read, &ll.read);
        self.append(&mut p.landlock_write, &ll.write);
        self.append(&mut p.landlock_execute, &ll.execute);
        if let Some(ports) = &ll.bind_tcp {
            p.landlock_bind_tcp = Some(ports.iter().map(|s| self.val(s)).collect());
        }
        if let Some(ports) = &ll.connect_tcp {
            p.landlock_connect_tcp = Some(ports.iter().map(|s| self.val(s)).collect());
        }
        if let Some(scopes) = &ll.scopes {
            let mut list = Vec::new();
            for s in scopes {
                let mut one = None;
                self.checked(&mut one, &Some(s.clone()))?;
                list.extend(one);
            }
            p.landlock_scopes = Some(list);
        }
        let sc = &f.seccomp;
        self.set(&mut p.seccomp_enabled, &sc.enabled);
        self.checked(&mut p.seccomp_default, &sc.default_action)?;
        let mut errno = None;
        self.checked(&mut errno, &sc.errno)?;
        if let Some(e) = errno {
            p.seccomp_errno = Some(Val { v: e.v.0, at: e.at });
        }
        self.append(&mut p.seccomp_allow, &sc.allow);
        self.append(&mut p.seccomp_deny, &sc.deny);
        for r in &sc.rules {
            p.seccomp_rules.push(self.val(r));
        }
        let l = &f.limits;
        for (name, value) in [
            ("nofile", &l.nofile),
            ("nproc", &l.nproc),
            ("as", &l.address_space),
            ("cpu", &l.cpu),
            ("fsize", &l.fsize),
            ("core", &l.core),
            ("stack", &l.stack),
        ] {
            if let Some(v) = value {
                p.limits.retain(|(n, _)| *n != name);
                p.limits.push((name, self.val(v)));
            }
        }
        self.checked(&mut p.net_mode, &f.network.mode)?;
        self.append(&mut p.net_publish, &f.network.publish);
        // The network section's port lists feed landlock's.
        for (slot, ports) in [
            (&mut p.landlock_bind_tcp, &f.network.bind_tcp),
            (&mut p.landlock_connect_tcp, &f.network.connect_tcp),
        ] {
            if let Some(ports) = ports {
                slot.get_or_insert_with(Vec::new)
                    .extend(ports.iter().map(|s| self.val(s)));
            }
        }
        self.set(&mut p.die_with_parent, &f.process.die_with_parent);
        self.set(&mut p.new_session, &f.process.new_session);
        self.set(&mut p.as_pid_1, &f.process.as_pid_1);
        let mut umask = None;
        self.checked(&mut umask, &f.process.umask)?;
        if let Some(u) = umask {
            p.umask = Some(Val { v: u.v.0, at: u.at });
        }
        *self.policy = p;
        Ok(())
    }
}
