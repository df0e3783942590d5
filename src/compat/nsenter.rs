//! `sbx nsenter` (being written).

/// Placeholder until the nsenter drop-in lands.
pub fn main(argv0: &str, _args: Vec<std::ffi::OsString>) -> i32 {
    eprintln!("{argv0}: not available in this build");
    1
}
