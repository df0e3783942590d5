//! Confinement applied to the command just before it is executed, in this order: landlock,
//! resource limits, capabilities (the bounding set too) and no_new_privs, then seccomp last.

pub mod caps;
pub mod landlock;
pub mod limits;
pub mod seccomp;
