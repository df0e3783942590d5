//! Checks of one policy file that need its positions: names of syscalls and capabilities,
//! enumerated strings, mount entries, variables in paths. Each failure names file:line:col and,
//! where it can, the closest valid name.

use toml::Spanned;

use super::schema::{File, Mount};
use super::PolicyError;
use crate::suggest;

/// The variables a path may use.
pub const VARIABLES: &[&str] = &["HOME", "CWD", "UID", "XDG_RUNTIME_DIR", "TMPDIR"];

type Err<'a> = &'a dyn Fn(&Spanned<()>, String, Option<String>) -> PolicyError;

fn unit<T>(s: &Spanned<T>) -> Spanned<()> {
    Spanned::new(s.span(), ())
}

/// Checks `${NAME}` references in a path.
pub fn check_vars(path: &str) -> Result<(), (String, Option<String>)> {
    let mut rest = path;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            return Err((
                format!("{path:?}: unterminated ${{"),
                Some("write ${NAME}".into()),
            ));
        };
        let name = &after[..end];
        if !VARIABLES.contains(&name) {
            let hint = suggest::closest(name, VARIABLES.iter().copied())
                .map(|c| format!("did you mean ${{{c}}}?"))
                .unwrap_or_else(|| format!("known variables: {}", VARIABLES.join(", ")));
            return Err((
                format!("{path:?}: unknown variable ${{{name}}}"),
                Some(hint),
            ));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

fn path(err: Err, s: &Spanned<()>, p: &str) -> Result<(), PolicyError> {
    check_vars(p).map_err(|(m, h)| err(s, m, h))
}

/// A path relative to home or the project: no leading `/`, no `..`, no variable, not empty.
/// `*` matches one whole component.
pub fn relative_path(p: &str) -> Result<(), String> {
    if p.is_empty() || p.starts_with('/') {
        return Err("must be a relative path".into());
    }
    if p.contains("${") {
        return Err("may not use variables".into());
    }
    if p.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return Err("may not contain empty, . or .. components".into());
    }
    Ok(())
}

/// The destination of a mount entry (for `remove` and messages).
pub fn mount_dest(m: &Mount) -> Option<String> {
    m.dest
        .clone()
        .or_else(|| m.bind.clone())
        .or_else(|| m.ro_bind.clone())
        .or_else(|| m.dev_bind.clone())
        .or_else(|| m.tmpfs.clone())
        .or_else(|| m.dir.clone())
        .or_else(|| m.remount_ro.clone())
        .or_else(|| m.proc.clone())
        .or_else(|| m.dev.clone())
        .or_else(|| m.mqueue.clone())
        .or_else(|| m.overlay.clone())
        .or_else(|| m.mask.clone())
}

