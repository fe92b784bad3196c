//! `etcdbak s3-exporter`: a small, generic S3 metrics exporter with s3_exporter-compatible metric names.
//!
//! Why it exists: the widely used `s3_exporter` cannot be built from any package registry these machines (or
//! an air-gapped cluster's build) reach, and the alerts need one series the upstream exporter lacks: the size of
//! the backup *before* the newest one (see docs/ALERTS.md). So etcdbak ships the same metric names and the same
//! `/probe?bucket=&prefix=` interface, plus that series, in the binary that is already deployed.
//!
//! Two ways to scrape it:
//! - `/metrics` lists `--bucket`/`--prefix` once and reports every cluster under it (`<prefix>/<cluster>/...`,
//!   only objects named as etcdbak names backups), labelled `cluster`, so a new Cluster is watched without
//!   touching the Prometheus config;
//! - `/probe?bucket=B&prefix=P` reports one bucket and prefix, exactly like `s3_exporter`, but only the
//!   buckets and prefixes it is allowed ([`probe::Scope`]: the configured ones unless told otherwise), and a
//!   repeated probe within the cache time is answered without a new listing.
//!
//! With `--read-metadata`, `/metrics` also reports each cluster's newest backup's plaintext size, from one
//! HEAD per new backup ([`plain`]: cached by key, bounded per scrape), so a dashboard can draw the
//! compression ratio. It is off by default: a HEAD needs GetObject, which could download the backups too.
//!
//! The summaries and the text exposition are pure functions ([`metrics`]); the HTTP ([`http`], axum) and S3
//! parts are thin.

use crate::exit::Setting;
pub mod http;
pub mod metrics;
pub mod plain;
pub mod probe;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::exit::Class;
use crate::s3::{Client, ListedObject, Settings};
use metrics::Listing;

/// What the exporter serves, checked by the command line.
#[derive(Debug, Clone)]
pub struct Options {
    pub listen: SocketAddr,
    /// The bucket and prefix `/metrics` watches; `/probe` swaps in the bucket it is asked about.
    pub s3: Settings,
    /// Limit for one bucket listing.
    pub list_timeout: Duration,
    /// The buckets and prefixes `/probe` may list.
    pub probe_scope: probe::Scope,
    /// How long a `/probe` result is reused for the same bucket and prefix.
    pub probe_cache: Duration,
    /// HEAD each cluster's newest backup for its plaintext size (needs GetObject, see [`plain`]).
    pub read_metadata: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    S3(#[from] crate::s3::Error),
    #[error("cannot listen on {addr}: check {}: {source}", Setting::Listen)]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn class(&self) -> Class {
        match self {
            Error::S3(e) => e.class(),
            Error::Listen { .. } => Class::Failure,
        }
    }
}

struct Exporter {
    opts: Options,
    cache: std::sync::Mutex<probe::Cache>,
    listings: tokio::sync::Semaphore,
    plaintext: std::sync::Mutex<plain::Cache>,
}

impl Exporter {
    fn new(opts: Options) -> Exporter {
        Exporter {
            opts,
            cache: std::sync::Mutex::new(probe::Cache::default()),
            listings: tokio::sync::Semaphore::new(probe::CONCURRENT_LISTINGS),
            plaintext: std::sync::Mutex::new(plain::Cache::default()),
        }
    }

