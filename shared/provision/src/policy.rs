//! The bucket and queue policies, as documents. Terraform writes the same statements
//! (`terraform/modules/storage` and `terraform/modules/messaging`); the infrastructure tests
//! compare the two, so local and cloud deployments refuse and allow the same things.
//!
//! One exception: over a plain-HTTP emulator the TLS-only statement would refuse every request
//! (moto enforces bucket policies), so it is left out when the endpoint is not HTTPS.

use serde_json::{Value, json};

/// The `Sid` of the statement that refuses plain-HTTP requests. Terraform uses the same.
pub const DENY_INSECURE_TRANSPORT: &str = "DenyInsecureTransport";

/// The `Sid` of the statement that lets the EventBridge rule, and only it, send to a queue.
pub const RULE_SENDS: &str = "EventBridgeRuleSends";

/// Whether requests reach the endpoint over TLS, and so whether plain HTTP may be refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tls,
    /// A local emulator on `http://`.
    PlainHttp,
}

impl Transport {
    /// AWS itself (no endpoint override) and `https://` endpoints are TLS.
    pub fn of_endpoint(endpoint_url: Option<&str>) -> Self {
        match endpoint_url {
            Some(url) if !url.starts_with("https://") => Self::PlainHttp,
            _ => Self::Tls,
        }
    }
}

fn deny_insecure_transport(service: &str, resources: Value) -> Value {
    json!({
        "Sid": DENY_INSECURE_TRANSPORT,
        "Effect": "Deny",
        "Principal": "*",
        "Action": format!("{service}:*"),
        "Resource": resources,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    })
}

/// Refuses every request to the bucket that does not come over TLS; `None` (no policy) over
/// plain HTTP.
pub fn bucket_policy(bucket_arn: &str, transport: Transport) -> Option<Value> {
    (transport == Transport::Tls).then(|| {
        json!({
            "Version": "2012-10-17",
            "Statement": [deny_insecure_transport(
                "s3",
                json!([bucket_arn, format!("{bucket_arn}/*")]),
            )],
        })
    })
}

/// Lets the rule, and only the rule, send to the queue; refuses plain-HTTP requests over TLS
/// transports.
pub fn queue_policy(queue_arn: &str, rule_arn: &str, transport: Transport) -> Value {
    let mut statements = vec![json!({
        "Sid": RULE_SENDS,
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
    })];
    if transport == Transport::Tls {
        statements.push(deny_insecure_transport("sqs", json!(queue_arn)));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
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
        let policy = bucket_policy("arn:aws:s3:::b", Transport::Tls).unwrap();
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
        let policy = queue_policy("arn:q", "arn:rule", Transport::Tls);
        let allow = &policy["Statement"][0];
        assert_eq!(allow["Action"], "sqs:SendMessage");
        assert_eq!(allow["Condition"]["ArnEquals"]["aws:SourceArn"], "arn:rule");
        assert_eq!(policy["Statement"][1]["Effect"], "Deny");
    }

    #[test]
    fn plain_http_emulators_get_no_tls_refusal() {
        let plain = Transport::of_endpoint(Some("http://127.0.0.1:5000"));
        assert_eq!(plain, Transport::PlainHttp);
        assert_eq!(bucket_policy("arn:aws:s3:::b", plain), None);
        assert_eq!(
            queue_policy("arn:q", "arn:rule", plain)["Statement"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(Transport::of_endpoint(None), Transport::Tls);
        assert_eq!(
            Transport::of_endpoint(Some("https://s3.example")),
            Transport::Tls
        );
    }
}
