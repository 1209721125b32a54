//! The "compliance-scanner" tool's logic is the shared contract's scanner, so that Brown's
//! content policy at the door and Bayko's scan and redaction find exactly the same things.

pub use shared::compliance::*;
