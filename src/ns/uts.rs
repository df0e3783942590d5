//! The UTS namespace (uts_namespaces(7)): the sandbox's hostname.

use crate::error::{Error, Result};
use crate::sys::Sys;

pub fn set_hostname(sys: &mut impl Sys, name: &str) -> Result<()> {
    sys.sethostname(name).map_err(|errno| Error::Hostname {
        name: name.to_string(),
        errno,
    })
}

/// Checks a hostname before anything is set up: 1 to 64 bytes (the kernel's limit) of
/// letters, digits, `-`, `_` and `.`, not starting with `-` or `.`. It also goes into the
/// sandbox's /etc/hosts, where a space, `/` or a newline would add entries of its own.
pub fn validate_hostname(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['-', '.'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !ok {
        return Err(format!(
            "--hostname {name:?}: a hostname is 1 to 64 letters, digits, '-', '_' or '.', not starting with '-' or '.'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_are_plain_names() {
        for good in ["sbx", "build-1", "a.b_c", &"x".repeat(64)] {
            assert!(validate_hostname(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a/b",
            "a\nb",
            "a b",
            "-x",
            ".x",
            "a\0b",
            &"x".repeat(65),
            "h\t",
        ] {
            assert!(validate_hostname(bad).is_err(), "{bad:?}");
        }
    }
}
