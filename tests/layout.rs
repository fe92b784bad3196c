//! The layout rules ARCHITECTURE.md promises, checked on the source itself so they cannot quietly erode:
//! the library never sees flags, files and functions stay short enough to read at once, and the module
//! graph has no cycle. The source is rustfmt-formatted (scripts/test checks), which is what makes the
//! line-based reading below exact enough: a function's closing brace sits at its own indentation.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const MAX_FILE_LINES: usize = 700;
const MAX_FN_LINES: usize = 80;
/// Test and bench files: a suite grows by modules (tests/controller/, tests/store/, ...), not by length.
const MAX_TEST_FILE_LINES: usize = 800;

struct Source {
    /// Path relative to the crate root, e.g. `src/store/upload.rs`.
    path: String,
    text: String,
}

fn sources() -> Vec<Source> {
    rust_files_under(&["src"])
}

/// Every `.rs` file under the crate-relative `dirs`, sorted by path.
fn rust_files_under(dirs: &[&str]) -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    let mut stack: Vec<_> = dirs.iter().map(|d| root.join(d)).collect();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("reading a source dir") {
            let path = entry.expect("a dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("reading a source file");
                let rel = path.strip_prefix(root).expect("under the root");
                out.push(Source {
                    path: rel.to_string_lossy().replace('\\', "/"),
                    text,
                });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Lines of the file outside `#[cfg(test)]` items (test modules may be long tables).
fn non_test_lines(text: &str) -> Vec<(usize, &str)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() == "#[cfg(test)]" {
            let indent = indentation(lines.get(i + 1).copied().unwrap_or(""));
            i = end_of_item(&lines, i + 1, indent) + 1;
            continue;
        }
        out.push((i + 1, lines[i]));
        i += 1;
    }
    out
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The index of the line that closes the item starting at `start` (a line at `indent` starting with `}`),
/// or `start` itself for an item that ends on its own line.
fn end_of_item(lines: &[&str], start: usize, indent: usize) -> usize {
    let first = lines.get(start).copied().unwrap_or("");
    if first.trim_end().ends_with(';') || first.trim_end().ends_with('}') {
        return start;
    }
    for (j, line) in lines.iter().enumerate().skip(start + 1) {
        if indentation(line) == indent && line.trim_start().starts_with('}') {
            return j;
        }
    }
    lines.len().saturating_sub(1)
}

fn is_fn_line(line: &str) -> bool {
    let t = line.trim_start();
    let t = t
        .strip_prefix("pub(crate) ")
        .or_else(|| t.strip_prefix("pub(super) "))
        .or_else(|| t.strip_prefix("pub "))
        .unwrap_or(t);
    let t = t.strip_prefix("const ").unwrap_or(t);
    let t = t.strip_prefix("async ").unwrap_or(t);
    t.starts_with("fn ")
}

/// (path, line, name, length) of every non-test function longer than the limit.
fn long_functions(src: &Source) -> Vec<(String, usize, String, usize)> {
    let kept = non_test_lines(&src.text);
    let lines: Vec<&str> = kept.iter().map(|(_, l)| *l).collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !is_fn_line(line) {
            continue;
        }
        // The signature may wrap; the body opens on the first line ending in `{`.
        let Some(open) = (i..lines.len()).find(|&j| lines[j].trim_end().ends_with('{')) else {
            continue;
        };
        if lines[i..open].iter().any(|l| l.trim_end().ends_with(';')) {
            continue; // a trait method declaration without a body
        }
        let end = end_of_item(&lines, open, indentation(line));
        let len = end - i + 1;
        if len > MAX_FN_LINES {
            let name = line
                .split("fn ")
                .nth(1)
                .and_then(|r| r.split(['(', '<']).next())
                .unwrap_or("?")
                .to_string();
            out.push((src.path.clone(), kept[i].0, name, len));
        }
    }
    out
}

#[test]
fn no_source_file_is_over_the_limit() {
    let long: Vec<String> = sources()
        .iter()
        .filter(|s| s.text.lines().count() > MAX_FILE_LINES)
        .map(|s| format!("{} ({} lines)", s.path, s.text.lines().count()))
        .collect();
    assert!(
        long.is_empty(),
        "files over {MAX_FILE_LINES} lines (split them by concern, tables into sibling test files): {long:?}"
    );
}

