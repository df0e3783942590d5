//! Resource limits (setrlimit(2)) from the policy's `[limits]`: soft and hard limits are both set,
//! never above the current hard limit (which an unprivileged process cannot raise).

use nix::sys::resource::{getrlimit, setrlimit, Resource};

use crate::error::{Error, Result};

/// The limits a policy may set, by their policy names.
pub fn resource(name: &str) -> Option<Resource> {
    Some(match name {
        "nofile" => Resource::RLIMIT_NOFILE,
        "nproc" => Resource::RLIMIT_NPROC,
        "as" => Resource::RLIMIT_AS,
        "cpu" => Resource::RLIMIT_CPU,
        "fsize" => Resource::RLIMIT_FSIZE,
        "core" => Resource::RLIMIT_CORE,
        "stack" => Resource::RLIMIT_STACK,
        _ => return None,
    })
}

/// The policy name of a resource.
pub fn name(res: Resource) -> &'static str {
    ["nofile", "nproc", "as", "cpu", "fsize", "core", "stack"]
        .into_iter()
        .find(|n| resource(n) == Some(res))
        .unwrap_or("?")
}

/// Applies each `(resource, value)`.
pub fn apply(limits: &[(Resource, u64)]) -> Result<()> {
    for &(res, value) in limits {
        let (_, hard) = getrlimit(res).map_err(|errno| Error::Limits {
            resource: res,
            errno,
        })?;
        let value = value.min(hard);
        setrlimit(res, value, value).map_err(|errno| Error::Limits {
            resource: res,
            errno,
        })?;
    }
    Ok(())
}
