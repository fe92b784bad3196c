//! The Object Lock of each listed backup, for `list`: nothing is asked of a bucket without Object Lock
//! (one GET `?object-lock` says so), and on one with it one HEAD per backup, a few at a time, so a long
//! listing costs a bounded number of requests in flight.

use std::collections::HashMap;

use futures::stream::{self, StreamExt};

use crate::s3::lock::Hold;
use crate::s3::Client;

/// HEADs in flight at once: enough to hide latency, few enough not to swamp a small store.
const CONCURRENT_HEADS: usize = 8;

/// Each of `keys` that carries a retention (a mode and a date), with it. A bucket without Object Lock
/// gives none without a HEAD; a HEAD that fails leaves its key out (`list` still lists it), and so does
/// a bucket whose lock configuration cannot be read, with a warning.
pub async fn retentions(client: &Client, keys: &[String]) -> HashMap<String, Hold> {
    match client.object_lock_enabled().await {
        Ok(true) => {}
        Ok(false) => return HashMap::new(),
        Err(e) => {
            tracing::warn!(bucket = %client.bucket_name, error = %e, "cannot tell whether the bucket has Object Lock; locks not shown");
            return HashMap::new();
        }
    }
    stream::iter(keys)
        .map(|key| async move {
            match client.current(key, None).await {
                Ok(Some(c)) => Some((key.clone(), c.hold)),
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(%key, error = %e, "cannot read the lock of a backup");
                    None
                }
            }
        })
        .buffer_unordered(CONCURRENT_HEADS)
        .filter_map(
            |found| async move { found.filter(|(_, h)| h.until.is_some() && h.mode.is_some()) },
        )
        .collect()
        .await
}
