//! What every reconcile shares: the client, the current config (swapped when the file changes), the Event
//! recorder, the metrics, and the per-Cluster failure counts for the backoff.

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

    pub(super) fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }
}
