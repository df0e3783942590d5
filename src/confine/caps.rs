//! Capabilities (capabilities(7)): every one is dropped, the bounding set included, except the
//! ones kept with `--cap-add`. Runs inside the final user namespace, since creating a user
//! namespace refills every set.

use std::str::FromStr;

use crate::error::{Error, Result};
use crate::sys::Sys;

/// The highest capability number any kernel may know; the real last one is found by probing.
const CAP_PROBE_LIMIT: u32 = 63;

/// Parses `CAP_NET_RAW`, `net_raw` (any case) or `ALL` into a bit mask.
pub fn parse_capability(name: &str) -> Result<u64, String> {
    if name.eq_ignore_ascii_case("all") {
        return Ok(u64::MAX);
    }
    let canonical = caps::to_canonical(name);
    match caps::Capability::from_str(&canonical) {
        Ok(cap) => Ok(cap.bitmask()),
        Err(_) => {
            let known: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
            let hint = crate::suggest::closest(&canonical, known.iter().map(String::as_str))
                .map(|s| format!(" (did you mean {s}?)"))
                .unwrap_or_default();
            Err(format!(
                "--cap-add {name}: unknown capability{hint}; see capabilities(7) for the names"
            ))
        }
    }
}

/// Drops every capability not in `keep`: the bounding set one by one (up to the kernel's last),
/// then the effective, permitted and inheritable sets, then the ambient set. Kept capabilities
/// are also raised in the ambient set, so that they survive exec as a non-root uid.
pub fn drop_capabilities(sys: &mut impl Sys, keep: u64) -> Result<()> {
    // PR_CAPBSET_DROP fails with EINVAL past the kernel's last capability, so dropping probes
    // too; only kept capabilities need a separate read to learn whether the kernel has them.
    let mut known = 0u64;
    for cap in 0..=CAP_PROBE_LIMIT {
        let result = if keep & (1 << cap) != 0 {
            sys.capbset_read(cap).map(drop)
        } else {
            sys.capbset_drop(cap)
        };
        match result {
            Ok(()) => known |= 1 << cap,
            Err(nix::errno::Errno::EINVAL) => break,
            Err(errno) => {
                return Err(Error::Capabilities {
                    what: format!("drop capability {cap} from the bounding set"),
                    errno,
                })
            }
        }
    }
    let keep = keep & known;
    sys.capset(keep, keep, keep)
        .map_err(|errno| Error::Capabilities {
            what: format!("set the capability sets to {keep:#x}"),
            errno,
        })?;
    sys.cap_ambient_clear_all()
        .map_err(|errno| Error::Capabilities {
            what: "clear the ambient set".into(),
            errno,
        })?;
    for cap in (0..=CAP_PROBE_LIMIT).filter(|c| keep & (1 << c) != 0) {
        sys.cap_ambient_raise(cap)
            .map_err(|errno| Error::Capabilities {
                what: format!("raise capability {cap} in the ambient set"),
                errno,
            })?;
    }
    Ok(())
}

/// Sets no_new_privs: execve can never grant privileges again (setuid bits, file capabilities).
pub fn set_no_new_privs(sys: &mut impl Sys) -> Result<()> {
    sys.set_no_new_privs().map_err(|errno| Error::Capabilities {
        what: "set no_new_privs".into(),
        errno,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::fake::Fake;

    #[test]
    fn names_parse_in_every_accepted_spelling() {
        let raw = 1u64 << 13;
        assert_eq!(parse_capability("CAP_NET_RAW").unwrap(), raw);
        assert_eq!(parse_capability("net_raw").unwrap(), raw);
        assert_eq!(parse_capability("Cap_Net_Raw").unwrap(), raw);
        assert_eq!(parse_capability("ALL").unwrap(), u64::MAX);
        let err = parse_capability("net_rwa").unwrap_err();
        assert!(err.contains("did you mean CAP_NET_RAW"), "{err}");
    }

    #[test]
    fn drops_bounding_set_up_to_the_kernels_last_cap_then_the_rest() {
        let mut sys = Fake::new();
        sys.last_cap = 2;
        drop_capabilities(&mut sys, 0).unwrap();
        assert_eq!(
            sys.calls,
            vec![
                "capbset_drop(0)",
                "capbset_drop(1)",
                "capbset_drop(2)",
                "capset(0x0, 0x0, 0x0)",
                "cap_ambient_clear_all",
            ]
        );
    }

    #[test]
    fn kept_capability_stays_in_every_set_and_ambient() {
        let mut sys = Fake::new();
        sys.last_cap = 40;
        drop_capabilities(&mut sys, 1 << 13).unwrap();
        assert!(!sys.calls.contains(&"capbset_drop(13)".to_string()));
        assert!(sys.calls.contains(&"capbset_drop(40)".to_string()));
        assert!(sys
            .calls
            .contains(&"capset(0x2000, 0x2000, 0x2000)".to_string()));
        assert_eq!(sys.calls.last().unwrap(), "cap_ambient_raise(13)");
    }

    #[test]
    fn all_keeps_only_what_the_kernel_has() {
        let mut sys = Fake::new();
        sys.last_cap = 40;
        drop_capabilities(&mut sys, u64::MAX).unwrap();
        assert!(
            sys.calls
                .iter()
                .any(|c| c == "capset(0x1ffffffffff, 0x1ffffffffff, 0x1ffffffffff)"),
            "{:?}",
            sys.calls
        );
    }
}
