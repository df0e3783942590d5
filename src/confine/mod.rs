//! Confinement applied to the command just before it is executed, in this order: capabilities
//! (the bounding set too) and no_new_privs. Landlock comes before them and seccomp after them,
//! as the policy issue adds them.

pub mod caps;
pub mod seccomp;
