//! [`WorkQueue`] on SQS (or an emulator), through aws-sdk-sqs.

use std::time::Duration;

use aws_sdk_sqs::types::MessageSystemAttributeName;

use super::{MAX_VISIBILITY, Message, WorkQueue};
use crate::AwsError;

/// One SQS queue.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }
}

#[async_trait::async_trait]
impl WorkQueue for SqsQueue {
    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<Message>, AwsError> {
        let output = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .visibility_timeout(seconds(visibility))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|err| AwsError::from_sdk("receiving messages", err))?;
        Ok(output
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|message| Message {
                receive_count: message
                    .attributes
                    .as_ref()
                    .and_then(|attributes| {
                        attributes.get(&MessageSystemAttributeName::ApproximateReceiveCount)
                    })
                    .and_then(|count| count.parse().ok())
                    .unwrap_or(1),
                id: message.message_id.unwrap_or_default(),
                body: message.body.unwrap_or_default(),
                receipt: message.receipt_handle.unwrap_or_default(),
            })
            .collect())
    }

    async fn delete(&self, receipt: &str) -> Result<(), AwsError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map(drop)
            .map_err(|err| AwsError::from_sdk("deleting a message", err))
    }

    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), AwsError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds(timeout))
            .send()
            .await
            .map(drop)
            .map_err(|err| AwsError::from_sdk("changing a message's visibility", err))
    }
}

fn seconds(timeout: Duration) -> i32 {
    timeout.min(MAX_VISIBILITY).as_secs() as i32
}
