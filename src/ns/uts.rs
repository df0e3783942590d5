//! The UTS namespace (uts_namespaces(7)): the sandbox's hostname.

use crate::error::{Error, Result};
use crate::sys::Sys;

pub fn set_hostname(sys: &mut impl Sys, name: &str) -> Result<()> {
    sys.sethostname(name).map_err(|errno| Error::Hostname {
        name: name.to_string(),
        errno,
    })
}

/// Checks a hostname before anything is set up: 1 to 64 bytes (the kernel's limit), no NUL.
pub fn validate_hostname(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 || name.contains('\0') {
        return Err(format!(
            "--hostname {name:?}: a hostname must be 1 to 64 bytes long without NUL"
        ));
    }
    Ok(())
}
