//! sbx: a rootless Linux sandbox.
//!
//! The setup order is fixed by the design:
//! 1. As the caller, unshare `CLONE_NEWUSER`; write `/proc/self/setgroups` = `deny`, then
//!    `uid_map` and `gid_map` ([`ns::user`]).
//! 2. As mapped root inside it, unshare the mount, PID, IPC, UTS, network, cgroup (and time)
//!    namespaces ([`ns::unshare_namespaces`]); fork so that the command lives in the new PID
//!    namespace under sbx's own PID 1 ([`ns::pid`]).
//! 3. Build the filesystem view ([`ns::mount`]), set the hostname, bring `lo` up.
//! 4. Lock down per the policy ([`policy`], [`confine`]): landlock, resource limits,
//!    capabilities dropped (the bounding set included), no_new_privs, the seccomp filter last;
//!    then exec ([`exec`]).
//!
//! [`run::run`] is that script; [`plan::Plan`] is the validated input it runs from.
#![deny(unsafe_code)]

pub mod cli;
pub mod compat;
pub mod confine;
pub mod enter;
pub mod error;
pub mod exec;
pub mod hostbin;
pub mod idmap;
pub mod ns;
pub mod plan;
pub mod policy;
pub mod registry;
pub mod run;
pub mod suggest;
pub mod sys;