fn mount(err: Err, s: &Spanned<Mount>) -> Result<(), PolicyError> {
    let m = s.get_ref();
    let at = unit(s);
    let kinds: Vec<&str> = [
        ("bind", m.bind.is_some()),
        ("ro_bind", m.ro_bind.is_some()),
        ("dev_bind", m.dev_bind.is_some()),
        ("tmpfs", m.tmpfs.is_some()),
        ("dir", m.dir.is_some()),
        ("symlink", m.symlink.is_some()),
        ("remount_ro", m.remount_ro.is_some()),
        ("proc", m.proc.is_some()),
        ("dev", m.dev.is_some()),
        ("mqueue", m.mqueue.is_some()),
        ("overlay", m.overlay.is_some()),
        ("mask", m.mask.is_some()),
        ("remove", m.remove.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect();
    if kinds.len() != 1 {
        return Err(err(
            &at,
            format!("a mount needs exactly one kind, this one has {}", if kinds.is_empty() { "none".into() } else { kinds.join(", ") }),
            Some("e.g. { ro_bind = \"/usr\" }, { tmpfs = \"/tmp\" }, { symlink = \"usr/bin\", dest = \"/bin\" }".into()),
        ));
    }
    if m.symlink.is_some() && m.dest.is_none() {
        return Err(err(&at, "a symlink needs `dest`".into(), None));
    }
    if let Some(p) = &m.perms {
        crate::ns::mount::parse_perms(p).map_err(|e| err(&at, e, None))?;
    }
    if let Some(size) = &m.size {
        crate::ns::mount::parse_size(size).map_err(|e| err(&at, e, None))?;
    }
    if m.overlay.is_some() && m.lower.as_ref().is_none_or(|l| l.is_empty()) {
        return Err(err(&at, "an overlay needs `lower` layers".into(), None));
    }
    if m.upper.is_some() != m.work.is_some() {
        return Err(err(
            &at,
            "an overlay needs both `upper` and `work`, or neither".into(),
            None,
        ));
    }
    for p in [
        &m.bind,
        &m.ro_bind,
        &m.dev_bind,
        &m.dest,
        &m.tmpfs,
        &m.dir,
        &m.remount_ro,
        &m.proc,
        &m.dev,
        &m.mqueue,
        &m.overlay,
        &m.upper,
        &m.work,
        &m.mask,
        &m.remove,
    ]
    .into_iter()
    .flatten()
    .chain(m.lower.iter().flatten())
    {
        path(err, &at, p)?;
    }
    Ok(())
}

/// An errno given by name (`EPERM`) or number.
pub fn errno_value(v: &toml::Value) -> Result<i32, String> {
    match v {
        toml::Value::Integer(n) if (1..4096).contains(n) => Ok(*n as i32),
        toml::Value::String(s) => ERRNO_NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("unknown errno name {s:?} (EPERM, EACCES, ENOSYS, ...)")),
        other => Err(format!(
            "errno must be a name such as \"EPERM\" or a number from 1 to 4095, not {other}"
        )),
    }
}

const ERRNO_NAMES: &[(&str, i32)] = &[
    ("EPERM", libc::EPERM),
    ("ENOENT", libc::ENOENT),
    ("EACCES", libc::EACCES),
    ("EINVAL", libc::EINVAL),
    ("ENOSYS", libc::ENOSYS),
    ("EOPNOTSUPP", libc::EOPNOTSUPP),
    ("ENOTSUP", libc::ENOTSUP),
    ("EROFS", libc::EROFS),
    ("EAFNOSUPPORT", libc::EAFNOSUPPORT),
    ("EIO", libc::EIO),
];

/// The first problem of one file.
pub fn file(f: &File, err: Err) -> Result<(), PolicyError> {
    match all(f, err).into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// A bad enumerated or parsed value, located, with the closest valid one as a hint.
fn checked<T>(
    err: Err,
    key: &str,
    v: &Option<Spanned<super::schema::Checked<T>>>,
    errs: &mut Vec<PolicyError>,
) {
    if let Some(v) = v {
        if let Err(m) = &v.get_ref().0 {
            let hint = super::unknown_key_hint(m);
            errs.push(err(&unit(v), format!("{key}: {m}"), hint));
        }
    }
}

/// Every problem of one file that its syntax lets sbx find, in file order of the checks.
pub fn all(f: &File, err: Err) -> Vec<PolicyError> {
    let mut errs = Vec::new();
    checked(err, "identity.map", &f.identity.map, &mut errs);
    checked(err, "filesystem.view", &f.filesystem.view, &mut errs);
    checked(err, "landlock.mode", &f.landlock.mode, &mut errs);
    for s in f.landlock.scopes.iter().flatten() {
        checked(err, "landlock.scopes", &Some(s.clone()), &mut errs);
    }
    checked(
        err,
        "seccomp.default_action",
        &f.seccomp.default_action,
        &mut errs,
    );
    checked(err, "seccomp.errno", &f.seccomp.errno, &mut errs);
    checked(err, "network.mode", &f.network.mode, &mut errs);
    checked(err, "process.umask", &f.process.umask, &mut errs);
    for (key, list) in [
        ("identity.map_users", &f.identity.map_users),
        ("identity.map_groups", &f.identity.map_groups),
    ] {
        for v in list {
            crate::idmap::parse_request(key, v.get_ref())
                .map_err(|e| err(&unit(v), e, None))
                .err()
                .into_iter()
                .for_each(|e| errs.push(e));
        }
    }
    if let Some(h) = &f.identity.hostname {
        crate::ns::uts::validate_hostname(h.get_ref())
            .map_err(|e| err(&unit(h), e, None))
            .err()
            .into_iter()
            .for_each(|e| errs.push(e));
    }
    if let Some(r) = &f.filesystem.root {
        path(err, &unit(r), r.get_ref())
            .err()
            .into_iter()
            .for_each(|e| errs.push(e));
    }
    for m in &f.filesystem.mounts {
        mount(err, m).err().into_iter().for_each(|e| errs.push(e));
    }
    for (key, list, base) in [
        ("filesystem.secrets", &f.filesystem.secrets, "home"),
        ("filesystem.protect", &f.filesystem.protect, "the project"),
    ] {
        for v in list {
            relative_path(v.get_ref().trim_start_matches('!'))
                .map_err(|m| {
                    err(
                        &unit(v),
                        format!("{key}: {:?} {m}", v.get_ref()),
                        Some(format!(
                            "give a path relative to {base}, e.g. \".config/tool/token\""
                        )),
                    )
                })
                .err()
                .into_iter()
                .for_each(|e| errs.push(e));
        }
    }
    for name in &f.capabilities.keep {
        let n = name.get_ref().trim_start_matches('!');
        crate::confine::caps::parse_capability(n)
            .map_err(|e| {
                let (msg, hint) = match e.split_once(" (did you mean ") {
                    Some((m, h)) => (
                        m.to_string(),
                        Some(format!(
                            "did you mean {}?",
                            h.split("?)").next().unwrap_or(h)
                        )),
                    ),
                    None => (e.clone(), None),
                };
                err(
                    &unit(name),
                    msg.replace("--cap-add ", "capabilities.keep: "),
                    hint,
                )
            })
            .err()
            .into_iter()
            .for_each(|e| errs.push(e));
    }
    let ll = &f.landlock;
    for p in ll.read.iter().chain(&ll.write).chain(&ll.execute) {
        path(err, &unit(p), p.get_ref().trim_start_matches('!'))
            .err()
            .into_iter()
            .for_each(|e| errs.push(e));
    }
    let sc = &f.seccomp;
    for name in sc.allow.iter().chain(&sc.deny) {
        let n = name.get_ref().trim_start_matches('!');
        crate::confine::seccomp::resolve(n)
            .map_err(|e| {
                let text = e.to_string();
                let (msg, hint) = match text.split_once(" (did you mean ") {
                    Some((m, h)) => (
                        m.to_string(),
                        Some(format!("did you mean {}", h.trim_end_matches(')'))),
                    ),
                    None => match text.split_once("; did you mean ") {
                        Some((m, h)) => (m.to_string(), Some(format!("did you mean {h}"))),
                        None => (text.clone(), None),
                    },
                };
                err(&unit(name), msg, hint)
            })
            .err()
            .into_iter()
            .for_each(|e| errs.push(e));
    }
    for r in &sc.rules {
        crate::confine::seccomp::resolve(&r.get_ref().syscall)
            .map_err(|e| err(&unit(r), e.to_string(), None))
            .err()
            .into_iter()
            .for_each(|e| errs.push(e));
    }
    for p in &f.network.publish {
        crate::ns::net::parse_publish(p.get_ref())
            .map_err(|e| err(&unit(p), e.replace("--publish", "network.publish"), None))
            .err()
            .into_iter()
            .for_each(|e| errs.push(e));
    }
    errs
}
