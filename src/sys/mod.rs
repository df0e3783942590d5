//! Every side effect that the sandbox setup makes goes through the [`Sys`] trait, so that the
//! order of the setup can be unit-tested against a recording fake without privileges.
//! [`Linux`] is the real implementation; [`linux`] is the only module with `unsafe` code.

pub mod linux;

#[cfg(test)]
pub mod fake;

use std::path::Path;

use nix::errno::Errno;
use nix::mount::MsFlags;

/// The system calls the setup script makes, named after the kernel's.
pub trait Sys {
    fn unshare(&mut self, flags: libc::c_int) -> Result<(), Errno>;
    fn write_file(&mut self, path: &Path, contents: &[u8]) -> Result<(), Errno>;
    fn mount(
        &mut self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), Errno>;
    fn sethostname(&mut self, name: &str) -> Result<(), Errno>;
    fn loopback_up(&mut self) -> Result<(), Errno>;
    fn chdir(&mut self, path: &Path) -> Result<(), Errno>;
    /// Whether `cap` is in the bounding set; EINVAL when the kernel has no such capability.
    fn capbset_read(&mut self, cap: u32) -> Result<bool, Errno>;
    fn capbset_drop(&mut self, cap: u32) -> Result<(), Errno>;
    fn capset(&mut self, effective: u64, permitted: u64, inheritable: u64) -> Result<(), Errno>;
    fn cap_ambient_clear_all(&mut self) -> Result<(), Errno>;
    fn cap_ambient_raise(&mut self, cap: u32) -> Result<(), Errno>;
    fn set_no_new_privs(&mut self) -> Result<(), Errno>;
    fn setsid(&mut self) -> Result<(), Errno>;
    /// PR_SET_DUMPABLE: whether other processes of the user may ptrace this one (and whether
    /// it may write its own /proc files).
    fn set_dumpable(&mut self, on: bool) -> Result<(), Errno>;
    /// Restricts this process with landlock; returns notes on what was not enforced.
    fn landlock_restrict(
        &mut self,
        plan: &crate::confine::landlock::LandlockPlan,
    ) -> crate::error::Result<Vec<String>>;
    fn set_rlimits(
        &mut self,
        limits: &[(nix::sys::resource::Resource, u64)],
    ) -> crate::error::Result<()>;
    fn umask(&mut self, mask: u32);
    fn install_seccomp(
        &mut self,
        program: &[crate::confine::seccomp::sock_filter],
    ) -> crate::error::Result<()>;
    /// Builds the filesystem view and pivots into it ([`crate::ns::mount::apply_view`]).
    fn apply_view(
        &mut self,
        view: &crate::ns::mount::View,
    ) -> crate::error::Result<crate::ns::mount::Discarded>;
}

/// The real system.
#[derive(Debug, Default)]
pub struct Linux;

impl Sys for Linux {
    fn unshare(&mut self, flags: libc::c_int) -> Result<(), Errno> {
        linux::unshare(flags)
    }

    fn write_file(&mut self, path: &Path, contents: &[u8]) -> Result<(), Errno> {
        use std::io::Write;
        // One write(2): the kernel's map files accept exactly one write.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
        f.write_all(contents)
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
    }

    fn mount(
        &mut self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), Errno> {
        nix::mount::mount(source, target, fstype, flags, data)
    }

    fn sethostname(&mut self, name: &str) -> Result<(), Errno> {
        nix::unistd::sethostname(name)
    }

    fn loopback_up(&mut self) -> Result<(), Errno> {
        linux::loopback_up()
    }

    fn chdir(&mut self, path: &Path) -> Result<(), Errno> {
        nix::unistd::chdir(path)
    }

    fn capbset_read(&mut self, cap: u32) -> Result<bool, Errno> {
        linux::capbset_read(cap)
    }

    fn capbset_drop(&mut self, cap: u32) -> Result<(), Errno> {
        linux::capbset_drop(cap)
    }

    fn capset(&mut self, effective: u64, permitted: u64, inheritable: u64) -> Result<(), Errno> {
        linux::capset(effective, permitted, inheritable)
    }

    fn cap_ambient_clear_all(&mut self) -> Result<(), Errno> {
        linux::cap_ambient_clear_all()
    }

    fn cap_ambient_raise(&mut self, cap: u32) -> Result<(), Errno> {
        linux::cap_ambient_raise(cap)
    }

    fn set_no_new_privs(&mut self) -> Result<(), Errno> {
        linux::set_no_new_privs()
    }

    fn setsid(&mut self) -> Result<(), Errno> {
        nix::unistd::setsid().map(drop)
    }

    fn set_dumpable(&mut self, on: bool) -> Result<(), Errno> {
        linux::set_dumpable(on)
    }

    fn apply_view(
        &mut self,
        view: &crate::ns::mount::View,
    ) -> crate::error::Result<crate::ns::mount::Discarded> {
        crate::ns::mount::apply_view(view)
    }

    fn landlock_restrict(
        &mut self,
        plan: &crate::confine::landlock::LandlockPlan,
    ) -> crate::error::Result<Vec<String>> {
        crate::confine::landlock::restrict(plan)
    }

    fn set_rlimits(
        &mut self,
        limits: &[(nix::sys::resource::Resource, u64)],
    ) -> crate::error::Result<()> {
        crate::confine::limits::apply(limits)
    }

    fn umask(&mut self, mask: u32) {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    }

    fn install_seccomp(
        &mut self,
        program: &[crate::confine::seccomp::sock_filter],
    ) -> crate::error::Result<()> {
        crate::confine::seccomp::install(program).map_err(Into::into)
    }
}
