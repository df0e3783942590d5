//! The mount namespace (mount_namespaces(7)): the sandbox's filesystem view. Every mount is made
//! private first, so nothing mounted inside propagates back to the host; then a fresh procfs for
//! the new PID namespace is mounted on /proc.

use std::path::Path;

use nix::mount::MsFlags;

use crate::error::{Error, Result};
use crate::sys::Sys;

/// What the mount step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountPlan {
    /// Mount a fresh procfs on /proc (only meaningful with a new PID namespace).
    pub fresh_proc: bool,
}

/// Step 3 of the setup, run by sbx's PID 1 inside the new namespaces.
pub fn build_view(sys: &mut impl Sys, plan: &MountPlan) -> Result<()> {
    sys.mount(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
    )
    .map_err(|errno| Error::Mount {
        op: "make private the mounts under",
        target: "/".into(),
        errno,
        hint: "the mount namespace could not be detached from the host's".into(),
    })?;
    if plan.fresh_proc {
        sys.mount(
            Some(Path::new("proc")),
            Path::new("/proc"),
            Some("proc"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None,
        )
        .map_err(|errno| Error::Mount {
            op: "mount a fresh procfs on",
            target: "/proc".into(),
            errno,
            hint: "the kernel refuses a new procfs when the host's /proc is partly hidden \
                   (as in many containers); use --share-pid there"
                .into(),
        })?;
    }
    Ok(())
}
