//! Id mappings beyond the caller's own id (user_namespaces(7), newuidmap(1)): the subordinate
//! ranges of /etc/subuid and /etc/subgid ([`subid`], read with shadow's rules), turned into
//! uid_map and gid_map lines that the setuid helpers newuidmap and newgidmap write from outside
//! the user namespace, as rootless Podman and `unshare --map-auto` do.

pub mod subid;

use std::process::Command;

use nix::unistd::Pid;
use subid::{IdKind, IdMapping, SubIdRange};

use crate::error::{Error, Result};

/// What the command line or the policy asks for one kind of id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// The caller is 0 inside, the subordinate ranges fill 1..N.
    Auto,
    /// Explicit `INNER:OUTER:COUNT` lines, next to the caller's own mapping.
    Lines(Vec<IdMapping>),
}

/// Parses one `--map-users`/`--map-groups` value: `auto` or `INNER:OUTER:COUNT`.
pub fn parse_request(option: &str, value: &str) -> Result<Option<IdMapping>, String> {
    if value == "auto" {
        return Ok(None);
    }
    value
        .parse::<IdMapping>()
        .map(Some)
        .map_err(|e| format!("{option} {value}: {e}"))
}

/// The caller as the subordinate id files name it.
pub struct Owner {
    pub name: String,
    pub id: u32,
}

/// The subordinate ranges of `owner` for `kind`: from `getsubids` when /etc/nsswitch.conf
/// names a `subid:` source, else from /etc/subuid or /etc/subgid. `log` receives the lines
/// that were skipped (for -v).
pub fn ranges(kind: IdKind, owner: &Owner, log: &mut dyn FnMut(String)) -> Result<Vec<SubIdRange>> {
    let nsswitch = std::fs::read_to_string("/etc/nsswitch.conf").unwrap_or_default();
    if let Some(source) = subid::nsswitch_subid_source(&nsswitch) {
        log(format!(
            "subordinate {kind}s from getsubids (nsswitch subid: {source})"
        ));
        let getsubids = crate::hostbin::find(
            "getsubids",
            "getsubids (Debian: uidmap; Fedora: shadow-utils-subid)",
        )
        .map_err(|what| Error::IdRanges {
            what: format!("/etc/nsswitch.conf names the subid source {source}: {what}"),
            hint: "install getsubids, or remove the subid: line of /etc/nsswitch.conf".into(),
        })?;
        let out = Command::new(&getsubids)
            .args(kind.getsubids_args(&owner.name))
            .output()
            .map_err(|e| Error::IdRanges {
                what: format!(
                    "/etc/nsswitch.conf names the subid source {source}, but {} cannot run: {e}",
                    getsubids.display()
                ),
                hint: "check that getsubids runs".into(),
            })?;
        let (ranges, diagnostics) = subid::parse_getsubids(&String::from_utf8_lossy(&out.stdout));
        for d in diagnostics {
            log(format!("getsubids: {d}"));
        }
        return Ok(ranges);
    }
    let users = uzers::UsersCache::new();
    match subid::read_ranges(std::path::Path::new(kind.file()), &owner.name, &users) {
        Ok((ranges, diagnostics)) => {
            for d in diagnostics {
                log(format!("{}: {d}", kind.file()));
            }
            Ok(ranges)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::IdRanges {
            what: format!("cannot read {}: {e}", kind.file()),
            hint: "check its permissions (it should be 0644)".into(),
        }),
    }
}

/// The map lines for one kind of id: `own` is the caller's single mapping (inside -> outside),
/// used next to explicit lines; `Auto` puts the caller at 0 and the ranges from 1 on.
pub fn build_map(
    kind: IdKind,
    request: &Request,
    owner: &Owner,
    own_inside: u32,
    allowed: &[SubIdRange],
) -> Result<Vec<IdMapping>> {
    let lines = match request {
        Request::Auto => {
            if allowed.is_empty() {
                return Err(no_ranges(kind, owner));
            }
            subid::auto_map(owner.id, allowed)
        }
        Request::Lines(lines) => {
            let mut all = lines.clone();
            let maps_own = lines
                .iter()
                .any(|l| l.outer <= owner.id && owner.id - l.outer < l.count);
            if !maps_own {
                all.insert(
                    0,
                    IdMapping {
                        inner: own_inside,
                        outer: owner.id,
                        count: 1,
                    },
                );
            }
            all
        }
    };
    subid::check_mappings(kind, &lines, allowed, owner.id).map_err(|e| Error::IdRanges {
        what: e.to_string(),
        hint: if allowed.is_empty() {
            add_ranges_hint(kind, owner)
        } else {
            format!(
                "ask only for the ranges {} lists for {}",
                kind.file(),
                owner.name
            )
        },
    })?;
    Ok(lines)
}

