//! How many event streams each tenant holds open: a stream costs a connection and a polling
//! loop, so one tenant cannot take them all. Also ends them all when Brown stops, since a
//! graceful shutdown waits for open connections.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use shared::keys::Tenant;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct Watchers {
    open: Arc<Mutex<HashMap<Tenant, usize>>>,
    per_tenant: usize,
    closing: CancellationToken,
}

/// One open stream; closing it (dropping this) frees the place.
pub struct Watching {
    watchers: Watchers,
    tenant: Tenant,
}

impl Watchers {
    pub fn new(per_tenant: usize) -> Self {
        Self {
            open: Arc::default(),
            per_tenant,
            closing: CancellationToken::new(),
        }
    }

    pub fn limit(&self) -> usize {
        self.per_tenant
    }

    /// Ends every stream (Brown is stopping).
    pub fn close_all(&self) {
        self.closing.cancel();
    }

    /// Completes when Brown stops.
    pub async fn closed(&self) {
        self.closing.cancelled().await;
    }

    /// A place for one more stream of `tenant`, unless it holds the most it may.
    pub fn try_watch(&self, tenant: &Tenant) -> Option<Watching> {
        let mut open = self
            .open
            .lock()
            .expect("the watcher count is never poisoned");
        let count = open.entry(tenant.clone()).or_default();
        if *count >= self.per_tenant {
            return None;
        }
        *count += 1;
        Some(Watching {
            watchers: self.clone(),
            tenant: tenant.clone(),
        })
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let mut open = self
            .watchers
            .open
            .lock()
            .expect("the watcher count is never poisoned");
        if let Some(count) = open.get_mut(&self.tenant) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.tenant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_tenant_has_its_own_cap_and_closing_frees_a_place() {
        let watchers = Watchers::new(2);
        let acme = Tenant::parse("acme").unwrap();
        let other = Tenant::parse("other").unwrap();
        let first = watchers.try_watch(&acme).unwrap();
        let _second = watchers.try_watch(&acme).unwrap();
        assert!(watchers.try_watch(&acme).is_none());
        assert!(watchers.try_watch(&other).is_some());
        drop(first);
        assert!(watchers.try_watch(&acme).is_some());
    }
}
