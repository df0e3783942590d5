//! Programs that sbx runs on the host, outside any sandbox: newuidmap, newgidmap, getsubids
//! and pasta. They are never looked up on the caller's `PATH` (a directory on it may be a
//! sandbox's writable project, where untrusted code planted its own `pasta`): only in the
//! system's directories, and only where every directory from `/` down and the file itself
//! belong to root and are writable by no one else. An administrator may name another place in
//! a root-owned `/etc/sbx/helpers.toml` (`pasta = "/opt/passt/bin/pasta"`), checked the same way.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The directories searched, in order.
pub const SYSTEM_DIRS: &[&str] = &["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"];

/// The administrator's file naming helpers by absolute path.
pub const CONFIG: &str = "/etc/sbx/helpers.toml";

/// Why a path cannot be trusted, or None when it can: owned by root, not writable by group or
/// others, and so is every directory above it (after symlinks are resolved).
pub fn untrusted_reason(path: &Path) -> Option<String> {
    let real = match std::fs::canonicalize(path) {
        Ok(r) => r,
        Err(e) => return Some(format!("{}: {e}", path.display())),
    };
    let mut p = real.as_path();
    loop {
        match std::fs::metadata(p) {
            Ok(m) if m.uid() != 0 => {
                return Some(format!(
                    "{} belongs to uid {}, not root",
                    p.display(),
                    m.uid()
                ))
            }
            Ok(m) if m.mode() & 0o022 != 0 => {
                return Some(format!(
                    "{} is writable by {} (mode {:o})",
                    p.display(),
                    if m.mode() & 0o002 != 0 {
                        "everyone"
                    } else {
                        "its group"
                    },
                    m.mode() & 0o7777
                ))
            }
            Ok(_) => {}
            Err(e) => return Some(format!("{}: {e}", p.display())),
        }
        match p.parent() {
            Some(parent) => p = parent,
            None => return None,
        }
    }
}

/// Finds the helper `name` (see the module documentation). `package` names what installs it.
pub fn find(name: &str, package: &str) -> Result<PathBuf, String> {
    find_in(name, package, SYSTEM_DIRS, Path::new(CONFIG))
}

fn find_in(name: &str, package: &str, dirs: &[&str], config: &Path) -> Result<PathBuf, String> {
    if let Some(path) = configured(name, config)? {
        return match untrusted_reason(&path) {
            None if is_executable(&path) => Ok(path),
            None => Err(format!(
                "{} names {name} = {:?}, which is not an executable file",
                config.display(),
                path.display()
            )),
            Some(why) => Err(format!(
                "{} names {name} = {:?}, which sbx will not run on the host: {why}",
                config.display(),
                path.display()
            )),
        };
    }
    let mut refused = Vec::new();
    for dir in dirs {
        let path = Path::new(dir).join(name);
        if std::fs::symlink_metadata(&path).is_err() {
            continue;
        }
        match untrusted_reason(&path) {
            None if is_executable(&path) => return Ok(path),
            None => refused.push(format!("{} is not executable", path.display())),
            Some(why) => refused.push(why),
        }
    }
    let mut msg = format!(
        "{name} not found in {} (sbx runs host helpers only from root-owned system directories, never from PATH)",
        dirs.join(", ")
    );
    if !refused.is_empty() {
        msg.push_str(&format!("; refused: {}", refused.join("; ")));
    }
    msg.push_str(&format!(
        ". Install {package}, or name it by absolute path in a root-owned {}",
        config.display()
    ));
    Err(msg)
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
}

/// The path `config` names for `name`, when the file exists (and can be trusted).
fn configured(name: &str, config: &Path) -> Result<Option<PathBuf>, String> {
    let text = match std::fs::read_to_string(config) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", config.display())),
    };
    if let Some(why) = untrusted_reason(config) {
        return Err(format!(
            "{} is not trusted: {why} (it must belong to root and be writable by no one else)",
            config.display()
        ));
    }
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| format!("{}: {}", config.display(), e.message()))?;
    match table.get(name) {
        None => Ok(None),
        Some(toml::Value::String(s)) if s.starts_with('/') => Ok(Some(PathBuf::from(s))),
        Some(other) => Err(format!(
            "{}: {name} must be an absolute path, not {other}",
            config.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn system_binaries_are_trusted() {
        assert_eq!(untrusted_reason(Path::new("/usr/bin/env")), None);
        let found = find("env", "coreutils").unwrap();
        assert_eq!(found, PathBuf::from("/usr/bin/env"));
    }

    #[test]
    fn path_is_never_searched_and_the_error_says_where() {
        let err = find("sbx-no-such-helper", "pkg").unwrap_err();
        assert!(
            err.contains("/usr/bin") && err.contains("never from PATH"),
            "{err}"
        );
        assert!(err.contains("Install pkg") && err.contains(CONFIG), "{err}");
    }

    #[test]
    fn a_writable_directory_or_file_is_refused() {
        let dir = std::env::temp_dir().join(format!("sbx-hostbin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let tool = dir.join("pasta");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        // /tmp itself is world-writable (sticky), so nothing under it is ever trusted.
        let dirs = [dir.to_str().unwrap()];
        let err = find_in("pasta", "passt", &dirs, Path::new("/nonexistent")).unwrap_err();
        assert!(err.contains("refused") && err.contains("writable"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
