use super::*;

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000 + secs, 0).unwrap()
}

fn seg(first: i64, last: i64, closed: i64) -> SegmentName {
    SegmentName {
        first,
        last,
        closed_at: t(closed),
        compressed: true,
        encrypted: false,
    }
}

fn base(revision: i64, taken: i64) -> Base {
    Base {
        key: format!("b{revision}"),
        revision,
        taken_at: t(taken),
    }
}

#[test]
fn a_chain_starts_inside_the_segment_after_its_base_and_stops_at_a_hole() {
    let segs = ordered(vec![
        seg(101, 200, 20),
        seg(201, 300, 40),
        seg(351, 400, 60),
    ]);
    let chain = chain_of(&base(250, 30), &segs);
    assert_eq!(chain.segments, vec![seg(201, 300, 40)]);
    assert_eq!(chain.reaches(), 300);
    assert_eq!(gaps(&segs), vec![Gap { from: 301, to: 350 }]);
}

#[test]
fn duplicates_and_swallowed_ranges_are_dropped() {
    let segs = ordered(vec![
        seg(201, 300, 40),
        seg(101, 200, 20),
        seg(201, 300, 41),
        seg(210, 250, 42),
    ]);
    assert_eq!(segs, vec![seg(101, 200, 20), seg(201, 300, 40)]);
}

#[test]
fn resume_point_is_the_newest_of_segments_and_bases() {
    let segs = ordered(vec![seg(101, 200, 20)]);
    assert_eq!(resume_after(&[base(100, 0)], &segs), Some(200));
    assert_eq!(resume_after(&[base(500, 0)], &segs), Some(500));
    assert_eq!(resume_after(&[], &[]), None);
}

#[test]
fn revision_target_takes_the_newest_base_whose_chain_reaches_it() {
    let segs = ordered(vec![
        seg(101, 200, 20),
        seg(201, 300, 40),
        seg(301, 400, 60),
    ]);
    let bases = [base(100, 0), base(250, 30)];
    let chain = restore_chain(&bases, &segs, Target::Revision(320)).unwrap();
    assert_eq!(chain.base.revision, 250);
    assert_eq!(chain.segments, vec![seg(201, 300, 40), seg(301, 400, 60)]);
    // Exactly a base's revision needs no segment.
    let chain = restore_chain(&bases, &segs, Target::Revision(250)).unwrap();
    assert!(chain.segments.is_empty());
}

#[test]
fn an_older_base_is_used_when_the_newest_one_has_no_chain() {
    // The follower was down after base 250 was taken and its history reaches only 240 from base 100.
    let segs = ordered(vec![seg(101, 240, 20)]);
    let bases = [base(100, 0), base(250, 30)];
    let chain = restore_chain(&bases, &segs, Target::Revision(240)).unwrap();
    assert_eq!(chain.base.revision, 100);
}

#[test]
fn a_target_past_a_hole_names_the_missing_revisions() {
    let segs = ordered(vec![seg(101, 200, 20), seg(251, 300, 40)]);
    let err = restore_chain(&[base(100, 0)], &segs, Target::Revision(260)).unwrap_err();
    assert_eq!(
        err,
        PlanError::Short {
            target: 260,
            base: 100,
            reaches: 200,
            gap: Some(Gap { from: 201, to: 250 })
        }
    );
    assert!(err.to_string().contains("201..250"), "{err}");
}

#[test]
fn no_base_before_the_target_is_its_own_error() {
    let err = restore_chain(&[base(100, 50)], &[], Target::Time(t(10))).unwrap_err();
    assert!(matches!(err, PlanError::NoBase(_)), "{err}");
}

#[test]
fn time_target_ends_with_the_first_segment_closed_after_it() {
    let segs = ordered(vec![
        seg(101, 200, 20),
        seg(201, 300, 40),
        seg(301, 400, 60),
    ]);
    let chain = restore_chain(&[base(100, 0)], &segs, Target::Time(t(30))).unwrap();
    assert_eq!(chain.segments, vec![seg(101, 200, 20), seg(201, 300, 40)]);
}

#[test]
fn retention_drops_only_what_no_kept_chain_needs() {
    let segs = ordered(vec![
        seg(101, 200, 20),
        seg(201, 300, 40),
        seg(301, 400, 60),
    ]);
    assert_eq!(droppable(&[base(250, 30)], &segs), vec![seg(101, 200, 20)]);
    assert_eq!(droppable(&[base(300, 30), base(350, 50)], &segs).len(), 2);
    assert!(droppable(&[], &segs).is_empty());
}

#[test]
fn a_reach_names_the_gap_that_stops_its_chain() {
    let segs = ordered(vec![
        seg(101, 200, 20),
        seg(201, 300, 40),
        seg(351, 400, 60),
    ]);
    let cases = [
        // (base revision, segments, reaches, gap after)
        (100, 2, 300, Some(Gap { from: 301, to: 350 })),
        (250, 1, 300, Some(Gap { from: 301, to: 350 })),
        (360, 1, 400, None),
        (400, 0, 400, None),
        // A backup older than every segment: nothing continues it, and what exists starts later.
        (50, 0, 50, Some(Gap { from: 51, to: 100 })),
    ];
    for (revision, segments, reaches, gap_after) in cases {
        let r = reach(&base(revision, 0), &segs);
        assert_eq!(
            (r.segments, r.revision, r.gap_after),
            (segments, reaches, gap_after),
            "base r{revision}"
        );
        assert_eq!(r.at.is_some(), segments > 0, "base r{revision}");
    }
}