#[test]
fn no_test_file_is_over_its_limit() {
    let files = rust_files_under(&["tests", "benches", "examples"]);
    assert!(
        files.iter().any(|f| f.path == "tests/layout.rs"),
        "the walk found the tests"
    );
    let long: Vec<String> = files
        .iter()
        .filter(|s| s.text.lines().count() > MAX_TEST_FILE_LINES)
        .map(|s| format!("{} ({} lines)", s.path, s.text.lines().count()))
        .collect();
    assert!(
        long.is_empty(),
        "test files over {MAX_TEST_FILE_LINES} lines (split the suite into modules by behaviour, shared \
         helpers into tests/common/): {long:?}"
    );
}

#[test]
fn no_function_is_over_the_limit() {
    let long: Vec<String> = sources()
        .iter()
        .flat_map(long_functions)
        .map(|(p, l, n, len)| format!("{p}:{l} {n} ({len} lines)"))
        .collect();
    assert!(
        long.is_empty(),
        "non-test functions over {MAX_FN_LINES} lines: {long:?}"
    );
}

#[test]
fn only_the_command_line_sees_clap() {
    let leaks: Vec<String> = sources()
        .iter()
        .filter(|s| !s.path.starts_with("src/cli/") && s.path != "src/main.rs")
        .flat_map(|s| {
            non_test_lines(&s.text)
                .into_iter()
                .filter(|(_, l)| l.contains("clap::") || l.contains("clap_"))
                .map(|(n, _)| format!("{}:{n}", s.path))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        leaks.is_empty(),
        "clap outside src/cli/ (domain modules take plain config structs): {leaks:?}"
    );
}

/// What only the command line may do: print, prompt, read the environment. The library takes what it needs
/// as options and returns what happened as a report, so every command has one shape and the library can be
/// called (and tested) without a terminal or a particular environment.
const COMMAND_LINE_ONLY: [&str; 7] = [
    "println!",
    "eprintln!",
    "print!(",
    "eprint!(",
    "env::var",
    "var_os",
    "dialoguer",
];

/// `file:line` of every non-comment line (test code included) that uses one of [`COMMAND_LINE_ONLY`].
fn command_line_only_uses(src: &Source) -> Vec<String> {
    src.text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .filter(|(_, l)| COMMAND_LINE_ONLY.iter().any(|p| l.contains(p)))
        .map(|(n, _)| format!("{}:{}", src.path, n + 1))
        .collect()
}

#[test]
fn only_the_command_line_prints_prompts_or_reads_the_environment() {
    let leaks: Vec<String> = sources()
        .iter()
        .filter(|s| !s.path.starts_with("src/cli/") && s.path != "src/main.rs")
        .flat_map(command_line_only_uses)
        .collect();
    assert!(
        leaks.is_empty(),
        "printing, prompting or reading the environment outside src/cli/ (take it as an option, return \
         a report for cli/ to render): {leaks:?}"
    );
}

#[test]
fn the_checker_sees_printing_and_environment_reads_but_not_comments() {
    let src = Source {
        path: "src/x.rs".into(),
        text: [
            "/// Never println! here.",
            "fn a() {",
            "    // std::env::var(\"X\") was here",
            "    let h = std::env::var_os(\"HOME\");",
            "    eprintln!(\"{h:?}\");",
            "    let _ = dialoguer::Select::new();",
            "    print!(\"x\");",
            "}",
        ]
        .join("\n"),
    };
    let found = command_line_only_uses(&src);
    assert_eq!(
        found,
        ["src/x.rs:4", "src/x.rs:5", "src/x.rs:6", "src/x.rs:7"],
        "{found:?}"
    );
}

/// How a message tells the user to change a flag: the library names an `exit::Setting` instead, and only
/// `cli/settings.rs` spells it (so a renamed flag cannot leave a stale hint behind).
const FLAG_HINTS: &[&str] = &[
    "check --",
    "pass --",
    "fix --",
    "set --",
    "see --",
    "another --",
    "unset --",
    "needs --",
    "with --",
    "and --",
    "drop --",
    "(--",
];

/// `file:line` of every non-test line that spells a flag as advice.
fn flag_hints(src: &Source) -> Vec<String> {
    non_test_lines(&src.text)
        .into_iter()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .filter(|(_, l)| {
            FLAG_HINTS.iter().any(|h| {
                l.match_indices(h)
                    .any(|(i, _)| flag_follows(l, i + h.len()))
            })
        })
        .map(|(n, _)| format!("{}:{n}", src.path))
        .collect()
}

fn flag_follows(line: &str, at: usize) -> bool {
    line[at..].starts_with(|c: char| c.is_ascii_lowercase())
}

#[test]
fn only_the_command_line_spells_flags_in_its_advice() {
    let found: Vec<String> = sources()
        .iter()
        .filter(|s| !s.path.starts_with("src/cli/") && s.path != "src/main.rs")
        .flat_map(flag_hints)
        .collect();
    assert!(
        found.is_empty(),
        "a library message spells a flag (name it with crate::exit::Setting; cli/settings.rs renders it): \
         {found:?}"
    );
}

#[test]
fn the_flag_checker_sees_advice_but_not_tests_or_comments() {
    let src = Source {
        path: "src/x.rs".into(),
        text: [
            "// check --cacert in a comment",
            "const A: &str = \"check --cacert\";",
            "const B: &str = \"kubectl wait --for=delete\";",
            "const C: &str = \"fix {}\";",
            "#[cfg(test)]",
            "mod tests {",
            "    const D: &str = \"pass --cert\";",
            "}",
        ]
        .join("\n"),
    };
    assert_eq!(flag_hints(&src), ["src/x.rs:2"]);
}

/// The top-level module a file belongs to: `src/store/upload.rs` -> `store`, `src/lib.rs` -> None.
fn top_module(path: &str) -> Option<String> {
    let rest = path.strip_prefix("src/")?;
    let first = rest.split('/').next()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib" && name != "main").then(|| name.to_string())
}

/// The module a `crate::NAME` path points into, seen from module `from`. The crate-root re-exports of the
/// command line's `Error`/`Result` are imports of `cli`, however they are spelled.
fn module_named(name: &str, from: &str) -> Option<String> {
    let module = match name {
        "Error" | "Result" => "cli",
        n if n.chars().next().is_some_and(|c| c.is_lowercase()) => n,
        _ => return None,
    };
    (module != from).then(|| module.to_string())
}

/// Edges top-level module -> top-level module, read from `crate::NAME` paths outside comments.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for src in sources() {
        let Some(from) = top_module(&src.path) else {
            continue;
        };
        let edges = graph.entry(from.clone()).or_default();
        for (_, line) in non_test_lines(&src.text) {
            let code = line.split("//").next().unwrap_or("");
            for part in code.split("crate::").skip(1) {
                let name: String = part
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                edges.extend(module_named(&name, &from));
            }
            // `use crate::{a, b::c}` names several modules at once.
            if let Some(group) = code.split("use crate::{").nth(1) {
                for item in group.split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    edges.extend(module_named(&name, &from));
                }
            }
        }
    }
    graph
}

fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_module_graph_has_no_cycle() {
    let graph = module_graph();
    assert!(
        graph.contains_key("cli") && graph.contains_key("exit"),
        "expected cli and exit modules, found {:?}",
        graph.keys().collect::<Vec<_>>()
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!("module cycle: {}", cycle.join(" -> "));
    }
    assert!(
        graph["exit"].is_empty(),
        "exit is the leaf every error maps into; it imports {:?}",
        graph["exit"]
    );
    let upward: Vec<&String> = graph
        .iter()
        .filter(|(m, deps)| *m != "cli" && deps.contains("cli"))
        .map(|(m, _)| m)
        .collect();
    assert!(upward.is_empty(), "modules importing cli: {upward:?}");
}

#[test]
fn the_checker_sees_a_cycle_and_a_long_function() {
    // The rules above can only fail if the readers see what they claim to: check them on known input.
    let mut graph = BTreeMap::new();
    graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    graph.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    assert!(find_cycle(&graph).is_some());
    graph.insert("b".to_string(), BTreeSet::new());
    assert!(find_cycle(&graph).is_none());

    let body: String = (0..MAX_FN_LINES)
        .map(|i| format!("    let x{i} = {i};\n"))
        .collect();
    let text = format!(
        "pub fn long() {{\n{body}}}\n\nfn short() {{\n    1;\n}}\n\n#[cfg(test)]\nmod tests {{\n    fn long_test() {{\n{body}    }}\n}}\n"
    );
    let src = Source {
        path: "src/x.rs".into(),
        text,
    };
    let long = long_functions(&src);
    assert_eq!(long.len(), 1, "{long:?}");
    assert_eq!(long[0].2, "long");
}

