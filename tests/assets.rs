//! The shipped completions and man pages must be what the clap definition generates today.
//! Regenerate with `cargo run -- generate-assets`.

#[test]
fn completions_and_man_pages_match_the_cli() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let assets = etcdbak::cli::assets::all().expect("assets render");
    assert!(assets.len() >= 4, "expected completions and man pages");
    let mut stale = Vec::new();
    for (path, want) in assets {
        let have = std::fs::read(root.join(&path)).unwrap_or_default();
        if have != want {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "out of date: {stale:?}; run `cargo run -- generate-assets` and commit"
    );
}
