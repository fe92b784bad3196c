//! Timeouts that fit backups: a request fails when no bytes move for the stall timeout, not when a
//! transfer as a whole takes long (which a large snapshot on a slow link legitimately does).

use crate::exit::Setting;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// When bytes last moved, as milliseconds since `epoch`; shared by a body and its watchdog.
#[derive(Clone)]
pub struct Progress {
    epoch: Instant,
    last_ms: Arc<AtomicU64>,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress {
    pub fn new() -> Self {
        Progress {
            epoch: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn touch(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// How long nothing has moved.
    pub fn idle(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last)
    }

    /// Resolves once nothing has moved for `limit`.
    pub async fn stalled(&self, limit: Duration) {
        loop {
            let idle = self.idle();
            if idle >= limit {
                return;
            }
            tokio::time::sleep(limit - idle).await;
        }
    }
}

/// The body as a stream of slices (no copies) that records each one taken: the HTTP client takes the
/// next slice only when the socket accepted the previous one, so this tracks bytes actually sent.
pub fn watched_body(body: &Bytes, progress: &Progress) -> reqwest::Body {
    reqwest::Body::wrap_stream(watched_slices(body, progress))
}

fn watched_slices(
    body: &Bytes,
    progress: &Progress,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + 'static {
    const SLICE: usize = 64 * 1024;
    let slices: Vec<Bytes> = (0..body.len())
        .step_by(SLICE)
        .map(|i| body.slice(i..(i + SLICE).min(body.len())))
        .collect();
    let progress = progress.clone();
    futures::stream::iter(slices.into_iter().map(move |s| {
        progress.touch();
        Ok::<Bytes, std::io::Error>(s)
    }))
}

/// Runs a request that moves few bytes (a listing, a HEAD, an initiate or complete call) with the stall
/// timeout as its limit; `None` when it stalled.
pub async fn bounded<T>(limit: Duration, request: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout(limit, request).await.ok()
}

/// The reason a stalled request gives.
pub fn reason(limit: Duration) -> String {
    format!(
        "no bytes moved for {} ({}): the link or the store stalled",
        humantime::format_duration(limit),
        Setting::StallTimeout
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_transfer_that_keeps_moving_is_never_stalled() {
        let p = Progress::new();
        let limit = Duration::from_millis(150);
        let mover = {
            let p = p.clone();
            async move {
                for _ in 0..10 {
                    p.touch();
                    tokio::time::sleep(Duration::from_millis(40)).await;
                }
            }
        };
        let started = Instant::now();
        tokio::select! {
            _ = mover => {}
            _ = p.stalled(limit) => panic!("stalled after {:?} although bytes kept moving", started.elapsed()),
        }
        // Once it stops moving, the watchdog fires after the limit, not before.
        let stopped = Instant::now();
        p.stalled(limit).await;
        assert!(stopped.elapsed() >= limit - Duration::from_millis(45));
    }

    #[tokio::test]
    async fn the_body_reports_progress_as_it_is_taken() {
        use futures::StreamExt;
        let p = Progress::new();
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(p.idle() >= Duration::from_millis(30));
        let body = Bytes::from(vec![7u8; 200 * 1024]);
        let mut stream = std::pin::pin!(watched_slices(&body, &p));
        let mut total = 0;
        while let Some(chunk) = stream.next().await {
            total += chunk.expect("chunk").len();
            assert!(p.idle() < Duration::from_millis(30));
        }
        assert_eq!(total, body.len());
        assert!(
            bounded(Duration::from_millis(10), std::future::pending::<()>())
                .await
                .is_none()
        );
        assert!(reason(Duration::from_secs(300)).contains("5m"));
    }
}
