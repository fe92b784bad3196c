//! One read of the snapshot, every destination: each part is read into one buffer, hashed once, and sent
//! from that same buffer (shared as `Bytes`, never copied) to every destination still alive, concurrently.
//! A part's buffer is reused only once every destination has it, so memory stays `part_size x
//! concurrency` whatever the number of destinations; the price is that the slowest live destination sets
//! the pace (a dead one stops counting as soon as a request to it fails for good, or stalls past the
//! stall timeout).
//!
//! A destination that fails (at the start, or on a part) is dropped from the fan-out and its multipart
//! upload aborted; the others go on. What the bytes must be ([`Expected`]) is checked once, after the last
//! part and before any upload is completed, so a bad snapshot becomes an object nowhere. A failure of the
//! source itself (the file changed, corrupt, a signal) fails every destination: the outer `Err`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures::future::join_all;
use reqwest::header::HeaderMap;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::source::{Expected, Source};
use super::upload::{self, Target, UploadPlan, Uploaded, MAX_PARTS};
use super::{Client, Error};

/// One copy of the object: the bucket (through its client) and the key in it.
#[derive(Debug, Clone, Copy)]
pub struct Dest<'a> {
    pub client: &'a Client,
    pub key: &'a str,
}

/// What each destination's upload came to, in the order of `dests`.
pub type Outcomes = Vec<Result<Uploaded, Error>>;

