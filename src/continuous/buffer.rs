//! The open segment: events gathered since the last close, and when to close it, pure (the clock is
//! passed in). A segment closes `interval` after its first event or at the size bound, whichever comes
//! first, and only between watch responses, so the events of one revision never straddle two segments.

use std::time::{Duration, Instant};

use super::segment::Event;

#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub interval: Duration,
    pub max_bytes: usize,
}

#[derive(Default)]
pub struct OpenSegment {
    events: Vec<Event>,
    bytes: usize,
    opened: Option<Instant>,
}

impl OpenSegment {
    /// Adds one watch response's events.
    pub fn extend(&mut self, events: Vec<Event>, now: Instant) {
        if events.is_empty() {
            return;
        }
        self.opened.get_or_insert(now);
        self.bytes += events.iter().map(Event::encoded_len).sum::<usize>();
        self.events.extend(events);
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Whether to close now; an idle cluster's empty segment never closes, so nothing is written.
    pub fn due(&self, now: Instant, bounds: &Bounds) -> bool {
        match self.opened {
            None => false,
            Some(opened) => {
                self.bytes >= bounds.max_bytes || now.duration_since(opened) >= bounds.interval
            }
        }
    }

    /// When the open segment falls due by time, for the follower's timer.
    pub fn deadline(&self, bounds: &Bounds) -> Option<Instant> {
        self.opened.map(|o| o + bounds.interval)
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Empties the segment once the store has it.
    pub fn clear(&mut self) {
        *self = OpenSegment::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::continuous::segment::Kind;

    fn ev(revision: i64, value_len: usize) -> Event {
        Event {
            kind: Kind::Put,
            revision,
            create_revision: revision,
            version: 1,
            lease: 0,
            seen_at_ms: 0,
            key: b"k".to_vec(),
            value: vec![0; value_len],
        }
    }

    const BOUNDS: Bounds = Bounds {
        interval: Duration::from_secs(20),
        max_bytes: 1000,
    };

    #[test]
    fn an_idle_segment_never_falls_due() {
        let now = Instant::now();
        let mut open = OpenSegment::default();
        open.extend(vec![], now);
        assert!(!open.due(now + Duration::from_secs(3600), &BOUNDS));
        assert_eq!(open.deadline(&BOUNDS), None);
    }

    #[test]
    fn the_interval_counts_from_the_first_event() {
        let now = Instant::now();
        let mut open = OpenSegment::default();
        open.extend(vec![ev(2, 10)], now);
        open.extend(vec![ev(3, 10)], now + Duration::from_secs(15));
        assert!(!open.due(now + Duration::from_secs(19), &BOUNDS));
        assert!(open.due(now + Duration::from_secs(20), &BOUNDS));
        assert_eq!(open.deadline(&BOUNDS), Some(now + Duration::from_secs(20)));
    }

    #[test]
    fn the_size_bound_closes_early_and_clear_starts_over() {
        let now = Instant::now();
        let mut open = OpenSegment::default();
        open.extend(vec![ev(2, 2000)], now);
        assert!(open.due(now, &BOUNDS));
        assert_eq!(open.events().len(), 1);
        open.clear();
        assert!(open.is_empty() && !open.due(now + Duration::from_secs(60), &BOUNDS));
    }
}
