//! Bayko, the private worker agent: takes tasks from its queue, claims them, runs tools over
//! them and writes the artifacts and the final status back to S3. It listens on no public port
//! and never talks to Brown.

pub mod artifacts;
mod backoff;
pub mod claim;
pub mod clock;
pub mod completion;
pub mod config;
pub mod control;
pub mod engine;
pub mod failure;
pub mod inbox;
pub mod log;
pub mod metrics;
pub mod progress;
pub mod redrive;
pub mod tools;
pub mod worker;

pub use config::Config;
pub use worker::{Seams, Worker};
