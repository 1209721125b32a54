//! What Brown and Bayko agree on: the documents they exchange through S3, where those documents
//! live and what an event about one looks like; what valid task data is (one parser, one set of
//! limits) and what counts as personal data or a secret (one scanner); plus the small runtime
//! pieces both binaries share (configuration from the environment, logging, the shutdown
//! signal). No AWS SDK here: the plumbing lives in `bb-aws`, provisioning in `bb-provision`.
//!
//! Brown and Bayko never talk to each other; this crate is the whole contract between them.

pub mod artifacts;
pub mod compliance;
pub mod config;
pub mod content;
pub mod event;
pub mod finished;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod shutdown;
pub mod sse;
pub mod task;
pub mod telemetry;