    fn cached(&self, key: &(String, String)) -> Option<Listing> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.fresh(key, self.opts.probe_cache, Instant::now())
    }

    /// A `/probe` listing: from the cache when a recent one exists, else at most
    /// [`probe::CONCURRENT_LISTINGS`] at once (a waiting caller usually finds the cache filled).
    async fn probe(&self, bucket: &str, prefix: &str) -> Listing {
        let key = (bucket.to_string(), prefix.to_string());
        if let Some(hit) = self.cached(&key) {
            return hit;
        }
        let _permit = self.listings.acquire().await;
        if let Some(hit) = self.cached(&key) {
            return hit;
        }
        let listing = self.list(bucket, prefix).await;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.put(key, listing.clone(), Instant::now());
        listing
    }

    /// Lists one bucket and prefix within the time limit; a failure is logged and becomes `objects: None`.
    async fn list(&self, bucket: &str, prefix: &str) -> Listing {
        let start = Instant::now();
        let objects = match tokio::time::timeout(
            self.opts.list_timeout,
            self.list_objects(bucket, prefix),
        )
        .await
        {
            Ok(Ok(objects)) => Some(objects),
            Ok(Err(e)) => {
                tracing::warn!(bucket, prefix, error = %e, "listing failed");
                None
            }
            Err(_) => {
                tracing::warn!(bucket, prefix, timeout = ?self.opts.list_timeout, "listing timed out");
                None
            }
        };
        Listing {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            duration: start.elapsed(),
            objects,
        }
    }

    /// The plaintext size of each cluster's newest backup in `listing` (a root listing), by key: the cached
    /// ones, and the new ones HEADed now (bounded, and within the listing's time limit). A HEAD that fails
    /// is logged and asked again at the next scrape.
    async fn plaintext_sizes(&self, listing: &Listing) -> BTreeMap<String, u64> {
        use futures::StreamExt;
        let Some(objects) = listing.objects.as_ref().filter(|_| self.opts.read_metadata) else {
            return BTreeMap::new();
        };
        let newest = plain::newest_keys(&listing.prefix, objects);
        let todo = self.plain_cache().plan(&newest);
        if !todo.is_empty() {
            let mut s3 = self.opts.s3.clone();
            s3.bucket = listing.bucket.clone();
            let heads = async {
                let client = Client::connect(&s3)?;
                let answers: Vec<_> = futures::stream::iter(todo)
                    .map(|key| {
                        let client = &client;
                        async move {
                            let head = client.head(&key).await;
                            (key, head)
                        }
                    })
                    .buffer_unordered(plain::CONCURRENT_HEADS)
                    .collect()
                    .await;
                Ok::<_, crate::s3::Error>(answers)
            };
            match tokio::time::timeout(self.opts.list_timeout, heads).await {
                Ok(Ok(answers)) => self.keep_heads(answers),
                Ok(Err(e)) => {
                    tracing::warn!(bucket = %listing.bucket, error = %e, "reading backup metadata failed")
                }
                Err(_) => {
                    tracing::warn!(bucket = %listing.bucket, timeout = ?self.opts.list_timeout, "reading backup metadata timed out")
                }
            }
        }
        self.plain_cache().sizes()
    }

    fn keep_heads(&self, answers: Vec<(String, Result<crate::s3::ObjectHead, crate::s3::Error>)>) {
        let mut cache = self.plain_cache();
        for (key, head) in answers {
            match head {
                Ok(head) => cache.put(key, plain::plaintext_size(&head.metadata)),
                Err(e) => tracing::warn!(%key, error = %e, "reading a backup's metadata failed"),
            }
        }
    }

    fn plain_cache(&self) -> std::sync::MutexGuard<'_, plain::Cache> {
        self.plaintext.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<ListedObject>, crate::s3::Error> {
        let mut s3 = self.opts.s3.clone();
        s3.bucket = bucket.to_string();
        Client::connect(&s3)?.list_objects(prefix).await
    }
}

pub async fn run(opts: Options) -> Result<(), Error> {
    // Fail at start-up, not on the first scrape, when the endpoint or credentials are unusable.
    Client::connect(&opts.s3)?;
    tracing::info!(
        listen = %opts.listen,
        bucket = %opts.s3.bucket,
        prefix = %opts.s3.prefix,
        probe_allow = %opts.probe_scope.describe(),
        read_metadata = opts.read_metadata,
        "s3-exporter serving /metrics (every cluster under the prefix) and /probe"
    );
    let listen = opts.listen;
    let exporter = Arc::new(Exporter::new(opts));
    http::serve(listen, exporter, async {
        crate::shutdown::signal().await;
    })
    .await
}
