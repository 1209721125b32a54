//! SigV4 verification of a presigned S3 URL, as S3 checks it. The emulator does not check
//! presigned signatures, so the tests that must show what a URL authorises (its key, its
//! length) check them here, from the AWS specification, with the emulator's credentials.

use openssl::{hash::MessageDigest, pkey::PKey, sha::sha256, sign::Signer};

/// Whether `method` on `url` with `headers` (lower-case names; `host` included) carries a valid
/// signature by `secret`: the canonical request is rebuilt from what would be sent, so a URL
/// pointed at another key, or sent with another signed header value, fails.
pub fn presigned_request_is_signed(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    secret: &str,
) -> bool {
    let Some((before_query, query)) = url.split_once('?') else {
        return false;
    };
    let path = before_query
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|slash| &rest[slash..]))
        .unwrap_or("/");
    let mut pairs: Vec<(&str, &str)> = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .collect();
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| decode(value))
    };
    let (Some(signature), Some(signed_headers), Some(credential), Some(date)) = (
        param("X-Amz-Signature"),
        param("X-Amz-SignedHeaders"),
        param("X-Amz-Credential"),
        param("X-Amz-Date"),
    ) else {
        return false;
    };
    pairs.retain(|(key, _)| *key != "X-Amz-Signature");
    pairs.sort();
    let canonical_query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut canonical_headers = String::new();
    for name in signed_headers.split(';') {
        let Some((_, value)) = headers.iter().find(|(header, _)| *header == name) else {
            return false;
        };
        canonical_headers.push_str(&format!("{name}:{}\n", value.trim()));
    }
    let canonical_request = format!(
        "{method}\n{path}\n{}\n{canonical_headers}\n{signed_headers}\nUNSIGNED-PAYLOAD",
        canonical_query.join("&")
    );
    let Some((_, scope)) = credential.split_once('/') else {
        return false;
    };
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex(&sha256(canonical_request.as_bytes()))
    );
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in scope.split('/') {
        key = hmac(&key, part.as_bytes());
    }
    hex(&hmac(&key, string_to_sign.as_bytes())) == signature
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let key = PKey::hmac(key).expect("an HMAC key");
    let mut signer = Signer::new(MessageDigest::sha256(), &key).expect("an HMAC signer");
    signer.update(data).expect("HMAC input");
    signer.sign_to_vec().expect("an HMAC")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Percent-decoding of the few characters a SigV4 parameter holds encoded.
fn decode(value: &str) -> String {
    value
        .replace("%2F", "/")
        .replace("%3B", ";")
        .replace("%3A", ":")
}