/// Uploads what `expected` says is made from `path` to every destination, reading it once. The first part
/// is read before anything is sent: an object that fits in it goes as a single PUT to each. `Ok` holds
/// each destination's outcome; `Err` is a failure of the source or a signal, after which every started
/// upload has been aborted.
pub async fn upload_to_all(
    dests: &[Dest<'_>],
    path: &std::path::Path,
    metadata: &[(String, String)],
    plan: UploadPlan,
    expected: &Expected,
    mut cancel: watch::Receiver<Option<&'static str>>,
) -> Result<Outcomes, Error> {
    let Some(lead) = dests.first() else {
        return Ok(Vec::new());
    };
    let source = Source::open(path, &expected.payload, expected.size)?;
    let part_size = plan.effective_part_size(upload::encoded_bound(expected.size)) as usize;
    let headers = dests
        .iter()
        .map(|d| upload::create_headers(d.client, metadata))
        .collect::<Result<Vec<_>, _>>()?;
    let (source, first, done) = tokio::select! {
        r = source.read_part(Vec::with_capacity(part_size), part_size) => r?,
        signal = upload::wait_cancel(&mut cancel) => return Err(Error::Interrupted { signal }),
    };
    if done {
        return tokio::select! {
            r = put_whole(dests, source, first, headers, expected) => r,
            signal = upload::wait_cancel(&mut cancel) => Err(Error::Interrupted { signal }),
        };
    }
    let started = join_all(
        dests
            .iter()
            .zip(headers)
            .map(|(d, h)| upload::start_multipart(d.client, d.key, h)),
    )
    .await;
    let lanes = Arc::new(Lanes::new(dests, &started));
    let bar = lead.client.progress.start("uploading", source.known_size());
    let parts = Parts {
        part_size,
        concurrency: plan.concurrency.max(1),
    };
    let failed: Vec<Option<Error>> = started.into_iter().map(Result::err).collect();
    let result = tokio::select! {
        r = send_and_complete(&lanes, failed, source, first, &parts, expected, bar) => r,
        signal = upload::wait_cancel(&mut cancel) => Err(Error::Interrupted { signal }),
    };
    abort_unfinished(&lanes, &result).await;
    result
}

/// One destination's multipart upload, shared with the part tasks.
struct Lane {
    client: Client,
    key: String,
    /// Empty when the upload never started.
    upload_id: String,
    /// Set once the destination failed: no more parts go to it.
    dead: AtomicBool,
}

struct Lanes(Vec<Lane>);

impl Lanes {
    fn new(dests: &[Dest<'_>], started: &[Result<String, Error>]) -> Lanes {
        Lanes(
            dests
                .iter()
                .zip(started)
                .map(|(d, s)| Lane {
                    client: d.client.clone(),
                    key: d.key.to_string(),
                    upload_id: s.as_ref().cloned().unwrap_or_default(),
                    dead: AtomicBool::new(s.is_err()),
                })
                .collect(),
        )
    }

    fn all_dead(&self) -> bool {
        self.0.iter().all(|l| l.dead.load(Ordering::SeqCst))
    }
}

/// Aborts every started upload that did not complete: all of them after a failure of the source or a
/// signal, else those of the destinations that failed.
async fn abort_unfinished(lanes: &Lanes, result: &Result<Outcomes, Error>) {
    let unfinished = lanes.0.iter().enumerate().filter(|(i, lane)| {
        let failed = match result {
            Err(_) => true,
            Ok(outcomes) => outcomes.get(*i).is_none_or(|o| o.is_err()),
        };
        failed && !lane.upload_id.is_empty()
    });
    let aborts = unfinished.map(|(i, lane)| async move {
        let error = match result {
            Err(e) => e.to_string(),
            Ok(outcomes) => outcomes[i]
                .as_ref()
                .err()
                .map(ToString::to_string)
                .unwrap_or_default(),
        };
        let key = &lane.key;
        match lane.client.abort_upload(key, &lane.upload_id).await {
            Ok(()) => tracing::warn!(%key, bucket = %lane.client.bucket_name, %error, "upload failed; multipart upload aborted"),
            Err(abort) => tracing::warn!(
                %key, bucket = %lane.client.bucket_name, %error, abort_error = %abort,
                "upload failed and aborting it failed too; a later run aborts it once it is stale"
            ),
        }
    });
    join_all(aborts).await;
}

/// A finished part: its number, its MD5, its buffer for reuse, and each live destination's answer
/// (lane index, the ETag it gave or why it failed).
struct PartDone {
    number: u32,
    md5: [u8; 16],
    buf: Vec<u8>,
    answers: Vec<(usize, Result<String, Error>)>,
}

/// The parts in flight, what each destination has of those done, and the buffers to reuse.
struct InFlight {
    lanes: Arc<Lanes>,
    tasks: JoinSet<Result<PartDone, Error>>,
    /// Per destination, the ETag of each part (index = part number - 1).
    etags: Vec<Vec<Option<String>>>,
    /// Per destination, why it failed; `None` while it is alive.
    failed: Vec<Option<Error>>,
    md5s: Vec<[u8; 16]>,
    // Part buffers are recycled rather than freed: a freed 8 MiB block is not reliably returned to the OS
    // (glibc raises its mmap threshold after the first one), so fresh buffers per part let RSS creep up to
    // several times `part_size x concurrency`. With reuse, exactly `concurrency` buffers ever exist.
    free: Vec<Vec<u8>>,
    sent: u64,
    bar: Option<Box<dyn crate::progress::Transfer>>,
}

impl InFlight {
    fn new(
        lanes: &Arc<Lanes>,
        failed: Vec<Option<Error>>,
        bar: Option<Box<dyn crate::progress::Transfer>>,
    ) -> Self {
        InFlight {
            lanes: lanes.clone(),
            tasks: JoinSet::new(),
            etags: vec![Vec::new(); lanes.0.len()],
            failed,
            md5s: Vec::new(),
            free: Vec::new(),
            sent: 0,
            bar,
        }
    }

    /// Waits until fewer than `limit` parts are in flight: this is what bounds memory.
    async fn wait_below(&mut self, limit: usize) -> Result<(), Error> {
        while self.tasks.len() >= limit {
            let Some(done) = self.tasks.join_next().await else {
                break;
            };
            let done = done.map_err(|e| Error::Request {
                op: "upload a part".into(),
                reason: format!("the part upload task failed: {e}"),
            })??;
            self.collect(done);
        }
        Ok(())
    }

    fn collect(&mut self, done: PartDone) {
        // Parts finish in any order, and how many there are is known only at the end.
        let at = done.number as usize - 1;
        if self.md5s.len() <= at {
            self.md5s.resize(at + 1, [0; 16]);
        }
        self.md5s[at] = done.md5;
        for (i, answer) in done.answers {
            match answer {
                Ok(etag) => {
                    let etags = &mut self.etags[i];
                    if etags.len() <= at {
                        etags.resize(at + 1, None);
                    }
                    etags[at] = Some(etag);
                }
                Err(e) => self.fail(i, e),
            }
        }
        self.sent += done.buf.len() as u64;
        if let Some(bar) = &self.bar {
            bar.at(self.sent);
        }
        self.free.push(done.buf);
    }

    /// Drops destination `i` from the fan-out, keeping its first error.
    fn fail(&mut self, i: usize, e: Error) {
        let lane = &self.lanes.0[i];
        lane.dead.store(true, Ordering::SeqCst);
        if self.failed[i].is_none() {
            if self.lanes.0.len() > 1 {
                tracing::warn!(
                    bucket = %lane.client.bucket_name, endpoint = %lane.client.endpoint, key = %lane.key,
                    error = %e, "a destination failed during the upload; the others go on"
                );
            }
            self.failed[i] = Some(e);
        }
    }

    fn buffer(&mut self, capacity: usize) -> Vec<u8> {
        self.free
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(capacity))
    }

    /// Hashes the part once and sends it to every destination still alive.
    fn spawn(&mut self, number: u32, buf: Vec<u8>) {
        let lanes = self.lanes.clone();
        self.tasks.spawn(async move {
            let (buf, md5) = upload::md5_of(buf).await?;
            let body = Bytes::from(buf);
            let live = lanes
                .0
                .iter()
                .enumerate()
                .filter(|(_, l)| !l.dead.load(Ordering::SeqCst));
            let sends = live.map(|(i, lane)| {
                let body = &body;
                async move {
                    let target = Target::Part {
                        upload_id: &lane.upload_id,
                        number,
                    };
                    let etag = upload::put_bytes(&lane.client, &lane.key, target, body, md5).await;
                    (i, etag)
                }
            });
            let answers = join_all(sends).await;
            // Take the buffer back for the next part; should anything still share it, let it go.
            let buf = body.try_into_mut().map(Vec::from).unwrap_or_default();
            Ok(PartDone {
                number,
                md5,
                buf,
                answers,
            })
        });
    }
}

/// How a multipart upload's parts are cut and sent.
struct Parts {
    part_size: usize,
    concurrency: usize,
}

/// Sends `first` and every further part until the source ends (or no destination is left), checks what
/// was read, and only then completes each live destination's upload.
async fn send_and_complete(
    lanes: &Arc<Lanes>,
    failed: Vec<Option<Error>>,
    mut source: Source,
    first: Vec<u8>,
    parts: &Parts,
    expected: &Expected,
    bar: Option<Box<dyn crate::progress::Transfer>>,
) -> Result<Outcomes, Error> {
    let mut in_flight = InFlight::new(lanes, failed, bar);
    let mut size = first.len() as u64;
    let mut number = 1u32;
    if !lanes.all_dead() {
        in_flight.spawn(number, first);
    }
    while !lanes.all_dead() {
        // Wait for a free slot before reading, so at most `concurrency` buffers exist.
        in_flight.wait_below(parts.concurrency).await?;
        let buf = in_flight.buffer(parts.part_size);
        let (src, buf, done) = source.read_part(buf, parts.part_size).await?;
        source = src;
        if !buf.is_empty() {
            number += 1;
            if u64::from(number) > MAX_PARTS {
                return Err(Error::Request {
                    op: "upload the snapshot".into(),
                    reason: format!("the snapshot needs more than {MAX_PARTS} parts: did it grow?"),
                });
            }
            size += buf.len() as u64;
            in_flight.spawn(number, buf);
        }
        if done {
            break;
        }
    }
    in_flight.wait_below(1).await?;
    in_flight.free.clear();
    if let Some(bar) = &in_flight.bar {
        bar.end();
    }
    if lanes.all_dead() {
        let gone = |f: Option<Error>| {
            Err(f.unwrap_or_else(|| Error::Request {
                op: "upload the snapshot".into(),
                reason: "the destination was dropped".into(),
            }))
        };
        return Ok(in_flight.failed.into_iter().map(gone).collect());
    }
    // The last moment a bad snapshot can still be stopped: after this, the objects exist.
    let (sha256, recorded) = source.finish(expected)?;
    let etag = upload::multipart_etag(&in_flight.md5s);
    let made = Uploaded {
        size,
        parts: number,
        sha256,
        etag,
        single: false,
        recorded,
    };
    let InFlight { etags, failed, .. } = in_flight;
    let completes = lanes
        .0
        .iter()
        .zip(etags)
        .zip(failed)
        .map(|((lane, etags), failed)| {
            let made = made.clone();
            async move {
                if let Some(e) = failed {
                    return Err(e);
                }
                complete(lane, etags).await.map(|()| made)
            }
        });
    Ok(join_all(completes).await)
}

/// Completes one destination's upload from the ETags its parts got.
async fn complete(lane: &Lane, etags: Vec<Option<String>>) -> Result<(), Error> {
    let parts = etags
        .into_iter()
        .enumerate()
        .map(|(i, etag)| s3::serde_types::Part {
            part_number: i as u32 + 1,
            etag: etag.unwrap_or_default(),
        })
        .collect();
    let key = &lane.key;
    lane.client
        .call(
            &format!("complete the upload of {key}"),
            lane.client
                .fresh()
                .await?
                .complete_multipart_upload(key, &lane.upload_id, parts),
        )
        .await
        .map(|_| ())
}

/// An object that fits in one part: already read (and so verified) whole, sent with one PUT per
/// destination that carries the metadata, so there is no multipart upload to complete or abort.
async fn put_whole(
    dests: &[Dest<'_>],
    source: Source,
    buf: Vec<u8>,
    headers: Vec<HeaderMap>,
    expected: &Expected,
) -> Result<Outcomes, Error> {
    let (sha256, recorded) = source.finish(expected)?;
    let len = buf.len();
    let (buf, md5) = upload::md5_of(buf).await?;
    let body = Bytes::from(buf);
    let puts = dests.iter().zip(headers).map(|(d, h)| {
        let body = &body;
        async move {
            tracing::info!(key = %d.key, bucket = %d.client.bucket_name, bytes = len, "sending the snapshot as a single PUT");
            upload::put_bytes(d.client, d.key, Target::Object(h), body, md5).await
        }
    });
    let made = Uploaded {
        size: len as u64,
        parts: 1,
        sha256,
        etag: hex::encode(md5),
        single: true,
        recorded,
    };
    Ok(join_all(puts)
        .await
        .into_iter()
        .map(|r| r.map(|_| made.clone()))
        .collect())
}
