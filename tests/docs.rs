//! The docs name only flags and variables that exist, with the meaning and the defaults the code has. Every
//! `--flag` and `ETCDBAK_*` named in README.md, docs/*.md and charts/*/README.md is checked against the clap
//! definition itself (`etcdbak::cli::Cli::command()`, the same one `--help`, the man pages and the
//! completions come from): a flag written after `etcdbak SUBCOMMAND` must be that subcommand's, a variable
//! must be some flag's (or one of the few the credential chain and the test rigs read), and a default stated
//! next to a flag or variable must be its default.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use clap::CommandFactory;
use regex::Regex;

/// One flag of one command, as clap defines it.
#[derive(Debug, Clone)]
struct Flag {
    command: String,
    long: String,
    env: Option<String>,
    defaults: Vec<String>,
}

fn flags() -> Vec<Flag> {
    fn walk(cmd: &clap::Command, name: &str, out: &mut Vec<Flag>) {
        for arg in cmd.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if matches!(long, "help" | "version") {
                continue;
            }
            let longs = std::iter::once(long.to_string()).chain(
                arg.get_all_aliases()
                    .unwrap_or_default()
                    .into_iter()
                    .map(String::from),
            );
            for long in longs {
                out.push(Flag {
                    command: name.to_string(),
                    long: format!("--{long}"),
                    env: arg.get_env().map(|e| e.to_string_lossy().into_owned()),
                    defaults: arg
                        .get_default_values()
                        .iter()
                        .map(|v| v.to_string_lossy().into_owned())
                        .collect(),
                });
            }
        }
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(sub, sub.get_name(), out);
        }
    }
    let mut out = Vec::new();
    walk(&etcdbak::cli::Cli::command(), "", &mut out);
    out
}

/// Variables etcdbak reads that are no flag's: the credential chain's opt-in to instance metadata, and what
/// the benchmarks and test rigs read.
const NOT_FLAGS: [&str; 4] = [
    "ETCDBAK_IMDS",
    "ETCDBAK_BENCH_CLUSTERS",
    "ETCDBAK_BENCH_MANIFESTS",
    "ETCDBAK_RIG_BIN",
];

/// Flags of the other tools the docs show (kubectl, helm, etcd and its tools, cargo, the aws CLI, ctr,
/// Kubernetes' own binaries, python) and of the project's benchmark harnesses (benches/, examples/):
/// not etcdbak's, so not checked against it.
const FOREIGN: [&str; 54] = [
    // kubectl
    "--all-containers",
    "--field-selector",
    "--sort-by",
    "--type",
    "--from",
    "--from-literal",
    "--server-side",
    "--wait",
    "--overrides",
    "--for",
    "--timeout",
    "--replicas",
    "--restart",
    "--image",
    "-p",
    // helm
    "--set",
    "--create-namespace",
    "--include-crds",
    // etcd, etcdctl, etcdutl
    "--auto-compaction-retention",
    "--count-only",
    "--initial-advertise-peer-urls",
    "--initial-cluster",
    "--initial-cluster-state",
    "--initial-cluster-token",
    "--name",
    "--mark-compacted",
    "--rev",
    "--write-out",
    "--quota-backend-bytes",
    "--skip-hash-check",
    "--data-dir",
    "--bump-revision",
    // Kubernetes' binaries and the node
    "--feature-gates",
    "--runtime-config",
    "--kubelet-preferred-address-types",
    "--node-ip",
    // cargo, ctr, the aws CLI, python's http.server
    "--lib",
    "--test",
    "--nocapture",
    "--path",
    "--base-name",
    "--endpoint-url",
    "--bind",
    // the aws CLI's s3api and mc, for a locked bucket and its lifecycle rule (docs/OBJECT-LOCK.md)
    "--lifecycle-configuration",
    "--object-lock-enabled-for-bucket",
    "--version-id",
    "--with-lock",
    "--expire-days",
    "--expire-delete-marker",
    "--noncurrent-expire-days",
    // the benchmark harnesses
    "--clusters",
    "--manifests",
    "--no-controller",
    "--release",
];
const BENCH_FLAGS: [&str; 14] = [
    "--followers",
    "--no-data",
    "--window",
    "--no-continuous",
    "--out",
    "--with-2g",
    "--decode",
    "--emit",
    "--full",
    "--reader",
    "--reps",
    "--sha256",
    "--size",
    "--sizes",
];

