//! The AWS plumbing both agents use: clients built the same way for AWS and for an emulator, and
//! the S3 read they share. The contract itself (documents, keys, events) lives in `shared`.

mod client;
pub mod s3;

#[cfg(feature = "sqs")]
pub use client::sqs;
pub use client::{AwsSettings, is_transient, s3};
