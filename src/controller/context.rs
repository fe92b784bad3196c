//! What every reconcile shares: the client, the current config (swapped when the file changes), the Event
//! recorder, the metrics, and per-Cluster bookkeeping (failure counts for the backoff, a note for
//! `etcdbak reconcile`'s table).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use kube::runtime::events::Recorder;
use kube::Client;

use crate::config::Config;
use crate::metrics::Metrics;

pub struct Context {
    pub client: Client,
    config: RwLock<Arc<Config>>,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    /// Requeue interval after a successful reconcile (the idle resync).
    pub resync: Duration,
    failures: Mutex<HashMap<String, u32>>,
    /// The last thing each reconcile did, for `etcdbak reconcile`'s table.
    notes: Mutex<HashMap<String, String>>,
}

impl Context {
    pub fn new(
        client: Client,
        config: Config,
        recorder: Recorder,
        metrics: Arc<Metrics>,
        resync: Duration,
    ) -> Context {
        Context {
            client,
            config: RwLock::new(Arc::new(config)),
            recorder,
            metrics,
            resync,
            failures: Mutex::new(HashMap::new()),
            notes: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_config(&self, config: Config) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
    }

    pub fn note(&self, cluster: &str) -> Option<String> {
        self.notes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(cluster)
            .cloned()
    }

    pub(super) fn set_note(&self, cluster: &str, note: impl Into<String>) {
        self.notes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(cluster.to_string(), note.into());
    }

    pub(super) fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }
}
