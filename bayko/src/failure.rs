//! How Bayko's storage and queue calls fail, in the terms its decisions need: the one AWS
//! vocabulary, plus an object that exists but is not what it should be.

use bb_aws::AwsError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The object exists but is not what it should be: the task fails with this reason.
    #[error("{0}")]
    Invalid(String),
}

impl StoreError {
    /// A conditional write lost: someone else changed the object first.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Aws(err) if err.is_conflict())
    }
}