/// The file a `super::NAME` / `crate::…::NAME` path names among the files of `dir`: `dir/NAME.rs` or
/// `dir/NAME/mod.rs`, when it is one of `files` and not `dir`'s own `mod.rs`.
fn sibling(files: &BTreeSet<String>, dir: &str, name: &str) -> Option<String> {
    [format!("{dir}/{name}.rs"), format!("{dir}/{name}/mod.rs")]
        .into_iter()
        .find(|f| files.contains(f))
}

/// The identifiers right after each occurrence of `prefix` in `code`, groups (`prefix{a, b::c}`) included.
fn names_after(code: &str, prefix: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for part in code.split(prefix).skip(1) {
        if let Some(group) = part.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or("");
            out.extend(group.split(',').map(ident));
        } else {
            out.push(ident(part));
        }
    }
    out.retain(|n| !n.is_empty());
    out
}

/// Edges file -> file between sibling files of one directory (a module's own `mod.rs`, its face, is left
/// out), read from `super::NAME` and `crate::<that module>::NAME` paths outside tests and comments.
fn file_graph() -> BTreeMap<String, BTreeSet<String>> {
    let all = sources();
    let files: BTreeSet<String> = all.iter().map(|s| s.path.clone()).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for src in &all {
        let Some((dir, file)) = src.path.rsplit_once('/') else {
            continue;
        };
        if file == "mod.rs" || file == "lib.rs" || file == "main.rs" {
            continue;
        }
        let module = dir.strip_prefix("src").unwrap_or(dir).replace('/', "::");
        let crate_prefix = format!("crate{module}::");
        let edges = graph.entry(src.path.clone()).or_default();
        for (_, line) in non_test_lines(&src.text) {
            let code = line.split("//").next().unwrap_or("");
            let mut names = names_after(code, "super::");
            if module.is_empty() {
                names.clear(); // `super` of a top-level file is the crate root: no siblings
            } else {
                names.extend(names_after(code, &crate_prefix));
            }
            for name in names {
                edges.extend(sibling(&files, dir, &name).filter(|t| *t != src.path));
            }
        }
    }
    graph
}

#[test]
fn no_two_files_of_a_module_import_each_other_in_a_circle() {
    let graph = file_graph();
    assert!(
        graph
            .get("src/s3/fanout.rs")
            .is_some_and(|d| d.contains("src/s3/source.rs")),
        "the file reader misses fanout.rs -> source.rs: {:?}",
        graph.get("src/s3/fanout.rs")
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "files import each other in a circle (move what both need into a file both can import): {}",
            cycle.join(" -> ")
        );
    }
}

/// ARCHITECTURE.md's module table as module -> its "depends on" column (backticked names; `—` for none).
/// A row may name several modules (`logging`, `shutdown`); they share its column.
fn documented_graph() -> BTreeMap<String, BTreeSet<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md");
    let text = std::fs::read_to_string(path).expect("reading ARCHITECTURE.md");
    let ticked = |cell: &str| -> BTreeSet<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    let mut graph = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
        let (Some(first), Some(last)) = (cells.first(), cells.last()) else {
            continue;
        };
        if cells.len() < 3 {
            continue;
        }
        for module in ticked(first) {
            graph.insert(module, ticked(last));
        }
    }
    graph
}