fn doc_files() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = vec![root.join("README.md")];
    for dir in ["docs", "charts"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let candidate = match dir {
                "docs" => path.clone(),
                _ => path.join("README.md"),
            };
            if candidate.extension().is_some_and(|e| e == "md") && candidate.exists() {
                paths.push(candidate);
            }
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p.strip_prefix(root).unwrap().display().to_string(), text)
        })
        .collect()
}

fn subcommands() -> BTreeSet<String> {
    etcdbak::cli::Cli::command()
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect()
}

#[test]
fn every_flag_the_docs_name_exists() {
    let all = flags();
    let mut known: BTreeSet<&str> = all.iter().map(|f| f.long.as_str()).collect();
    known.extend(["--help", "--version"]);
    let flag = Regex::new(r"(?:^|[^\w-])(--[a-z][a-z0-9-]*[a-z0-9])").unwrap();
    let mut bad = Vec::new();
    for (file, text) in doc_files() {
        for c in flag.captures_iter(&text) {
            let f = &c[1];
            if !known.contains(f) && !FOREIGN.contains(&f) && !BENCH_FLAGS.contains(&f) {
                bad.push(format!("{file}: {f}"));
            }
        }
    }
    bad.sort();
    bad.dedup();
    assert!(
        bad.is_empty(),
        "flags the docs name that etcdbak does not have: {bad:#?}"
    );
}

