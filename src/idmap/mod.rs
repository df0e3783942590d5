//! User and group id mappings beyond the caller's own id: /etc/subuid and /etc/subgid.

pub mod subid;
