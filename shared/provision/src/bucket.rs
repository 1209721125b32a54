//! Buckets as Terraform makes them (`terraform/modules/storage`): public access blocked,
//! encrypted by default, versioned, expired by lifecycle rules, TLS only.

use aws_sdk_s3::{
    Client,
    types::{
        AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketVersioningStatus,
        ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
        NoncurrentVersionExpiration, PublicAccessBlockConfiguration, ServerSideEncryption,
        ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
        VersioningConfiguration,
    },
};

use crate::{ProvisionError, at, policy};

/// How long objects live. Terraform's variables of the same names default to these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Task documents, statuses and cancel requests (`task_retention_days`).
    pub task_days: i32,
    /// Artifacts (`artifact_retention_days`).
    pub artifact_days: i32,
    /// Overwritten versions, kept for recovery (`noncurrent_version_days`).
    pub noncurrent_version_days: i32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            task_days: 30,
            artifact_days: 90,
            noncurrent_version_days: 7,
        }
    }
}

pub(crate) async fn create(s3: &Client, bucket: &str) -> Result<(), ProvisionError> {
    match s3.create_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(err) => {
            let err = err.into_service_error();
            if err.is_bucket_already_owned_by_you() {
                Ok(())
            } else {
                Err(at(format!("creating bucket {bucket}"))(err))
            }
        }
    }
}

/// Applies the hardening; `expire_after_days` is the bucket's current-version lifetime, and
/// `prefix_expire_days` shorter lives under some prefixes (as terraform's storage module sets).
pub(crate) async fn harden(
    s3: &Client,
    bucket: &str,
    expire_after_days: i32,
    prefix_expire_days: &[(&str, i32)],
    retention: Retention,
    transport: policy::Transport,
) -> Result<(), ProvisionError> {
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .block_public_policy(true)
                .ignore_public_acls(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(|e| at(format!("blocking public access to {bucket}"))(e.into_service_error()))?;

    let sse = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::Aes256)
        .build()
        .map_err(at("building the encryption rule"))?;
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(sse)
                        .build(),
                )
                .build()
                .map_err(at("building the encryption configuration"))?,
        )
        .send()
        .await
        .map_err(|e| at(format!("encrypting {bucket}"))(e.into_service_error()))?;

    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(|e| at(format!("versioning {bucket}"))(e.into_service_error()))?;

    let rule = LifecycleRule::builder()
        .id("expire")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .expiration(
            LifecycleExpiration::builder()
                .days(expire_after_days)
                .build(),
        )
        .noncurrent_version_expiration(
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(retention.noncurrent_version_days)
                .build(),
        )
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(1)
                .build(),
        )
        .build()
        .map_err(at("building the lifecycle rule"))?;
    let mut rules = vec![rule];
    for (prefix, days) in prefix_expire_days {
        rules.push(
            LifecycleRule::builder()
                .id(format!("expire-{}", prefix.trim_end_matches('/')))
                .status(ExpirationStatus::Enabled)
                .filter(LifecycleRuleFilter::builder().prefix(*prefix).build())
                .expiration(LifecycleExpiration::builder().days(*days).build())
                .noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(*days)
                        .build(),
                )
                .build()
                .map_err(at("building a prefix's lifecycle rule"))?,
        );
    }
    s3.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .set_rules(Some(rules))
                .build()
                .map_err(at("building the lifecycle configuration"))?,
        )
        .send()
        .await
        .map_err(|e| at(format!("setting the lifecycle of {bucket}"))(e.into_service_error()))?;

    if let Some(document) = policy::bucket_policy(&policy::bucket_arn(bucket), transport) {
        s3.put_bucket_policy()
            .bucket(bucket)
            .policy(document.to_string())
            .send()
            .await
            .map_err(|e| at(format!("setting the policy of {bucket}"))(e.into_service_error()))?;
    }
    Ok(())
}
