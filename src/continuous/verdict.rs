//! Whether a segment's events are what its name and metadata promise, pure. etcd gives every write
//! transaction the next revision and every such transaction at least one event, so a segment's events run
//! from its first revision to its last without skipping one: a skipped revision is a lost change.

use super::segment::Event;
use crate::naming::segment::SegmentName;

pub fn check_segment(name: &SegmentName, count: usize, events: &[Event]) -> Result<(), String> {
    if events.len() != count {
        return Err(format!(
            "it holds {} events where its metadata records {count}",
            events.len()
        ));
    }
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return Err("it holds no events".into());
    };
    if first.revision != name.first || last.revision != name.last {
        return Err(format!(
            "its events run from revision {} to {}, its name says {} to {}",
            first.revision, last.revision, name.first, name.last
        ));
    }
    if let Some(w) = events
        .windows(2)
        .find(|w| w[1].revision > w[0].revision + 1)
    {
        return Err(format!(
            "revisions {}..{} are missing inside it",
            w[0].revision + 1,
            w[1].revision - 1
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::continuous::segment::Kind;

    fn ev(revision: i64) -> Event {
        Event {
            kind: Kind::Put,
            revision,
            create_revision: revision,
            version: 1,
            lease: 0,
            seen_at_ms: 0,
            key: b"k".to_vec(),
            value: b"v".to_vec(),
        }
    }

    fn name(first: i64, last: i64) -> SegmentName {
        SegmentName {
            first,
            last,
            closed_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            compressed: false,
            encrypted: false,
        }
    }

    #[test]
    fn a_whole_segment_passes_with_several_events_per_revision() {
        let events = [ev(5), ev(5), ev(6), ev(7)];
        assert_eq!(check_segment(&name(5, 7), 4, &events), Ok(()));
    }

    #[test]
    fn each_broken_promise_is_named() {
        let events = [ev(5), ev(6), ev(8)];
        let cases = [
            (name(5, 8), 2, "metadata records 2"),
            (name(4, 8), 3, "name says 4 to 8"),
            (name(5, 8), 3, "revisions 7..7 are missing"),
        ];
        for (n, count, want) in cases {
            let err = check_segment(&n, count, &events).unwrap_err();
            assert!(err.contains(want), "{err}");
        }
        assert!(check_segment(&name(5, 5), 0, &[]).is_err());
    }
}
