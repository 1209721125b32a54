//! Bayko, the private worker agent: takes tasks from its queue, claims them, runs tools over
//! them and writes the artifacts and the final status back to S3. It listens on no public port
//! and never talks to Brown.

pub mod artifacts;
pub mod claim;
pub mod completion;
pub mod config;
pub mod control;
pub mod engine;
pub mod inbox;
pub mod log;
pub mod progress;
pub mod redrive;
pub mod store;
pub mod tools;
pub mod worker;

pub use config::Config;
pub use worker::Worker;
