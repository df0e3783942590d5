//! Drop-in replacements for util-linux's namespace tools, with their option syntax, semantics
//! and exit statuses: `sbx unshare` (unshare(1)) and `sbx nsenter` (nsenter(1)), also reached
//! when sbx is installed under those names; and `sbx ns`, the namespaces of one process.

pub mod ns;
pub mod nsenter;
pub mod unshare;