#[test]
fn the_architecture_table_names_every_real_dependency() {
    let documented = documented_graph();
    let real = module_graph();
    let mut wrong = Vec::new();
    for (module, deps) in real.iter().filter(|(m, _)| *m != "cli") {
        let Some(claimed) = documented.get(module) else {
            wrong.push(format!("module `{module}` has no row in the table"));
            continue;
        };
        for d in deps.difference(claimed) {
            wrong.push(format!(
                "{module} -> {d} is in the code but not in the table"
            ));
        }
        for d in claimed.difference(deps) {
            wrong.push(format!(
                "{module} -> {d} is in the table but not in the code"
            ));
        }
    }
    for module in documented.keys().filter(|m| !real.contains_key(*m)) {
        wrong.push(format!(
            "the table has a row for `{module}`, which is no module"
        ));
    }
    assert!(
        wrong.is_empty(),
        "ARCHITECTURE.md's module table (\"depends on\") and the code disagree:\n{}",
        wrong.join("\n")
    );
}

/// Fields whose name says they hold a secret, in structs that derive `Debug` (a derived Debug prints them
/// into any log line or error that formats the struct). Such structs write a redacting `impl Debug`.
fn derived_debug_secret_fields(src: &Source) -> Vec<String> {
    const SECRET_WORDS: [&str; 5] = ["secret", "password", "passwd", "token", "private"];
    // Not secrets despite the word: etcd's --initial-cluster-token is printed in the runbook by design, and
    // imagePullSecrets and a destination's credentialsSecret are the names of Secrets, not their contents.
    const NOT_SECRET: [&str; 5] = [
        "src/config.rs PodConfig.image_pull_secrets",
        "src/config/destinations.rs DestinationConfig.credentials_secret",
        "src/cli/restore_guide.rs LayoutArgs.token",
        "src/restore/facts.rs RestorePlan.token",
        "src/restore/plan.rs Layout.token",
    ];
    let kept = non_test_lines(&src.text);
    let lines: Vec<&str> = kept.iter().map(|(_, l)| *l).collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        if !(t.starts_with("#[derive(") && t.contains("Debug")) {
            continue;
        }
        let Some(decl) = (i + 1..lines.len()).find(|&j| {
            let l = lines[j].trim();
            !(l.starts_with("#[") || l.starts_with("///") || l.starts_with("//"))
        }) else {
            continue;
        };
        let head = lines[decl].trim();
        let Some(name) = head.split("struct ").nth(1) else {
            continue; // enums: their variants' fields are error context, not stored secrets
        };
        let name: String = name
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !head.ends_with('{') {
            continue;
        }
        let end = end_of_item(&lines, decl, indentation(lines[decl]));
        for field in &lines[decl + 1..end] {
            let f = field.trim();
            if f.starts_with("//") || f.starts_with("#[") {
                continue;
            }
            let Some((fname, _)) = f.trim_start_matches("pub ").split_once(':') else {
                continue;
            };
            let fname = fname
                .trim()
                .trim_start_matches("pub(crate) ")
                .trim_start_matches("pub(super) ");
            let here = format!("{} {name}.{fname}", src.path);
            if SECRET_WORDS.iter().any(|w| fname.contains(w))
                && !NOT_SECRET.contains(&here.as_str())
            {
                out.push(here);
            }
        }
    }
    out
}

#[test]
fn nothing_that_holds_a_secret_derives_debug() {
    let bad: Vec<String> = sources()
        .iter()
        .flat_map(derived_debug_secret_fields)
        .collect();
    assert!(
        bad.is_empty(),
        "these fields would be printed by a derived Debug: write an `impl Debug` that redacts them: {bad:?}"
    );
    let planted = Source {
        path: "src/x.rs".into(),
        text: "#[derive(Debug, Clone)]\npub struct Keys {\n    pub id: String,\n    pub secret_key: String,\n}\n".into(),
    };
    assert_eq!(
        derived_debug_secret_fields(&planted),
        ["src/x.rs Keys.secret_key"]
    );
}
