//! The bucket and queue policies, as documents. Terraform writes the same statements
//! (`terraform/modules/storage` and `terraform/modules/messaging`); the infrastructure tests
//! compare the two, so local and cloud deployments refuse and allow the same things.

use serde_json::{Value, json};

/// The `Sid` of the statement that refuses plain-HTTP requests. Terraform uses the same.
pub const DENY_INSECURE_TRANSPORT: &str = "DenyInsecureTransport";

/// The `Sid` of the statement that lets the EventBridge rule, and only it, send to a queue.
pub const RULE_SENDS: &str = "EventBridgeRuleSends";

/// Refuses every request to the bucket that does not come over TLS.
pub fn bucket_policy(bucket_arn: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": DENY_INSECURE_TRANSPORT,
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, format!("{bucket_arn}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }],
    })
}

/// Lets the rule, and only the rule, send to the queue; refuses plain-HTTP requests.
pub fn queue_policy(queue_arn: &str, rule_arn: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": RULE_SENDS,
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            },
            {
                "Sid": DENY_INSECURE_TRANSPORT,
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:*",
                "Resource": queue_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    })
}

/// An S3 bucket's ARN (the partition is `aws` for the emulators and commercial regions).
pub fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_policy_covers_the_bucket_and_its_objects() {
        let policy = bucket_policy("arn:aws:s3:::b");
        let statement = &policy["Statement"][0];
        assert_eq!(statement["Effect"], "Deny");
        assert_eq!(
            statement["Resource"],
            json!(["arn:aws:s3:::b", "arn:aws:s3:::b/*"])
        );
        assert_eq!(
            statement["Condition"]["Bool"]["aws:SecureTransport"],
            "false"
        );
    }

    #[test]
    fn queue_policy_allows_only_the_rule() {
        let policy = queue_policy("arn:q", "arn:rule");
        let allow = &policy["Statement"][0];
        assert_eq!(allow["Action"], "sqs:SendMessage");
        assert_eq!(allow["Condition"]["ArnEquals"]["aws:SourceArn"], "arn:rule");
        assert_eq!(policy["Statement"][1]["Effect"], "Deny");
    }
}
