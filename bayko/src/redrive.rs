//! Moving dead-lettered messages back to the work queue after a fix. Receive → send → delete,
//! which works on every SQS implementation (emulators lack `StartMessageMoveTask`). A message
//! is deleted from the DLQ only after the work queue accepted its copy: a crash in between
//! duplicates it, which the status document makes harmless, and never loses it.

use aws_sdk_sqs::Client;

use crate::failure::StoreError;

/// Moves up to `max` messages from `from` to `to`; returns how many moved.
pub async fn redrive(sqs: &Client, from: &str, to: &str, max: usize) -> Result<usize, StoreError> {
    let mut moved = 0;
    while moved < max {
        let batch = sqs
            .receive_message()
            .queue_url(from)
            .max_number_of_messages((max - moved).min(10) as i32)
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(|err| {
                StoreError::Aws(bb_aws::AwsError::from_sdk("receiving from the DLQ", err))
            })?
            .messages
            .unwrap_or_default();
        if batch.is_empty() {
            break;
        }
        for message in batch {
            sqs.send_message()
                .queue_url(to)
                .message_body(message.body().unwrap_or_default())
                .send()
                .await
                .map_err(|err| {
                    StoreError::Aws(bb_aws::AwsError::from_sdk("sending to the work queue", err))
                })?;
            if let Some(receipt) = message.receipt_handle() {
                sqs.delete_message()
                    .queue_url(from)
                    .receipt_handle(receipt)
                    .send()
                    .await
                    .map_err(|err| {
                        StoreError::Aws(bb_aws::AwsError::from_sdk("deleting from the DLQ", err))
                    })?;
            }
            moved += 1;
        }
    }
    Ok(moved)
}
