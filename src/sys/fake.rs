//! A recording [`Sys`] for unit tests: every call is appended, in order, to one `Vec` as a short
//! readable string, and chosen calls can be made to fail.

use std::path::Path;

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::Sys;

#[derive(Debug, Default)]
pub struct Fake {
    pub calls: Vec<String>,
    /// A call whose recorded string starts with the key fails with the errno.
    pub failures: Vec<(String, Errno)>,
    /// Capabilities above this number do not exist (PR_CAPBSET_DROP fails with EINVAL).
    pub last_cap: u32,
}

impl Fake {
    pub fn new() -> Fake {
        Fake {
            last_cap: 40,
            ..Fake::default()
        }
    }

    fn record(&mut self, call: String) -> Result<(), Errno> {
        let failure = self
            .failures
            .iter()
            .find(|(k, _)| call.starts_with(k.as_str()))
            .map(|f| f.1);
        self.calls.push(call);
        failure.map_or(Ok(()), Err)
    }
}

impl Sys for Fake {
    fn unshare(&mut self, flags: libc::c_int) -> Result<(), Errno> {
        self.record(format!("unshare({})", crate::ns::flag_names(flags)))
    }
    fn write_file(&mut self, path: &Path, contents: &[u8]) -> Result<(), Errno> {
        self.record(format!(
            "write({}, {:?})",
            path.display(),
            String::from_utf8_lossy(contents)
        ))
    }
    fn mount(
        &mut self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), Errno> {
        self.record(format!(
            "mount({:?}, {}, {:?}, {}, {:?})",
            source.map(Path::display).map(|d| d.to_string()),
            target.display(),
            fstype,
            format!("{flags:?}")
                .trim_start_matches("MsFlags(")
                .trim_end_matches(')'),
            data
        ))
    }
    fn sethostname(&mut self, name: &str) -> Result<(), Errno> {
        self.record(format!("sethostname({name})"))
    }
    fn loopback_up(&mut self) -> Result<(), Errno> {
        self.record("loopback_up".into())
    }
    fn chdir(&mut self, path: &Path) -> Result<(), Errno> {
        self.record(format!("chdir({})", path.display()))
    }
    fn capbset_read(&mut self, cap: u32) -> Result<bool, Errno> {
        if cap > self.last_cap {
            return Err(Errno::EINVAL);
        }
        Ok(true)
    }
    fn capbset_drop(&mut self, cap: u32) -> Result<(), Errno> {
        if cap > self.last_cap {
            return Err(Errno::EINVAL);
        }
        self.record(format!("capbset_drop({cap})"))
    }
    fn capset(&mut self, effective: u64, permitted: u64, inheritable: u64) -> Result<(), Errno> {
        self.record(format!(
            "capset({effective:#x}, {permitted:#x}, {inheritable:#x})"
        ))
    }
    fn cap_ambient_clear_all(&mut self) -> Result<(), Errno> {
        self.record("cap_ambient_clear_all".into())
    }
    fn cap_ambient_raise(&mut self, cap: u32) -> Result<(), Errno> {
        self.record(format!("cap_ambient_raise({cap})"))
    }
    fn set_no_new_privs(&mut self) -> Result<(), Errno> {
        self.record("set_no_new_privs".into())
    }
    fn setsid(&mut self) -> Result<(), Errno> {
        self.record("setsid".into())
    }
    fn set_dumpable(&mut self, on: bool) -> Result<(), Errno> {
        self.record(format!("set_dumpable({on})"))
    }
    fn landlock_restrict(
        &mut self,
        plan: &crate::confine::landlock::LandlockPlan,
    ) -> crate::error::Result<Vec<String>> {
        self.record(format!(
            "landlock({:?}, {} rules)",
            plan.mode,
            plan.read.len() + plan.write.len() + plan.execute.len()
        ))
        .map(|_| Vec::new())
        .map_err(|errno| crate::error::Error::Landlock {
            what: errno.to_string(),
        })
    }
    fn set_rlimits(
        &mut self,
        limits: &[(nix::sys::resource::Resource, u64)],
    ) -> crate::error::Result<()> {
        self.record(format!("setrlimit({limits:?})"))
            .map_err(|errno| crate::error::Error::Process {
                what: "set limits",
                errno,
            })
    }
    fn umask(&mut self, mask: u32) {
        let _ = self.record(format!("umask({mask:o})"));
    }
    fn install_seccomp(
        &mut self,
        program: &[crate::confine::seccomp::sock_filter],
    ) -> crate::error::Result<()> {
        self.record(format!("seccomp({} instructions)", program.len()))
            .map_err(|errno| crate::error::Error::Process {
                what: "install seccomp",
                errno,
            })
    }
    fn apply_view(
        &mut self,
        view: &crate::ns::mount::View,
    ) -> crate::error::Result<crate::ns::mount::Discarded> {
        let ops: Vec<String> = view
            .ops
            .iter()
            .map(|op| format!("{} {}", crate::ns::mount::op_name(op), op.dest().display()))
            .collect();
        self.record(format!("apply_view[{}]", ops.join(", ")))
            .map(|()| crate::ns::mount::Discarded::default())
            .map_err(|errno| crate::error::Error::Process {
                what: "apply the view",
                errno,
            })
    }
}
