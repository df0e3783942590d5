//! sbx's integration tests: one binary, the real `sbx` run rootless (and as root).

mod core;
mod docs;
mod util;
