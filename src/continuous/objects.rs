//! Segments in the bucket: written through the same pipeline as full backups (zstd, age, the plaintext
//! SHA-256 and size in metadata), read back with every check the pipeline has plus the segment's own (event
//! count, revision range against the name).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::chain::Base;
use super::segment::{self, Event};
use super::Error;
use crate::naming::segment::{segment_key, SegmentName};
use crate::pipeline::{self, Encoding, Expected, Identities, ObjectFacts};
use crate::s3::{self, Client};

const EVENTS: &str = "etcdbak-events";

/// One cluster's full backups and segments, from one listing each.
pub struct Listing {
    pub bases: Vec<Base>,
    /// In revision order (see [`super::chain::ordered`]).
    pub segments: Vec<SegmentName>,
}

pub async fn list(client: &Client, cluster: &str) -> Result<Listing, Error> {
    let keys = client.list_keys(Some(cluster)).await?;
    let bases = crate::backup::from_listing(&client.prefix, &keys, Some(cluster))
        .iter()
        .map(Base::from)
        .collect();
    let segments = crate::naming::segment::in_listing(&client.prefix, &keys, Some(cluster))
        .into_iter()
        .map(|(_, name)| name)
        .collect();
    Ok(Listing {
        bases,
        segments: super::chain::ordered(segments),
    })
}

/// Encodes and stores `events` (non-empty, in commit order) as one segment; returns its name once the
/// store has answered the PUT, which is when the segment counts as durable.
pub async fn put(
    client: &Client,
    cluster: &str,
    events: &[Event],
    encoding: &Encoding,
    closed_at: DateTime<Utc>,
) -> Result<SegmentName, Error> {
    let (first, last) = match (events.first(), events.last()) {
        (Some(f), Some(l)) => (f.revision, l.revision),
        _ => return Err(Error::Empty),
    };
    let plaintext = segment::encode(events);
    let enc = encoding.clone();
    let (body, recorded) = tokio::task::spawn_blocking(move || {
        pipeline::encode(plaintext.as_slice(), Vec::new(), &enc)
    })
    .await
    .map_err(|e| Error::Task(e.to_string()))??;
    let format = encoding.pipeline().format();
    let name = SegmentName {
        first,
        last,
        closed_at,
        compressed: format.compressed,
        encrypted: format.encrypted,
    };
    let mut metadata: Vec<(String, String)> = recorded.to_metadata().into_iter().collect();
    metadata.push((EVENTS.into(), events.len().to_string()));
    let key = segment_key(&client.prefix, cluster, &name);
    s3::upload::put_small_with(client, &key, body, &metadata).await?;
    Ok(name)
}

/// Reads one segment back and checks it end to end: the pipeline's digest and size, the event count, and
/// that its events are exactly the revisions its name claims.
pub async fn get(
    client: &Client,
    cluster: &str,
    name: &SegmentName,
    identities: Option<Arc<Identities>>,
) -> Result<Vec<Event>, Error> {
    let key = segment_key(&client.prefix, cluster, name);
    let (recorded, count, size) = head_checked(client, cluster, name).await?;
    let corrupt = |what: String| Error::Corrupt {
        key: key.clone(),
        what,
    };
    if name.encrypted && identities.is_none() {
        return Err(Error::NeedsIdentity(key));
    }
    let body = client.get_small(&key, size.min(MAX_STORED)).await?;
    let expected = Expected::from_recorded(&recorded);
    let (plaintext, _) = tokio::task::spawn_blocking(move || {
        pipeline::decode(
            body.as_slice(),
            Vec::new(),
            &expected,
            identities.as_deref(),
        )
    })
    .await
    .map_err(|e| Error::Task(e.to_string()))?
    .map_err(|e| corrupt(e.to_string()))?;
    let events = segment::decode(&plaintext).map_err(|e| corrupt(e.to_string()))?;
    super::verdict::check_segment(name, count, &events).map_err(corrupt)?;
    Ok(events)
}

/// What a segment's HEAD says, checked against its name without reading it (what can be checked of an
/// encrypted segment without its identity): the pipeline record, the event count and the stored size.
pub async fn head_checked(
    client: &Client,
    cluster: &str,
    name: &SegmentName,
) -> Result<(ObjectFacts, usize, u64), Error> {
    let key = segment_key(&client.prefix, cluster, name);
    let head = client.head(&key).await?;
    let corrupt = |what: String| Error::Corrupt {
        key: key.clone(),
        what,
    };
    let (recorded, count) = read_metadata(&head.metadata).map_err(corrupt)?;
    recorded
        .check_name(name.format())
        .map_err(|e| corrupt(e.to_string()))?;
    Ok((recorded, count, head.size.unwrap_or(u64::MAX)))
}

/// Segments are cut at a few MiB of plaintext; anything far larger is not one of ours.
const MAX_STORED: u64 = 256 * 1024 * 1024;

fn read_metadata(metadata: &HashMap<String, String>) -> Result<(ObjectFacts, usize), String> {
    let recorded = ObjectFacts::from_metadata(metadata)
        .map_err(|e| e.to_string())?
        .ok_or("it has no pipeline record in its metadata")?;
    let count = metadata
        .get(EVENTS)
        .and_then(|v| v.parse().ok())
        .ok_or("it has no event count in its metadata")?;
    Ok((recorded, count))
}
