//! Bayko, the private worker agent: takes tasks from its queue, claims them, runs tools over
//! them and writes the artifacts and the final status back to S3. It listens on no public port
//! and never talks to Brown.

//!
//! Modules are private by default: what the binary and the end-to-end tests use is re-exported
//! here or lives in the public modules (`engine` for the registry and its configuration,
//! `metrics`, `redrive`), so rustc finds what nothing calls.

mod artifacts;
mod backoff;
mod claim;
mod clock;
mod completion;
mod config;
mod control;
pub mod engine;
mod failure;
mod inbox;
mod log;
pub mod metrics;
mod progress;
pub mod redrive;
mod tools;
mod worker;

pub use config::Config;
pub use failure::StoreError;
pub use worker::Worker;

/// The CPU-bound analysers, for the benchmarks (criterion and `cargo xtask bench`) and the
/// memory test under a counting allocator.
pub mod analysers {
    pub use crate::tools::compliance;
    pub use crate::tools::data::{TabularFormat, analyse};
    pub use crate::tools::document::{self, DocumentOptions};
}
