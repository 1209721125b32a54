//! What Brown and Bayko agree on: the documents they exchange through S3, where those documents
//! live, what an event about one looks like, and how both reach AWS (or an emulator).
//!
//! Brown and Bayko never talk to each other; this crate is the whole contract between them.

pub mod aws;
pub mod config;
pub mod event;
pub mod keys;
pub mod provision;
pub mod s3;
pub mod shutdown;
pub mod task;
pub mod telemetry;
