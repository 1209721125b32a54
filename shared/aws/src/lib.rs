//! The AWS plumbing both agents use: clients built the same way for AWS and for an emulator, the
//! one classification of AWS failures, and the seams over storage and the work queue — each a
//! narrow trait with its AWS implementation and an in-memory one for fast tests.
//! The contract itself (documents, keys, events) lives in `shared`.

mod client;
#[cfg(any(test, feature = "contract"))]
pub mod contract;
mod failure;
pub mod objects;
#[cfg(feature = "sqs")]
pub mod queue;

#[cfg(feature = "sqs")]
pub use client::sqs;
pub use client::{AwsSettings, s3};
pub use failure::AwsError;
pub use objects::{
    Bounded, Fresh, MemoryStore, Object, ObjectMeta, ObjectStore, Payload, PutMode, S3Store,
    Written,
};
#[cfg(feature = "sqs")]
pub use queue::{MemoryQueue, Message, SqsQueue, WorkQueue};