/// `etcdbak SUB ... --flag` in one code span or code line: the flag is SUB's (or a global one).
#[test]
fn flags_after_a_subcommand_are_that_subcommands() {
    let all = flags();
    let mut of: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for f in &all {
        of.entry(f.command.as_str())
            .or_default()
            .insert(f.long.as_str());
    }
    let subs = subcommands();
    let span = Regex::new(r"`([^`\n]+)`|(?m)^\s*(?:\$ )?(etcdbak [^\n]+)$").unwrap();
    let invocation = Regex::new(r"etcdbak ([a-z0-9-]+)((?:\s+[^|;&#]*)?)").unwrap();
    let flag = Regex::new(r"(?:^|\s)(--[a-z][a-z0-9-]*[a-z0-9])").unwrap();
    let mut bad = Vec::new();
    let mut checked = 0;
    for (file, text) in doc_files() {
        // A shell command continued over lines is one command.
        let text = text.replace("\\\n", " ");
        for s in span.captures_iter(&text) {
            let code = s.get(1).or(s.get(2)).unwrap().as_str();
            for inv in invocation.captures_iter(code) {
                let sub = &inv[1];
                if !subs.contains(sub) {
                    continue;
                }
                for f in flag.captures_iter(&inv[2]) {
                    let f = f.get(1).unwrap().as_str();
                    checked += 1;
                    let own = of.get(sub).is_some_and(|s| s.contains(f));
                    let global = of.get("").is_some_and(|s| s.contains(f));
                    if !own && !global {
                        bad.push(format!("{file}: etcdbak {sub} has no {f} (in `{code}`)"));
                    }
                }
            }
        }
    }
    assert!(
        checked > 30,
        "only {checked} subcommand flags found: the reader is broken"
    );
    bad.sort();
    bad.dedup();
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn every_etcdbak_variable_the_docs_name_is_read() {
    let envs: BTreeSet<String> = flags().into_iter().filter_map(|f| f.env).collect();
    let var = Regex::new(r"ETCDBAK_[A-Z0-9_]*").unwrap();
    let mut bad = Vec::new();
    for (file, text) in doc_files() {
        for m in var.find_iter(&text) {
            let v = m.as_str();
            let ok = if v.ends_with('_') {
                // A family such as ETCDBAK_S3_* or ETCDBAK_KEEP_*.
                envs.iter().any(|e| e.starts_with(v))
            } else {
                envs.contains(v) || NOT_FLAGS.contains(&v)
            };
            if !ok {
                bad.push(format!("{file}: {v}"));
            }
        }
    }
    bad.sort();
    bad.dedup();
    assert!(
        bad.is_empty(),
        "variables the docs name that etcdbak does not read: {bad:#?}"
    );
}

/// One name, one meaning: a variable shared by several commands is the same flag in each.
#[test]
fn a_variable_means_the_same_flag_everywhere() {
    let mut by_env: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in flags() {
        if let Some(env) = f.env {
            by_env.entry(env).or_default().insert(f.long);
        }
    }
    let mixed: Vec<_> = by_env.iter().filter(|(_, longs)| longs.len() > 1).collect();
    assert!(
        mixed.is_empty(),
        "a variable stands for different flags: {mixed:?}"
    );
}

/// README says which flags have no variable; that list is exactly the flags without one.
#[test]
fn the_flags_without_a_variable_are_the_ones_the_readme_lists() {
    let readme = doc_files()
        .into_iter()
        .find(|(f, _)| f == "README.md")
        .unwrap()
        .1;
    let sentence = readme
        .split("flags only:")
        .nth(1)
        .and_then(|rest| rest.split('.').next())
        .expect("README lists the flags without a variable after `flags only:`");
    let listed: BTreeSet<String> = Regex::new(r"`(--[a-z0-9-]+)`")
        .unwrap()
        .captures_iter(sentence)
        .map(|c| c[1].to_string())
        .collect();
    let without: BTreeSet<String> = flags()
        .into_iter()
        .filter(|f| f.env.is_none() && f.command != "generate-assets")
        .map(|f| f.long)
        .collect();
    assert_eq!(listed, without);
}

/// "`--flag ...` (`ETCDBAK_X`, default V)", "default `--flag V`", "`ETCDBAK_X` (default V)", "`--flag`
/// (default V)", "`--flag` defaults to V": V is the code's default.
#[test]
fn defaults_the_docs_state_are_the_codes() {
    let all = flags();
    let by_long = |l: &str| all.iter().filter(|f| f.long == l).collect::<Vec<&Flag>>();
    let by_env = |e: &str| {
        all.iter()
            .filter(|f| f.env.as_deref() == Some(e))
            .collect::<Vec<&Flag>>()
    };
    let patterns = [
        Regex::new(
            r"`(--[a-z0-9-]+)[^`]*`\s*\(`(ETCDBAK_[A-Z0-9_]+)`, default `?([A-Za-z0-9:./]+)",
        )
        .unwrap(),
        Regex::new(r"default `(--[a-z0-9-]+) ([^`\s]+)`").unwrap(),
        Regex::new(r"`(ETCDBAK_[A-Z0-9_]+)`,? \(?default `?([A-Za-z0-9:./]+)").unwrap(),
        // "`--flag` (default V)", "`--flag` (`ETCDBAK_X`) defaults to V", "`--flag` now defaults to V".
        Regex::new(r"`(--[a-z0-9-]+)`\s*\(default `?([A-Za-z0-9:./]+)").unwrap(),
        Regex::new(r"`(--[a-z0-9-]+)`(?:\s*\(`ETCDBAK_[A-Z0-9_]+`\))?\s+(?:now\s+)?defaults\s+to\s+`?([A-Za-z0-9:./]+)")
            .unwrap(),
    ];
    let mut checked = Vec::new();
    let mut bad = Vec::new();
    for (file, text) in doc_files() {
        for (i, re) in patterns.iter().enumerate() {
            for c in re.captures_iter(&text) {
                let (name, value) = match i {
                    0 => (c[2].to_string(), c[3].to_string()),
                    _ => (c[1].to_string(), c[2].to_string()),
                };
                let value = value.trim_end_matches(['.', ')']).to_string();
                let candidates: Vec<&Flag> = match name.starts_with("--") {
                    true => by_long(&name),
                    false => by_env(&name),
                };
                if candidates.is_empty() {
                    bad.push(format!("{file}: {name} (default {value}) is no flag"));
                    continue;
                }
                checked.push(format!("{name}={value}"));
                for f in candidates {
                    if !f.defaults.is_empty() && !f.defaults.contains(&value) {
                        bad.push(format!(
                            "{file}: {name} of `etcdbak {}` defaults to {:?}, the docs say {value}",
                            f.command, f.defaults
                        ));
                    }
                }
            }
        }
    }
    eprintln!("defaults checked: {checked:?}");
    assert!(
        checked.len() >= 3,
        "too few stated defaults found: {checked:?}"
    );
    assert!(bad.is_empty(), "{bad:#?}");
}

/// Every Prometheus series the docs name (`etcdbak_*` from `etcdbak watch`, `s3_*` from `etcdbak
/// s3-exporter`) is one the code exports, under that name.
#[test]
fn every_metric_the_docs_name_is_exported() {
    use etcdbak::exporter::metrics::{render_clusters, Listing};
    use etcdbak::metrics::{ContinuousState, Metrics};
    let m = Metrics::new();
    m.reconciled(0.1, Some("KubeApi"));
    m.set_leader(true);
    m.update_cluster("a", |s| {
        s.cronjob_present = true;
        s.backup_interval_seconds = Some(1200.0);
        s.deletion_timestamp_seconds = Some(1.0);
        s.last_success_seconds = Some(1.0);
        s.backup_job_seconds = Some(1.0);
        s.verification_failing = Some(false);
        s.last_verified_seconds = Some(1.0);
        s.continuous = Some(ContinuousState {
            recovery_point_seconds: Some(1.0),
            ..Default::default()
        });
    });
    let obj = |name: &str, hour: u32| etcdbak::s3::ListedObject {
        key: format!("etcd/a/{name}"),
        last_modified: chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 1, 1, hour, 0, 0)
            .unwrap(),
        size: 10,
    };
    let newest = obj("20260101T010000.000Z-r2-4567cdef.db", 1);
    let listing = Listing {
        bucket: "b".into(),
        prefix: "etcd".into(),
        duration: std::time::Duration::from_millis(1),
        objects: Some(vec![
            obj("20260101T000000.000Z-r1-0123abcd.db", 0),
            newest.clone(),
        ]),
    };
    let plain = std::collections::BTreeMap::from([(newest.key, 100)]);
    let exposition = format!(
        "{}{}",
        m.encode_prometheus(),
        render_clusters(&listing, &plain)
    );
    let exported = |name: &str| {
        exposition.lines().any(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
                || l.starts_with(&format!("# TYPE {name} "))
        })
    };
    let re = regex::Regex::new(r"\b(?:etcdbak|s3)_[a-z0-9_]*[a-z0-9]\b").unwrap();
    let mut missing = BTreeSet::new();
    for (file, text) in doc_files() {
        for name in re.find_iter(&text).map(|m| m.as_str()) {
            // The upstream exporter's name, and insta snapshot file names.
            if name == "s3_exporter" || name.contains("__") {
                continue;
            }
            if !exported(name) {
                missing.insert(format!("{file}: {name}"));
            }
        }
    }
    assert!(missing.is_empty(), "named but not exported: {missing:#?}");
}

