//! Executing the command (execve(2)): the environment, the PATH search done inside the sandbox,
//! fd hygiene, and the mapping of exec failures to 126 and 127.

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use nix::errno::Errno;

use crate::error::{Error, Result};
use crate::sys::linux;

/// The PATH used to find the command when its environment has none (glibc's default).
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// One change to the command's environment, applied in command-line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvOp {
    Set(OsString, OsString),
    Unset(OsString),
}

/// Builds the command's environment from the caller's (unless `clear`) and the operations.
pub fn build_env(
    base: impl Iterator<Item = (OsString, OsString)>,
    clear: bool,
    ops: &[EnvOp],
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = if clear { Vec::new() } else { base.collect() };
    for op in ops {
        match op {
            EnvOp::Set(k, v) => match env.iter_mut().find(|(name, _)| name == k) {
                Some(slot) => slot.1 = v.clone(),
                None => env.push((k.clone(), v.clone())),
            },
            EnvOp::Unset(k) => env.retain(|(name, _)| name != k),
        }
    }
    env
}

/// Checks an environment variable name for --setenv and --unsetenv.
pub fn validate_env_name(option: &str, name: &OsStr) -> Result<(), String> {
    if name.is_empty() || name.as_bytes().contains(&b'=') || name.as_bytes().contains(&0) {
        return Err(format!(
            "{option} {:?}: a variable name must be non-empty, without '=' or NUL",
            name
        ));
    }
    Ok(())
}

/// `NAME=VALUE` strings for execve.
pub fn to_envp(env: &[(OsString, OsString)]) -> Result<Vec<CString>, String> {
    env.iter()
        .map(|(k, v)| {
            let mut kv = k.clone().into_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).map_err(|_| format!("environment variable {k:?} contains a NUL byte"))
        })
        .collect()
}

/// Finds the PATH value in an environment built by [`build_env`].
pub fn path_of(envp: &[CString]) -> &[u8] {
    envp.iter()
        .find_map(|e| e.as_bytes().strip_prefix(b"PATH="))
        .unwrap_or(DEFAULT_PATH.as_bytes())
}

/// Executes `argv[0]`, searching `path` when it has no slash, as execvp(3) does: a candidate
/// that exists but cannot be executed is remembered (126) while the search goes on; nothing
/// found is 127. A file that is not a binary the kernel knows (ENOEXEC) runs with /bin/sh.
/// Returns only on failure.
pub fn exec(argv: &[CString], envp: &[CString], path: &[u8]) -> Error {
    let program = argv[0].as_bytes();
    let name = String::from_utf8_lossy(program).into_owned();
    if program.is_empty() {
        return Error::NotFound {
            program: "\"\" (an empty command name)".into(),
            path: String::from_utf8_lossy(path).into(),
        };
    }
    let candidates: Vec<Vec<u8>> = if program.contains(&b'/') {
        vec![program.to_vec()]
    } else {
        path.split(|&b| b == b':')
            .map(|dir| {
                let dir = if dir.is_empty() { b".".as_slice() } else { dir };
                let mut p = dir.to_vec();
                p.push(b'/');
                p.extend_from_slice(program);
                p
            })
            .collect()
    };
    let mut denied: Option<Errno> = None;
    for candidate in candidates {
        let Ok(c) = CString::new(candidate) else {
            continue;
        };
        let errno = linux::execve(&c, argv, envp);
        match errno {
            Errno::ENOENT | Errno::ENOTDIR | Errno::ENAMETOOLONG | Errno::ELOOP
                if !program.contains(&b'/') =>
            {
                continue
            }
            Errno::ENOENT => break,
            // EACCES also comes from a PATH directory the caller cannot search: only a file
            // that exists makes the command "found but not executable".
            Errno::EACCES | Errno::EPERM if !program.contains(&b'/') => {
                if std::fs::metadata(std::ffi::OsStr::from_bytes(c.as_bytes()))
                    .is_ok_and(|m| m.is_file())
                {
                    denied = Some(errno);
                }
                continue;
            }
            Errno::ENOEXEC => {
                let mut sh_argv = vec![CString::from(c"/bin/sh"), c.clone()];
                sh_argv.extend(argv[1..].iter().cloned());
                let errno = linux::execve(c"/bin/sh", &sh_argv, envp);
                return Error::CannotExecute {
                    program: name,
                    errno,
                    hint: " (not a binary, and /bin/sh could not run it as a script)",
                };
            }
            errno => return cannot_execute(name, errno),
        }
    }
    match denied {
        Some(errno) => cannot_execute(name, errno),
        None => Error::NotFound {
            program: name,
            path: String::from_utf8_lossy(path).into(),
        },
    }
}

fn cannot_execute(program: String, errno: Errno) -> Error {
    let hint = match errno {
        Errno::EACCES => " (is it executable, and on a filesystem mounted without noexec?)",
        Errno::ENOENT => " (its interpreter or dynamic loader is missing inside the sandbox)",
        _ => "",
    };
    Error::CannotExecute {
        program,
        errno,
        hint,
    }
}

/// The default command when none is given: `$SHELL`, else `/bin/sh`, as unshare(1) does.
pub fn default_command(shell: Option<OsString>) -> Vec<OsString> {
    match shell {
        Some(s) if !s.is_empty() => vec![s],
        _ => vec![OsString::from("/bin/sh")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> OsString {
        OsString::from(s)
    }

    #[test]
    fn env_ops_apply_in_order() {
        let base = vec![(os("A"), os("1")), (os("B"), os("2"))];
        let ops = vec![
            EnvOp::Set(os("A"), os("x")),
            EnvOp::Unset(os("B")),
            EnvOp::Set(os("B"), os("3")),
            EnvOp::Set(os("C"), os("4")),
            EnvOp::Unset(os("C")),
        ];
        let env = build_env(base.clone().into_iter(), false, &ops);
        assert_eq!(env, vec![(os("A"), os("x")), (os("B"), os("3"))]);
        let env = build_env(base.into_iter(), true, &[EnvOp::Set(os("Z"), os("z"))]);
        assert_eq!(env, vec![(os("Z"), os("z"))]);
    }

    #[test]
    fn env_names_are_checked() {
        assert!(validate_env_name("--setenv", OsStr::new("A=B")).is_err());
        assert!(validate_env_name("--setenv", OsStr::new("")).is_err());
        assert!(validate_env_name("--setenv", OsStr::new("OK_1")).is_ok());
    }

    #[test]
    fn path_defaults_when_unset() {
        let envp = to_envp(&[(os("PATH"), os("/x:/y"))]).unwrap();
        assert_eq!(path_of(&envp), b"/x:/y");
        assert_eq!(path_of(&[]), DEFAULT_PATH.as_bytes());
    }

    #[test]
    fn default_command_is_shell_then_sh() {
        assert_eq!(default_command(Some(os("/bin/zsh"))), vec![os("/bin/zsh")]);
        assert_eq!(default_command(None), vec![os("/bin/sh")]);
        assert_eq!(default_command(Some(os(""))), vec![os("/bin/sh")]);
    }
}
