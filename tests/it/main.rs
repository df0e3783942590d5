//! sbx's integration tests: one binary, the real `sbx` run rootless (and as root).

mod confine;
mod contexts;
mod core;
mod docs;
mod enter;
mod failclosed;
mod fs;
mod idmap;
mod net;
mod nsenter;
mod unshare;
mod util;