/// The scalar a chart README's default cell states, or `None` for a description (`see values.yaml`,
/// `release namespace`, `<fullname>-backup`, `appVersion`).
fn stated_default(cell: &str) -> Option<serde_yaml::Value> {
    let cell = cell.trim().trim_matches('`');
    match cell {
        "[]" => return Some(serde_yaml::Value::Sequence(Vec::new())),
        "{}" => return Some(serde_yaml::Value::Mapping(Default::default())),
        "\"\"" => return Some(serde_yaml::Value::String(String::new())),
        _ => {}
    }
    let literal = Regex::new(r"^[A-Za-z0-9:./_-]+$").unwrap();
    if !literal.is_match(cell)
        || cell.contains("namespace")
        || ["disabled", "appVersion"].contains(&cell)
    {
        return None;
    }
    serde_yaml::from_str(cell).ok()
}

/// The chart README's values table says what values.yaml says: each row's keys (`a.b` / `.c`, the second
/// under the first's parent) and its defaults, cell by cell, where the cell states a value.
#[test]
fn the_chart_readmes_defaults_are_the_values_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let parenthetical = Regex::new(r"\s*\([^)]*\)").unwrap();
    let mut checked = Vec::new();
    let mut bad = Vec::new();
    for chart in ["etcdbak", "s3-exporter", "minio"] {
        let Ok(readme) = std::fs::read_to_string(root.join(format!("charts/{chart}/README.md")))
        else {
            continue;
        };
        let values: serde_yaml::Value = serde_yaml::from_str(
            &std::fs::read_to_string(root.join(format!("charts/{chart}/values.yaml"))).unwrap(),
        )
        .unwrap();
        for row in readme.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = row.trim_matches('|').split('|').collect();
            let [keys, defaults, ..] = cells[..] else {
                continue;
            };
            let keys: Vec<&str> = keys
                .split(" / ")
                .map(|k| k.trim().trim_matches('`'))
                .collect();
            let defaults = parenthetical.replace_all(defaults, "");
            let defaults: Vec<&str> = defaults.split(" / ").collect();
            if keys.len() != defaults.len() || keys.iter().any(|k| k.contains([',', '*', ' '])) {
                continue;
            }
            let parent = keys[0].rsplit_once('.').map_or("", |(p, _)| p);
            for (key, cell) in keys.iter().zip(&defaults) {
                let Some(want) = stated_default(cell) else {
                    continue;
                };
                let full = match key.strip_prefix('.') {
                    Some(leaf) if parent.is_empty() => leaf.to_string(),
                    Some(leaf) => format!("{parent}.{leaf}"),
                    None => key.to_string(),
                };
                let got = full.split('.').try_fold(&values, |v, k| v.get(k));
                checked.push(format!("{chart}: {full}"));
                match got {
                    Some(got) if *got == want => {}
                    // A number or word the YAML spells as a string (a tag, a duration) is the same value.
                    Some(serde_yaml::Value::String(s))
                        if serde_yaml::to_string(&want).is_ok_and(|w| w.trim() == s) => {}
                    other => bad.push(format!(
                        "{chart}: {full}: README says {want:?}, values.yaml {other:?}"
                    )),
                }
            }
        }
    }
    eprintln!("chart defaults checked: {checked:?}");
    assert!(
        checked.len() >= 10,
        "too few chart defaults found: {checked:?}"
    );
    assert!(bad.is_empty(), "{bad:#?}");
}

