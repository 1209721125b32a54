//! The S3 key layout. Every key carries the tenant, so that per-tenant IAM conditions, lifecycle
//! rules and listings work without a migration when tenants arrive.
//!
//! ```text
//! tasks bucket      inbox/{tenant}/{task_id}.json    written once by Brown
//!                   status/{tenant}/{task_id}.json   written by Bayko, conditionally
//!                   cancel/{tenant}/{task_id}.json   written once by Brown on POST …/cancel
//!                   uploads/{tenant}/{upload_id}     PUT by a client through a URL Brown presigned
//! artifacts bucket  {tenant}/{task_id}/{artifact}    written once by Bayko
//! ```

use std::fmt;

use uuid::Uuid;

/// The prefix EventBridge's rule matches: only objects under it are work.
pub const INBOX_PREFIX: &str = "inbox/";
pub const STATUS_PREFIX: &str = "status/";
/// Cancel requests: Brown writes a marker, Bayko looks for it between steps. Outside `inbox/`,
/// so a cancel request is never mistaken for work.
pub const CANCEL_PREFIX: &str = "cancel/";
/// Large task data, PUT by clients through presigned URLs. Outside `inbox/`, so an upload is
/// never work; a lifecycle rule expires it.
pub const UPLOADS_PREFIX: &str = "uploads/";

/// Where a tenant's upload lives. The key is always built from the authenticated tenant and the
/// id, never taken from a client, so one tenant cannot name another's object.
pub fn upload_key(tenant: &Tenant, upload_id: Uuid) -> String {
    format!("{UPLOADS_PREFIX}{tenant}/{upload_id}")
}

/// A tenant name: lowercase letters, digits and `-`, 1 to 63 characters, so that it is safe in
/// a key, a metric label and a bucket prefix alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tenant(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("tenant must be 1-63 characters of a-z, 0-9 and '-', got {0:?}")]
pub struct InvalidTenant(pub String);

impl Tenant {
    pub fn parse(name: &str) -> Result<Self, InvalidTenant> {
        let valid = (1..=63).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(Self(name.to_owned()))
        } else {
            Err(InvalidTenant(name.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One task's place in the buckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskKey {
    pub tenant: Tenant,
    pub task_id: Uuid,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("key {0:?} is not under {INBOX_PREFIX}")]
    NotInInbox(String),
    #[error("key {0:?} is not inbox/{{tenant}}/{{task_id}}.json")]
    Malformed(String),
    #[error(transparent)]
    Tenant(#[from] InvalidTenant),
}

impl TaskKey {
    pub fn new(tenant: Tenant, task_id: Uuid) -> Self {
        Self { tenant, task_id }
    }

    /// Parses the key of an inbox object, as an event names it.
    pub fn from_inbox_key(key: &str) -> Result<Self, KeyError> {
        let rest = key
            .strip_prefix(INBOX_PREFIX)
            .ok_or_else(|| KeyError::NotInInbox(key.to_owned()))?;
        let malformed = || KeyError::Malformed(key.to_owned());
        let (tenant, file) = rest.split_once('/').ok_or_else(malformed)?;
        let id = file.strip_suffix(".json").ok_or_else(malformed)?;
        let task_id = Uuid::parse_str(id).map_err(|_| malformed())?;
        // Only the canonical hyphenated form: one task, one key.
        if task_id.hyphenated().to_string() != id {
            return Err(malformed());
        }
        Ok(Self::new(Tenant::parse(tenant)?, task_id))
    }

    pub fn inbox(&self) -> String {
        format!("{INBOX_PREFIX}{}/{}.json", self.tenant, self.task_id)
    }

    pub fn status(&self) -> String {
        format!("{STATUS_PREFIX}{}/{}.json", self.tenant, self.task_id)
    }

    pub fn cancel(&self) -> String {
        format!("{CANCEL_PREFIX}{}/{}.json", self.tenant, self.task_id)
    }

    pub fn artifact(&self, name: &str) -> String {
        format!("{}/{}/{name}", self.tenant, self.task_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_round_trips() {
        let key = TaskKey::new(Tenant::parse("acme-1").unwrap(), Uuid::now_v7());
        let inbox = key.inbox();
        assert!(inbox.starts_with("inbox/acme-1/"));
        assert_eq!(TaskKey::from_inbox_key(&inbox).unwrap(), key);
        assert_eq!(key.status(), format!("status/acme-1/{}.json", key.task_id));
        assert_eq!(
            upload_key(&key.tenant, key.task_id),
            format!("uploads/acme-1/{}", key.task_id)
        );
        assert!(TaskKey::from_inbox_key(&upload_key(&key.tenant, key.task_id)).is_err());
        assert_eq!(
            key.artifact("processing.log"),
            format!("acme-1/{}/processing.log", key.task_id)
        );
    }

    #[test]
    fn rejects_keys_that_are_not_tasks() {
        let id = Uuid::now_v7();
        for key in [
            format!("status/acme/{id}.json"),
            format!("inbox/{id}.json"),
            format!("inbox/acme/{id}.txt"),
            "inbox/acme/not-a-uuid.json".to_owned(),
            format!("inbox/acme/{}.json", id.simple()),
            format!("inbox/ACME/{id}.json"),
            format!("inbox/acme/extra/{id}.json"),
        ] {
            assert!(TaskKey::from_inbox_key(&key).is_err(), "{key} accepted");
        }
    }

    #[test]
    fn tenant_names() {
        assert!(Tenant::parse("default").is_ok());
        assert!(Tenant::parse("a").is_ok());
        assert!(Tenant::parse("").is_err());
        assert!(Tenant::parse("a/b").is_err());
        assert!(Tenant::parse(&"a".repeat(64)).is_err());
    }
}