fn add_ranges_hint(kind: IdKind, owner: &Owner) -> String {
    let _ = kind;
    format!(
        "an administrator adds ranges with: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {}",
        owner.name
    )
}

fn no_ranges(kind: IdKind, owner: &Owner) -> Error {
    Error::IdRanges {
        what: format!(
            "{} has no subordinate {kind} range for user {} ({kind} {})",
            kind.file(),
            owner.name,
            owner.id
        ),
        hint: add_ranges_hint(kind, owner),
    }
}

/// Runs newuidmap or newgidmap on `pid` with `lines`, from outside its user namespace.
pub fn write_with_helper(kind: IdKind, pid: Pid, lines: &[IdMapping], verbose: bool) -> Result<()> {
    let mut args = vec![pid.as_raw().to_string()];
    for l in lines {
        args.extend([
            l.inner.to_string(),
            l.outer.to_string(),
            l.count.to_string(),
        ]);
    }
    if verbose {
        eprintln!("sbx: {} {}", kind.helper(), args.join(" "));
    }
    let helper = crate::hostbin::find(
        kind.helper(),
        "it (Debian/Ubuntu: apt install uidmap; Fedora: dnf install shadow-utils; Arch: pacman -S shadow)",
    )
    .map_err(|what| Error::IdRanges {
        what: format!("{what} ({} writes id ranges for unprivileged users)", kind.helper()),
        hint: "install it: Debian/Ubuntu: apt install uidmap; Fedora: dnf install shadow-utils; Arch: pacman -S shadow".into(),
    })?;
    let out = Command::new(&helper)
        .args(&args)
        .output()
        .map_err(|e| Error::IdRanges {
            what: format!("cannot run {}: {e}", helper.display()),
            hint: "check that it is installed setuid root".into(),
        })?;
    if !out.status.success() {
        return Err(Error::IdRanges {
            what: format!(
                "{} failed: {}",
                kind.helper(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            hint: format!(
                "check {} and that {} is setuid root (or has cap_setuid)",
                kind.file(),
                kind.helper()
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> Owner {
        Owner {
            name: "alice".into(),
            id: 1000,
        }
    }

    #[test]
    fn auto_maps_the_caller_to_root_and_ranges_from_one() {
        let allowed = [SubIdRange::new(100000, 65536).unwrap()];
        let lines = build_map(IdKind::Uid, &Request::Auto, &owner(), 0, &allowed).unwrap();
        assert_eq!(
            lines.iter().map(|l| l.to_string()).collect::<Vec<_>>(),
            vec!["0 1000 1", "1 100000 65536"]
        );
    }

    #[test]
    fn explicit_lines_get_the_callers_own_mapping_added() {
        let allowed = [SubIdRange::new(100000, 65536).unwrap()];
        let req = Request::Lines(vec!["1:100000:1000".parse().unwrap()]);
        let lines = build_map(IdKind::Uid, &req, &owner(), 0, &allowed).unwrap();
        assert_eq!(
            lines.iter().map(|l| l.to_string()).collect::<Vec<_>>(),
            vec!["0 1000 1", "1 100000 1000"]
        );
    }

    #[test]
    fn errors_say_what_to_do() {
        let e = build_map(IdKind::Uid, &Request::Auto, &owner(), 0, &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/etc/subuid")
                && e.contains("alice")
                && e.contains("usermod --add-subuids 100000-165535"),
            "{e}"
        );
        let allowed = [SubIdRange::new(100000, 65536).unwrap()];
        let req = Request::Lines(vec!["1:200000:10".parse().unwrap()]);
        let e = build_map(IdKind::Gid, &req, &owner(), 0, &allowed)
            .unwrap_err()
            .to_string();
        assert!(e.contains("1:200000:10") && e.contains("100000"), "{e}");
        assert_eq!(parse_request("--map-users", "auto").unwrap(), None);
        assert!(parse_request("--map-users", "1:2")
            .unwrap_err()
            .contains("--map-users 1:2"));
    }
}