/// Every repository path the docs cite (`src/...`, `tests/...`, `charts/...`, ...) exists: a moved file
/// leaves no dangling reference.
#[test]
fn every_path_the_docs_cite_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let re = Regex::new(
        r"\b((?:src|tests|charts|docs|examples|monitoring|scripts|benches|fuzz|man|completions)/[A-Za-z0-9_./-]*[A-Za-z0-9_])",
    )
    .unwrap();
    let mut docs = doc_files();
    docs.push((
        "ARCHITECTURE.md".into(),
        std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap(),
    ));
    let mut missing = BTreeSet::new();
    let mut checked = 0;
    for (file, text) in docs {
        for c in re.captures_iter(&text) {
            let cited = &c[1];
            checked += 1;
            // A file-name prefix before a glob (`snapshots/etcdbak__template__tests__*.snap`) names files.
            let (dir, stem) = cited.rsplit_once('/').unwrap_or(("", cited));
            let prefix_of_a_file = text[c.get(1).unwrap().end()..].starts_with('*')
                && std::fs::read_dir(root.join(dir)).is_ok_and(|mut d| {
                    d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with(stem)))
                });
            if !root.join(cited).exists() && !prefix_of_a_file {
                missing.insert(format!("{file}: {cited}"));
            }
        }
    }
    assert!(checked > 50, "only {checked} paths found");
    assert!(missing.is_empty(), "cited but absent: {missing:#?}");
}

