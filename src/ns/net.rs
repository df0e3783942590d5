//! The network namespace (network_namespaces(7)): a new one holds only `lo`, which sbx brings up.

use crate::error::{Error, Result};
use crate::sys::Sys;

pub fn bring_loopback_up(sys: &mut impl Sys) -> Result<()> {
    sys.loopback_up().map_err(|errno| Error::Loopback { errno })
}
