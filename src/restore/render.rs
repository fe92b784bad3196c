//! A [`Runbook`] as text for a terminal or as Markdown for an incident document. Pure.

use std::fmt::Write as _;

use super::facts::Runbook;

/// `text` word-wrapped to `width` columns, the first line after `first`, the rest indented under it.
fn wrap(first: &str, text: &str, width: usize) -> String {
    let indent = " ".repeat(first.chars().count());
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = indent.clone();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

/// Plain text for a terminal: numbered steps, commands on their own `$ ` lines (never wrapped, so they
/// paste whole).
pub fn render_text(r: &Runbook) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", r.title);
    let _ = writeln!(out, "{}", "=".repeat(r.title.chars().count()));
    let _ = writeln!(out);
    let width = r.facts.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in &r.facts {
        let _ = writeln!(out, "  {:width$}  {v}", format!("{k}:"), width = width + 1);
    }
    for (i, s) in r.steps.iter().enumerate() {
        let _ = writeln!(out);
        let _ = writeln!(out, "{}. {}", i + 1, s.title);
        out.push_str(&wrap("   Why: ", &s.why, 100));
        let _ = writeln!(out);
        for c in &s.commands {
            let _ = writeln!(out, "     $ {c}");
        }
        if let Some(check) = &s.check {
            let _ = writeln!(out);
            out.push_str(&wrap("   Check: ", check, 100));
        }
        if let Some(m) = &s.manual {
            let _ = writeln!(out);
            out.push_str(&wrap("   Without etcdbak: ", &m.intro, 100));
            let _ = writeln!(out);
            // No `$ `: these replace the step's commands, and [`commands_in_text`] must not run both.
            for c in &m.commands {
                let _ = writeln!(out, "       {c}");
            }
        }
    }
    out
}

/// Markdown for an incident document.
pub fn render_markdown(r: &Runbook) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}", r.title);
    let _ = writeln!(out);
    let _ = writeln!(out, "| | |");
    let _ = writeln!(out, "|---|---|");
    for (k, v) in &r.facts {
        let _ = writeln!(out, "| {k} | `{v}` |");
    }
    for (i, s) in r.steps.iter().enumerate() {
        let _ = writeln!(out);
        let _ = writeln!(out, "## {}. {}", i + 1, s.title);
        let _ = writeln!(out);
        let _ = writeln!(out, "{}", s.why);
        let _ = writeln!(out);
        let _ = writeln!(out, "```sh");
        for c in &s.commands {
            let _ = writeln!(out, "{c}");
        }
        let _ = writeln!(out, "```");
        if let Some(check) = &s.check {
            let _ = writeln!(out);
            let _ = writeln!(out, "- [ ] {check}");
        }
        if let Some(m) = &s.manual {
            let _ = writeln!(out);
            let _ = writeln!(out, "Without etcdbak: {}", m.intro);
            let _ = writeln!(out);
            // `shell`, not `sh`: the `sh` blocks hold the commands to run, and these replace them.
            let _ = writeln!(out, "```shell");
            for c in &m.commands {
                let _ = writeln!(out, "{c}");
            }
            let _ = writeln!(out, "```");
        }
    }
    out
}

/// The command lines of a text runbook, in order: what an operator (or the restore drill) runs.
pub fn commands_in_text(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("     $ "))
        .map(str::to_string)
        .collect()
}
