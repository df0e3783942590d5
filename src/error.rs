//! One error type for every step of sbx, each variant carrying what failed, why (the errno or
//! the bad value) and what to do about it. `main` prints it after `sbx: ` and maps it to an exit
//! status with [`Error::exit_code`].

use std::path::PathBuf;

use nix::errno::Errno;

/// sbx's own failure.
pub const EXIT_SBX_FAILURE: i32 = 125;
/// The command exists but could not be executed.
pub const EXIT_CANNOT_EXECUTE: i32 = 126;
/// The command was not found.
pub const EXIT_NOT_FOUND: i32 = 127;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad command-line input, found before anything was changed.
    #[error("{0}")]
    Usage(String),

    #[error("cannot create a user namespace: {errno}\n{hint}")]
    UserNamespace { errno: Errno, hint: String },

    #[error("cannot write {path}: {errno}\n{hint}")]
    IdMap {
        path: String,
        errno: Errno,
        hint: &'static str,
    },

    #[error("cannot create the {names} namespace{plural}: {errno}\nhint: {hint}")]
    Unshare {
        names: String,
        plural: &'static str,
        errno: Errno,
        hint: &'static str,
    },

    #[error("cannot {op} {target}: {errno}\nhint: {hint}")]
    Mount {
        op: &'static str,
        target: PathBuf,
        errno: Errno,
        hint: String,
    },

    #[error("cannot set the hostname to {name:?}: {errno}")]
    Hostname { name: String, errno: Errno },

    #[error("cannot bring the loopback interface up: {errno}")]
    Loopback { errno: Errno },

    #[error("cannot change directory to {path}: {errno}\nhint: {hint}")]
    Chdir {
        path: PathBuf,
        errno: Errno,
        hint: &'static str,
    },

    #[error("cannot {what}: {errno}")]
    Capabilities { what: String, errno: Errno },

    #[error("cannot {what}: {errno}")]
    Process { what: &'static str, errno: Errno },

    #[error("{0}")]
    Policy(crate::policy::PolicyError),

    #[error("{what}\nhint: {hint}")]
    Network { what: String, hint: String },

    #[error("{what}\nhint: {hint}")]
    IdRanges { what: String, hint: String },

    #[error("{what}\nhint: {hint}")]
    Registry { what: String, hint: String },

    #[error("landlock: {what}")]
    Landlock { what: String },

    #[error("cannot set the resource limit {resource:?}: {errno}")]
    Limits {
        resource: nix::sys::resource::Resource,
        errno: Errno,
    },

    #[error("{0}")]
    Seccomp(#[from] crate::confine::seccomp::Error),

    #[error("{program}: command not found (searched PATH={path})")]
    NotFound { program: String, path: String },

    #[error("{program}: cannot execute: {errno}{hint}")]
    CannotExecute {
        program: String,
        errno: Errno,
        hint: &'static str,
    },
}

impl Error {
    /// The exit status sbx leaves with for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::NotFound { .. } => EXIT_NOT_FOUND,
            Error::CannotExecute { .. } => EXIT_CANNOT_EXECUTE,
            _ => EXIT_SBX_FAILURE,
        }
    }

    pub fn process(what: &'static str) -> impl FnOnce(Errno) -> Error {
        move |errno| Error::Process { what, errno }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
