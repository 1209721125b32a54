//! AWS clients, built the same way for AWS and for an emulator: the standard `AWS_*` variables
//! (region, credentials, `AWS_ENDPOINT_URL`) decide where they point.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig, timeout::TimeoutConfig};
use aws_sdk_s3::config::Credentials;

use shared::config;

/// Region used when none is configured and an endpoint override is set: emulators accept any.
const EMULATOR_REGION: &str = "us-east-1";

/// Where the AWS APIs are. `endpoint_url` is set for an emulator and unset on AWS.
#[derive(Debug, Clone)]
pub struct AwsSettings {
    pub endpoint_url: Option<String>,
    /// Static credentials, for an emulator; the default provider chain otherwise.
    pub static_credentials: Option<(String, String)>,
    /// One attempt of a call (the SDK retries up to three), and the whole call. Outages must
    /// surface as errors within seconds, never as hangs.
    pub attempt_timeout: Duration,
    pub operation_timeout: Duration,
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            endpoint_url: None,
            static_credentials: None,
            attempt_timeout: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(30),
        }
    }
}

impl AwsSettings {
    /// Reads `AWS_ENDPOINT_URL`; everything else is left to the SDK's own provider chains.
    pub fn from_env() -> Self {
        Self {
            endpoint_url: config::optional("AWS_ENDPOINT_URL"),
            ..Self::default()
        }
    }

    /// Settings for a local emulator on `endpoint_url`, with throwaway credentials.
    pub fn emulator(endpoint_url: impl Into<String>) -> Self {
        Self {
            endpoint_url: Some(endpoint_url.into()),
            static_credentials: Some(("test".into(), "test".into())),
            ..Self::default()
        }
    }

    pub async fn load(&self) -> SdkConfig {
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(self.attempt_timeout)
                .operation_timeout(self.operation_timeout)
                .build(),
        );
        if let Some(endpoint) = &self.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some((key, secret)) = &self.static_credentials {
            loader = loader.credentials_provider(Credentials::new(
                key.as_str(),
                secret.as_str(),
                None,
                None,
                "static",
            ));
        }
        let config = loader.load().await;
        if config.region().is_none() && self.endpoint_url.is_some() {
            return config
                .into_builder()
                .region(Region::new(EMULATOR_REGION))
                .build();
        }
        config
    }
}

/// An S3 client. Emulators serve buckets by path, not by virtual host.
pub fn s3(config: &SdkConfig) -> aws_sdk_s3::Client {
    let s3_config = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(config.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(s3_config)
}

/// An SQS client whose attempt timeout leaves room for a 20 s long poll.
#[cfg(feature = "sqs")]
pub fn sqs(config: &SdkConfig) -> aws_sdk_sqs::Client {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(30))
        .operation_timeout(Duration::from_secs(60))
        .build();
    let sqs_config = aws_sdk_sqs::config::Builder::from(config)
        .timeout_config(timeouts)
        .build();
    aws_sdk_sqs::Client::from_conf(sqs_config)
}
