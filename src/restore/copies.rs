//! Which other destinations hold the chosen backup: the same file name under the same cluster in each
//! one's prefix, found by a HEAD. The runbook names them as where to fetch the backup when the first store
//! is down; a destination that cannot be asked is left out with a warning, never guessed.

use super::facts::{Replica, S3Location};
use crate::s3::Client as S3Client;

/// Another destination the guide may name: its name, its bucket, and where it is as flags spell it.
#[derive(Debug, Clone)]
pub struct Elsewhere {
    pub name: String,
    pub client: S3Client,
    pub s3: S3Location,
}

/// The destinations among `others` that hold `key`'s backup of `cluster`, in their order.
pub async fn copies(others: &[Elsewhere], cluster: &str, key: &str) -> Vec<Replica> {
    let file = key.rsplit('/').next().unwrap_or(key);
    let asks = others.iter().map(|o| async move {
        let there = format!("{}{file}", crate::naming::cluster_prefix(&o.client.prefix, cluster));
        match o.client.head(&there).await {
            Ok(_) => Some(Replica {
                destination: o.name.clone(),
                s3: S3Location {
                    prefix: o.client.prefix.clone(),
                    ..o.s3.clone()
                },
                key: there,
            }),
            Err(e) => {
                tracing::warn!(destination = %o.name, key = %there, error = %e, "no copy of the backup found there; the runbook does not name it");
                None
            }
        }
    });
    futures::future::join_all(asks)
        .await
        .into_iter()
        .flatten()
        .collect()
}
