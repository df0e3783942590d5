//! `sbx ns` (being written).

/// Placeholder until `sbx ns` lands.
pub fn main(_pid: Option<i32>) -> i32 {
    eprintln!("sbx: ns: not available in this build");
    125
}