/// No command in the docs names the bare resource `clusters` (Cluster API's and CloudNativePG's
/// Clusters answer to it too): always `clusters.etcdbak.io`.
#[test]
fn commands_name_clusters_by_their_full_resource_name() {
    let re = Regex::new(
        r"kubectl\b[^\n`|]*?\s(?:get|describe|edit|delete|patch|wait|annotate|label|apply)\s+(?:-\S+\s+)*(clusters?)(?:/|\s|$|`)",
    )
    .unwrap();
    let mut bare = Vec::new();
    for (file, text) in doc_files() {
        for line in text.lines() {
            if re.is_match(line) {
                bare.push(format!("{file}: {}", line.trim()));
            }
        }
    }
    assert!(bare.is_empty(), "say clusters.etcdbak.io: {bare:#?}");
}

/// The controller config table of docs/CONTRACT.md (§5) states the defaults a config file gets: each cell
/// that is a literal (`zstd:1`, `3` / `3`, `true`, `H 4 * * *`) or `unset` is what a file that sets only the
/// required keys loads as.
#[test]
fn the_config_defaults_the_contract_states_are_the_codes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let contract = std::fs::read_to_string(root.join("docs/CONTRACT.md")).unwrap();
    let section = contract
        .split("## 5. The controller config file")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("CONTRACT §5");
    // What a config file that sets only what is required (s3.bucket, s3.endpoint) ends up with.
    let minimal = "s3: {endpoint: 'http://minio:9000', bucket: b}\n";
    let config = etcdbak::config::Config::from_yaml(minimal, None).expect("the minimal config");
    let defaults = serde_json::to_value(config).unwrap();
    let code = Regex::new(r"`([^`]*)`").unwrap();
    let (mut checked, mut bad) = (Vec::new(), Vec::new());
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let [keys, stated, ..] = cells[..] else {
            continue;
        };
        let keys: Vec<String> = code.captures_iter(keys).map(|c| c[1].to_string()).collect();
        let values: Vec<Option<String>> = if stated.starts_with("unset") {
            vec![None; keys.len()]
        } else if stated
            .chars()
            .all(|c| c == '`' || c == ',' || c == '/' || c == ' ')
            || !stated.starts_with('`')
        {
            continue;
        } else {
            code.captures_iter(stated)
                .map(|c| Some(c[1].to_string()))
                .collect()
        };
        // Only rows whose cell is nothing but the literals, one per key.
        let rest = code.replace_all(stated, "");
        if values.len() != keys.len()
            || (!stated.starts_with("unset") && !rest.chars().all(|c| ", /".contains(c)))
        {
            continue;
        }
        let parent = keys[0].rsplit_once('.').map_or("", |(p, _)| p).to_string();
        for (key, want) in keys.iter().zip(values) {
            let leaf = key.trim_start_matches('.');
            let full = match (
                key.contains('.') && !key.starts_with('.'),
                parent.is_empty(),
            ) {
                (true, _) | (false, true) => leaf.to_string(),
                (false, false) => format!("{parent}.{leaf}"),
            };
            let set_here = ["s3.endpoint", "s3.bucket"].contains(&full.as_str());
            if set_here
                || full.contains(['[', '<', ' '])
                || want.as_deref().is_some_and(|w| w.contains('<'))
            {
                continue;
            }
            let got = full.split('.').try_fold(&defaults, |v, k| v.get(k));
            // An empty list or map is unset too.
            let empty = |v: &serde_json::Value| {
                v.is_null()
                    || v.as_array().is_some_and(|a| a.is_empty())
                    || v.as_object().is_some_and(|o| o.is_empty())
            };
            let got_text = got
                .filter(|v| !empty(v) || want.as_deref().is_some_and(|w| w == "[]" || w == "{}"))
                .map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
            checked.push(full.clone());
            if got_text != want {
                bad.push(format!(
                    "{full}: CONTRACT says {want:?}, the code {got_text:?}"
                ));
            }
        }
    }
    eprintln!("config defaults checked: {checked:?}");
    assert!(
        checked.len() >= 15,
        "too few config defaults found: {checked:?}"
    );
    assert!(bad.is_empty(), "{bad:#?}");
}
