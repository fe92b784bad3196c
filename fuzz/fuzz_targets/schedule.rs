//! Cron/`H` expansion: never panics; an accepted schedule expands to a fixed point (expanding it again for
//! the same cluster changes nothing) whose longest gap between runs can be computed.
#![no_main]

use etcdbak::schedule::{expand, max_interval};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first line is the cluster name, the rest the schedule.
    let (cluster, schedule) = text.split_once('\n').unwrap_or(("demo", text));
    let Ok(expanded) = expand(schedule, cluster) else {
        return;
    };
    assert_eq!(
        expand(&expanded, cluster).as_deref(),
        Ok(expanded.as_str()),
        "expanding an expanded schedule must not change it"
    );
    let gap = max_interval(&expanded);
    assert!(
        matches!(gap, Ok(d) if !d.is_zero()),
        "accepted schedule {expanded:?} has no computable interval: {gap:?}"
    );
});
