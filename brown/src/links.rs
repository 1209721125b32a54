//! Download links to a task's artifacts: CloudFront signed URLs when a distribution is
//! configured, S3 presigned GETs otherwise. The object key is always derived from the task's key
//! and the artifact's name (see `routes::tasks`), never read from a stored document, so a
//! tampered status cannot point a link at another tenant's object.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use aws_sdk_s3::presigning::PresigningConfig;
use base64::{Engine, engine::general_purpose::STANDARD};
use openssl::{
    hash::MessageDigest,
    pkey::{PKey, Private},
    sign::Signer,
};

/// How artifact links are signed.
#[derive(Clone)]
pub enum LinkSigner {
    S3 {
        s3: aws_sdk_s3::Client,
        bucket: String,
    },
    CloudFront(CloudFront),
}

impl LinkSigner {
    /// A link to `key` valid for `ttl`.
    pub async fn link(&self, key: &str, ttl: Duration) -> anyhow::Result<String> {
        match self {
            Self::S3 { s3, bucket } => {
                let presigning = PresigningConfig::expires_in(ttl).context("link lifetime")?;
                // Boxed: the SDK's presigning future is kilobytes, and held inline it made
                // every request's future that large, copied at each of axum's boxed layers
                // even for a request refused before any link is signed.
                let request = Box::pin(
                    s3.get_object()
                        .bucket(bucket)
                        .key(key)
                        .presigned(presigning),
                )
                .await
                .context("presigning an artifact link")?;
                Ok(request.uri().to_owned())
            }
            Self::CloudFront(cloudfront) => {
                let expires = SystemTime::now() + ttl;
                let epoch = expires
                    .duration_since(UNIX_EPOCH)
                    .context("the clock is before 1970")?
                    .as_secs();
                cloudfront.signed_url(key, epoch)
            }
        }
    }
}

/// A CloudFront distribution in front of the artifacts bucket, and the key pair whose public
/// half is in its trusted key group.
#[derive(Clone)]
pub struct CloudFront {
    domain: String,
    key_pair_id: String,
    private_key: PKey<Private>,
}

impl std::fmt::Debug for CloudFront {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudFront")
            .field("domain", &self.domain)
            .field("key_pair_id", &self.key_pair_id)
            .field("private_key", &"(not shown)")
            .finish()
    }
}

impl CloudFront {
    /// `private_key_pem` is the RSA key in PEM (PKCS#1 or PKCS#8), as CloudFront issues it.
    pub fn new(domain: &str, key_pair_id: &str, private_key_pem: &str) -> anyhow::Result<Self> {
        let private_key = PKey::private_key_from_pem(private_key_pem.as_bytes())
            // The library's error could quote the key: say only what is wrong.
            .map_err(|_| anyhow::anyhow!("the private key is not a PEM private key"))?;
        if private_key.rsa().is_err() {
            anyhow::bail!("the private key is not an RSA key");
        }
        let domain = domain
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_owned();
        Ok(Self {
            domain,
            key_pair_id: key_pair_id.to_owned(),
            private_key,
        })
    }

    /// A signed URL with a canned policy: the URL itself, valid until `expires` (Unix seconds).
    pub fn signed_url(&self, key: &str, expires: u64) -> anyhow::Result<String> {
        let resource = format!("https://{}/{key}", self.domain);
        let policy = canned_policy(&resource, expires);
        let mut signer = Signer::new(MessageDigest::sha1(), &self.private_key)
            .context("preparing the CloudFront signature")?;
        signer.update(policy.as_bytes())?;
        let signature = signer
            .sign_to_vec()
            .context("signing the CloudFront policy")?;
        Ok(format!(
            "{resource}?Expires={expires}&Signature={}&Key-Pair-Id={}",
            url_safe(&STANDARD.encode(signature)),
            self.key_pair_id
        ))
    }
}

/// The canned policy, byte for byte as CloudFront rebuilds it to check the signature.
fn canned_policy(resource: &str, expires: u64) -> String {
    format!(
        r#"{{"Statement":[{{"Resource":"{resource}","Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}}}}}]}}"#
    )
}

/// CloudFront's URL-safe base64: `+` → `-`, `=` → `_`, `/` → `~`.
fn url_safe(base64: &str) -> String {
    base64
        .chars()
        .map(|c| match c {
            '+' => '-',
            '=' => '_',
            '/' => '~',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::{rsa::Rsa, sign::Verifier};

    #[test]
    fn signed_url_carries_a_verifiable_canned_policy_signature() {
        let rsa = Rsa::generate(2048).unwrap();
        let pem = String::from_utf8(rsa.private_key_to_pem().unwrap()).unwrap();
        let cloudfront =
            CloudFront::new("https://d111.cloudfront.net/", "K2JCJMDEHXQW5F", &pem).unwrap();
        let url = cloudfront
            .signed_url("acme/1/output_payload.json", 1_900_000_000)
            .unwrap();
        let (resource, query) = url.split_once('?').unwrap();
        assert_eq!(
            resource,
            "https://d111.cloudfront.net/acme/1/output_payload.json"
        );
        let signature = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("Signature="))
            .unwrap();
        assert!(query.starts_with("Expires=1900000000&"));
        assert!(query.ends_with("&Key-Pair-Id=K2JCJMDEHXQW5F"));
        assert!(!signature.contains(['+', '=', '/']));
        let raw: String = signature
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '=',
                '~' => '/',
                other => other,
            })
            .collect();
        let public = PKey::public_key_from_pem(&rsa.public_key_to_pem().unwrap()).unwrap();
        let mut verifier = Verifier::new(MessageDigest::sha1(), &public).unwrap();
        verifier
            .update(canned_policy(resource, 1_900_000_000).as_bytes())
            .unwrap();
        assert!(verifier.verify(&STANDARD.decode(raw).unwrap()).unwrap());
        assert!(!format!("{cloudfront:?}").contains("BEGIN"));
    }

    #[test]
    fn a_bad_key_is_refused_without_quoting_it() {
        let err = CloudFront::new("d.cloudfront.net", "K", "-----BEGIN SECRET-----").unwrap_err();
        assert!(!err.to_string().contains("SECRET"));
    }
}
