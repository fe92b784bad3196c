//! snapshot.json parsing as `store` runs it: never panics, and every metadata `store` accepts yields an
//! object name that `list`/`prune` recognise as a backup (otherwise the upload would be invisible to
//! retention and to the restore guide).
#![no_main]

use etcdbak::backup::ObjectName;
use etcdbak::s3::meta::encode as metadata_pairs;
use etcdbak::store::parse_metadata;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(meta) = parse_metadata(text) else {
        return;
    };
    let name = meta.object_name();
    let printed = name.to_string();
    assert_eq!(
        ObjectName::parse(&printed),
        Some(name),
        "accepted metadata produced the object name {printed:?}, which list/prune would not recognise"
    );
    let _ = metadata_pairs(&meta, &meta.cluster);
});
