//! Object-name and key parsing: never panics, and whatever parses prints back to exactly the input (a name
//! that parsed but printed differently could be pruned as someone else's backup).
#![no_main]

use etcdbak::naming::{object_key, parse_key, ObjectName};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(name) = ObjectName::parse(text) {
        assert_eq!(name.to_string(), text, "a parsed name must print back unchanged");
        assert_eq!(ObjectName::parse(&name.to_string()), Some(name));
    }
    // The first line is a prefix, the rest a key: the shape `list` and `prune` see.
    let (prefix, key) = text.split_once('\n').unwrap_or(("etcdbak", text));
    if let Some((cluster, name)) = parse_key(prefix, key) {
        assert_eq!(
            object_key(prefix, &cluster, &name),
            key,
            "a parsed key must rebuild to itself"
        );
    }
});
