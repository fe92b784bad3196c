//! A segment's plaintext: the etcd events of a contiguous run of revisions, in the order etcd committed
//! them, as a small self-checking binary format. The pipeline (zstd, age) and the SHA-256 in the object's
//! metadata sit around it exactly as around a full backup.
//!
//! Layout: the magic, then per event `kind u8, revision i64, create_revision i64, version i64, lease i64,
//! seen_at_ms i64, key_len u32, key, value_len u32, value`, little-endian. Fixed-width fields keep the
//! decoder a loop of bounds checks: nothing in a damaged segment can make it allocate more than the
//! segment's own size.

use std::fmt;

/// The first bytes of every segment; the last byte is the format version.
pub const MAGIC: &[u8; 12] = b"ETCDBAK-SEG\x01";
const FIXED: usize = 1 + 8 * 5 + 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Put,
    Delete,
}

/// One change to the keyspace, as the watch stream delivered it.
#[derive(Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: Kind,
    /// The revision of the transaction that made the change (the key's mod_revision for a put).
    pub revision: i64,
    pub create_revision: i64,
    pub version: i64,
    pub lease: i64,
    /// When the follower received the change (ms since the epoch): what `--to TIME` is resolved against.
    pub seen_at_ms: i64,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

// Keys and values are the cluster's data (Secrets among them): never printed.
impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("kind", &self.kind)
            .field("revision", &self.revision)
            .field("key_len", &self.key.len())
            .field("value_len", &self.value.len())
            .finish_non_exhaustive()
    }
}

impl Event {
    /// Bytes this event takes in a segment: what the size bound counts.
    pub fn encoded_len(&self) -> usize {
        FIXED + 4 + self.key.len() + self.value.len()
    }
}

/// Why a segment's plaintext is not a segment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("it does not start with the etcdbak segment header")]
    Magic,
    #[error("event {index} is cut short at byte {offset}")]
    Truncated { index: usize, offset: usize },
    #[error("event {index} has an unknown kind {kind}")]
    Kind { index: usize, kind: u8 },
    #[error("event {index} goes back in revision ({revision} after {previous})")]
    Order {
        index: usize,
        revision: i64,
        previous: i64,
    },
}

pub fn encode(events: &[Event]) -> Vec<u8> {
    let len = MAGIC.len() + events.iter().map(Event::encoded_len).sum::<usize>();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(MAGIC);
    for e in events {
        out.push(match e.kind {
            Kind::Put => 0,
            Kind::Delete => 1,
        });
        for n in [
            e.revision,
            e.create_revision,
            e.version,
            e.lease,
            e.seen_at_ms,
        ] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        for bytes in [&e.key, &e.value] {
            out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            out.extend_from_slice(bytes);
        }
    }
    out
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
    index: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(DecodeError::Truncated {
            index: self.index,
            offset: self.at,
        })?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn i64(&mut self) -> Result<i64, DecodeError> {
        let b = self.take(8)?;
        Ok(i64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    }

    fn blob(&mut self) -> Result<Vec<u8>, DecodeError> {
        let b = self.take(4)?;
        let n = u32::from_le_bytes(b.try_into().unwrap_or([0; 4])) as usize;
        Ok(self.take(n)?.to_vec())
    }

    fn event(&mut self) -> Result<Event, DecodeError> {
        let kind = match self.take(1)?[0] {
            0 => Kind::Put,
            1 => Kind::Delete,
            kind => {
                return Err(DecodeError::Kind {
                    index: self.index,
                    kind,
                })
            }
        };
        Ok(Event {
            kind,
            revision: self.i64()?,
            create_revision: self.i64()?,
            version: self.i64()?,
            lease: self.i64()?,
            seen_at_ms: self.i64()?,
            key: self.blob()?,
            value: self.blob()?,
        })
    }
}

/// The events of a segment, checked to be in commit order.
pub fn decode(bytes: &[u8]) -> Result<Vec<Event>, DecodeError> {
    let body = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or(DecodeError::Magic)?;
    let mut cursor = Cursor {
        bytes: body,
        at: 0,
        index: 0,
    };
    let mut events: Vec<Event> = Vec::new();
    while cursor.at < body.len() {
        let event = cursor.event()?;
        if let Some(previous) = events.last().map(|e| e.revision) {
            if event.revision < previous {
                return Err(DecodeError::Order {
                    index: cursor.index,
                    revision: event.revision,
                    previous,
                });
            }
        }
        events.push(event);
        cursor.index += 1;
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn put(revision: i64, key: &str, value: &str) -> Event {
        Event {
            kind: Kind::Put,
            revision,
            create_revision: revision,
            version: 1,
            lease: 0,
            seen_at_ms: 1_700_000_000_000 + revision,
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
        }
    }

    #[test]
    fn round_trips_puts_and_deletes() {
        let mut del = put(3, "a", "");
        del.kind = Kind::Delete;
        let events = vec![put(2, "a", "1"), put(2, "b", "2"), del, put(4, "a", "x")];
        let bytes = encode(&events);
        assert_eq!(decode(&bytes).unwrap(), events);
    }

    #[test]
    fn an_empty_segment_is_only_the_header() {
        assert_eq!(encode(&[]), MAGIC.to_vec());
        assert_eq!(decode(MAGIC).unwrap(), vec![]);
    }

    #[test]
    fn damage_is_named() {
        let bytes = encode(&[put(2, "a", "1")]);
        assert_eq!(decode(b"not a segment"), Err(DecodeError::Magic));
        assert!(matches!(
            decode(&bytes[..bytes.len() - 1]),
            Err(DecodeError::Truncated { index: 0, .. })
        ));
        let mut bad = bytes.clone();
        bad[MAGIC.len()] = 7;
        assert_eq!(decode(&bad), Err(DecodeError::Kind { index: 0, kind: 7 }));
        let backwards = encode(&[put(5, "a", "1"), put(4, "b", "2")]);
        assert!(matches!(
            decode(&backwards),
            Err(DecodeError::Order { index: 1, .. })
        ));
    }

    #[test]
    fn debug_never_shows_keys_or_values() {
        let text = format!("{:?}", put(2, "/registry/secrets/x", "hunter2"));
        assert!(
            !text.contains("hunter2") && !text.contains("registry"),
            "{text}"
        );
    }

    proptest! {
        #[test]
        fn any_truncation_is_an_error_never_a_panic(cut in 0usize..200) {
            let first = put(2, "key", "value");
            let bytes = encode(&[first.clone(), put(3, "k2", "v2")]);
            let cut = cut.min(bytes.len() - 1);
            // Cuts at an event boundary decode to fewer events: the recorded count and digest catch those.
            let boundary = cut == MAGIC.len() || cut == MAGIC.len() + first.encoded_len();
            prop_assert!(decode(&bytes[..cut]).is_err() || boundary);
        }
    }
}
