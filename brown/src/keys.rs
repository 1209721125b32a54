//! API keys: which tenant a bearer token acts for.
//!
//! Only SHA-256 digests of keys are configured (a key has 256 random bits, so a fast hash is
//! enough: there is nothing to brute-force). A presented key is hashed and compared with every
//! configured digest in constant time. A tenant may have several keys, so that keys rotate
//! without downtime: add the new entry, hand out the key, remove the old entry.

use std::fmt::Write as _;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared::keys::Tenant;
use subtle::ConstantTimeEq;

/// Every key starts with this, so a leaked one is easy to recognise (and to scan for).
pub const KEY_PREFIX: &str = "bbk_";
/// Longer tokens are not keys: refuse them before hashing.
const MAX_TOKEN_CHARS: usize = 256;

/// One configured key, as it appears in `BROWN_API_KEYS`: `{"tenant": "acme", "sha256": "…"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    pub tenant: String,
    /// Hex SHA-256 of the whole key, prefix included.
    pub sha256: String,
}

/// Who a valid key belongs to. `key_id` (the digest's first 12 hex digits) names the key in
/// logs without revealing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant: Tenant,
    pub key_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("not a JSON list of {{\"tenant\", \"sha256\"}} entries: {0}")]
    Json(#[from] serde_json::Error),
    #[error("entry {index}: {reason}")]
    Entry { index: usize, reason: String },
}

/// The configured keys.
#[derive(Clone, Default)]
pub struct ApiKeys {
    entries: Vec<([u8; 32], Tenant)>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} keys)", self.entries.len())
    }
}

impl ApiKeys {
    /// Parses the JSON list of entries (`BROWN_API_KEYS`, or the file `BROWN_API_KEYS_FILE`).
    pub fn from_json(json: &str) -> Result<Self, KeysError> {
        let entries: Vec<KeyEntry> = serde_json::from_str(json)?;
        let mut keys = Self::default();
        for (index, entry) in entries.into_iter().enumerate() {
            let invalid = |reason: String| KeysError::Entry { index, reason };
            let tenant = Tenant::parse(&entry.tenant).map_err(|err| invalid(err.to_string()))?;
            let digest = parse_digest(&entry.sha256)
                .ok_or_else(|| invalid("sha256 must be 64 hex digits".into()))?;
            keys.entries.push((digest, tenant));
        }
        Ok(keys)
    }

    /// Adds a key (tests, `cargo xtask dev`).
    pub fn with_key(mut self, tenant: Tenant, key: &str) -> Self {
        self.entries.push((digest(key), tenant));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The caller a presented key belongs to. Every entry is compared, in constant time.
    pub fn verify(&self, token: &str) -> Option<Caller> {
        if token.len() > MAX_TOKEN_CHARS {
            return None;
        }
        let presented = digest(token);
        let mut found = None;
        for (configured, tenant) in &self.entries {
            if bool::from(configured.ct_eq(&presented)) {
                found = Some(tenant);
            }
        }
        found.map(|tenant| Caller {
            tenant: tenant.clone(),
            key_id: hex(&presented[..6]),
        })
    }
}

/// A new random key and the entry that grants it to `tenant`.
pub fn generate(tenant: &Tenant) -> (String, KeyEntry) {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let key = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(secret));
    let entry = KeyEntry {
        tenant: tenant.to_string(),
        sha256: hex(&digest(&key)),
    };
    (key, entry)
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

fn parse_digest(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut digest = [0u8; 32];
    for (byte, pair) in digest.iter_mut().zip(text.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(name: &str) -> Tenant {
        Tenant::parse(name).unwrap()
    }

    #[test]
    fn a_generated_key_verifies_through_its_entry_only() {
        let (key, entry) = generate(&tenant("acme"));
        assert!(key.starts_with(KEY_PREFIX) && key.len() == KEY_PREFIX.len() + 43);
        assert!(!entry.sha256.contains(&key[KEY_PREFIX.len()..]));
        let (other_key, other_entry) = generate(&tenant("globex"));
        let json = serde_json::to_string(&[entry, other_entry]).unwrap();
        let keys = ApiKeys::from_json(&json).unwrap();
        assert_eq!(keys.verify(&key).unwrap().tenant, tenant("acme"));
        assert_eq!(keys.verify(&other_key).unwrap().tenant, tenant("globex"));
        assert_eq!(keys.verify(&key[..key.len() - 1]), None);
        assert_eq!(keys.verify(""), None);
        assert_eq!(keys.verify(&"x".repeat(10_000)), None);
    }

    #[test]
    fn a_tenant_may_hold_several_keys() {
        let acme = tenant("acme");
        let keys = ApiKeys::default()
            .with_key(acme.clone(), "bbk_old")
            .with_key(acme.clone(), "bbk_new");
        assert_eq!(keys.verify("bbk_old").unwrap().tenant, acme);
        assert_eq!(keys.verify("bbk_new").unwrap().tenant, acme);
        assert_ne!(
            keys.verify("bbk_old").unwrap().key_id,
            keys.verify("bbk_new").unwrap().key_id
        );
    }

    #[test]
    fn bad_entries_are_named() {
        let err = ApiKeys::from_json(r#"[{"tenant": "acme", "sha256": "abc"}]"#).unwrap_err();
        assert_eq!(err.to_string(), "entry 0: sha256 must be 64 hex digits");
        let digest = "0".repeat(64);
        let json = format!(r#"[{{"tenant": "ACME", "sha256": "{digest}"}}]"#);
        assert!(matches!(
            ApiKeys::from_json(&json),
            Err(KeysError::Entry { index: 0, .. })
        ));
        assert!(ApiKeys::from_json(r#"{"acme": "key"}"#).is_err());
        assert!(format!("{:?}", ApiKeys::from_json("[]").unwrap()).contains("0 keys"));
    }
}
