//! The user namespace (user_namespaces(7)): step 1 of the setup. As the caller, unshare
//! `CLONE_NEWUSER`, then write `/proc/self/setgroups` ("deny"), `uid_map` and `gid_map`.

use std::path::Path;

use nix::errno::Errno;

use crate::error::{Error, Result};
use crate::sys::Sys;

/// One line of a uid or gid map: `inside` in the new namespace is `outside` in the parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    pub inside: u32,
    pub outside: u32,
}

impl IdMap {
    /// The text written to a map file: one mapping of a single id.
    pub fn to_map_line(self) -> String {
        format!("{} {} 1\n", self.inside, self.outside)
    }
}

/// Unshares the user namespace and maps the caller's own uid and gid into it.
pub fn enter_user_namespace(sys: &mut impl Sys, uid: IdMap, gid: IdMap) -> Result<()> {
    sys.unshare(libc::CLONE_NEWUSER)
        .map_err(|errno| Error::UserNamespace {
            errno,
            hint: userns_hint(errno, &SysctlFiles::host()),
        })?;
    // setgroups must be denied before an unprivileged process may write gid_map; it also stops
    // the sandbox from dropping supplementary groups to get around "deny" permissions.
    write_map(sys, "/proc/self/setgroups", b"deny")?;
    write_map(sys, "/proc/self/uid_map", uid.to_map_line().as_bytes())?;
    write_map(sys, "/proc/self/gid_map", gid.to_map_line().as_bytes())?;
    Ok(())
}

/// unshare(CLONE_NEWUSER), with a diagnosis of what blocks it when it fails.
pub fn unshare_user(sys: &mut impl Sys) -> Result<()> {
    sys.unshare(libc::CLONE_NEWUSER)
        .map_err(|errno| Error::UserNamespace {
            errno,
            hint: userns_hint(errno, &SysctlFiles::host()),
        })
}

fn write_map(sys: &mut impl Sys, path: &'static str, contents: &[u8]) -> Result<()> {
    sys.write_file(Path::new(path), contents)
        .map_err(|errno| Error::IdMap {
            path: path.to_string(),
            errno,
            hint: "the kernel refused the id mapping; sbx maps only the caller's own ids here, so \
               this usually means /proc is not the current PID namespace's or an LSM denied it",
        })
}

/// Where the sysctls that gate unprivileged user namespaces live (a test points it elsewhere).
pub struct SysctlFiles<'a> {
    pub root: &'a Path,
}

impl SysctlFiles<'_> {
    pub fn host() -> SysctlFiles<'static> {
        SysctlFiles {
            root: Path::new("/proc/sys"),
        }
    }

    fn read(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.root.join(rel))
            .ok()
            .map(|s| s.trim().to_string())
    }
}

/// Says which setting blocks user namespaces, and how to change it.
pub fn userns_hint(errno: Errno, sysctl: &SysctlFiles) -> String {
    let mut hints = Vec::new();
    if sysctl.read("user/max_user_namespaces").as_deref() == Some("0") {
        hints.push("user namespaces are disabled: user.max_user_namespaces is 0. Enable them with \
                    `sudo sysctl -w user.max_user_namespaces=15000` (persist it in /etc/sysctl.d/)."
            .to_string());
    }
    if sysctl.read("kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        hints.push(
            "Debian's kernel.unprivileged_userns_clone is 0. Enable it with \
                    `sudo sysctl -w kernel.unprivileged_userns_clone=1`."
                .to_string(),
        );
    }
    if sysctl
        .read("kernel/apparmor_restrict_unprivileged_userns")
        .as_deref()
        == Some("1")
    {
        hints.push("Ubuntu's AppArmor restricts unprivileged user namespaces \
                    (kernel.apparmor_restrict_unprivileged_userns=1). Give sbx an AppArmor profile \
                    with `userns,` or run `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`."
            .to_string());
    }
    if hints.is_empty() {
        hints.push(match errno {
            Errno::ENOSPC | Errno::EUSERS => "the limit of user namespaces is reached \
                (user.max_user_namespaces, or the nesting depth of 32): raise the sysctl or end \
                other sandboxes."
                .to_string(),
            Errno::EINVAL => "the kernel refused CLONE_NEWUSER for this process (it must be \
                single-threaded and not chrooted)."
                .to_string(),
            _ => "no sysctl blocks them here, so a security policy does: inside a container, \
                its seccomp profile (Docker's default one denies unshare; run with \
                --security-opt seccomp=unconfined or a profile that allows it), or an LSM \
                (AppArmor, SELinux) on this system."
                .to_string(),
        });
    }
    format!("hint: {}", hints.join("\nhint: "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::fake::Fake;

    #[test]
    fn user_namespace_first_then_setgroups_then_maps() {
        let mut sys = Fake::new();
        enter_user_namespace(
            &mut sys,
            IdMap {
                inside: 0,
                outside: 1000,
            },
            IdMap {
                inside: 0,
                outside: 100,
            },
        )
        .unwrap();
        assert_eq!(
            sys.calls,
            vec![
                "unshare(CLONE_NEWUSER)",
                "write(/proc/self/setgroups, \"deny\")",
                "write(/proc/self/uid_map, \"0 1000 1\\n\")",
                "write(/proc/self/gid_map, \"0 100 1\\n\")",
            ]
        );
    }

    #[test]
    fn a_failed_map_write_stops_the_setup() {
        let mut sys = Fake::new();
        sys.failures
            .push(("write(/proc/self/uid_map".into(), Errno::EPERM));
        let id = IdMap {
            inside: 1,
            outside: 1,
        };
        let err = enter_user_namespace(&mut sys, id, id).unwrap_err();
        assert!(err.to_string().contains("/proc/self/uid_map"));
        assert_eq!(
            sys.calls.len(),
            3,
            "gid_map must not be written after a failure"
        );
    }

    fn sysctl_dir(files: &[(&str, &str)]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "sbx-sysctl-{}-{}",
            std::process::id(),
            files.iter().map(|f| f.0.len()).sum::<usize>()
        ));
        for (rel, value) in files {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, value).unwrap();
        }
        dir
    }

    #[test]
    fn hints_name_the_blocking_sysctl() {
        let dir = sysctl_dir(&[("user/max_user_namespaces", "0\n")]);
        let hint = userns_hint(Errno::ENOSPC, &SysctlFiles { root: &dir });
        assert!(hint.contains("user.max_user_namespaces"), "{hint}");
        let dir = sysctl_dir(&[("kernel/unprivileged_userns_clone", "0\n"), ("user/x", "")]);
        let hint = userns_hint(Errno::EPERM, &SysctlFiles { root: &dir });
        assert!(
            hint.contains("kernel.unprivileged_userns_clone=1"),
            "{hint}"
        );
        let dir = sysctl_dir(&[
            ("kernel/apparmor_restrict_unprivileged_userns", "1"),
            ("a/b/c", ""),
        ]);
        let hint = userns_hint(Errno::EPERM, &SysctlFiles { root: &dir });
        assert!(
            hint.contains("apparmor_restrict_unprivileged_userns"),
            "{hint}"
        );
        let empty = sysctl_dir(&[("nothing/here/at/all", "")]);
        let hint = userns_hint(Errno::EPERM, &SysctlFiles { root: &empty });
        assert!(hint.contains("seccomp"), "{hint}");
    }
}
