//! The kubelet's word handling, pure: `$(VAR)` expansion, and container paths rewritten to the host dirs
//! behind their mounts.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The kubelet's `$(VAR)` expansion: a defined name is replaced, an undefined reference stays as written,
/// `$$` is a literal `$`.
pub fn expand(s: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(') {
            match inner.find(')') {
                Some(j) => {
                    let name = &inner[..j];
                    match env.get(name) {
                        Some(v) => out.push_str(v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &inner[j + 1..];
                }
                None => {
                    out.push_str(&rest[i..]);
                    rest = "";
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// A container path on one of the mounts -> the host path behind it; also the value of `--flag=PATH`.
/// Anything else is returned unchanged.
pub fn rewrite(s: &str, mounts: &[(String, PathBuf, bool)]) -> String {
    let on_mount = |v: &str| -> Option<String> {
        mounts.iter().find_map(|(mp, host, _)| {
            if v == mp {
                Some(host.display().to_string())
            } else {
                v.strip_prefix(mp.as_str())
                    .filter(|r| r.starts_with('/'))
                    .map(|r| format!("{}{r}", host.display()))
            }
        })
    };
    if let Some(r) = on_mount(s) {
        return r;
    }
    if let Some((flag, value)) = s.split_once('=') {
        if flag.starts_with('-') {
            if let Some(r) = on_mount(value) {
                return format!("{flag}={r}");
            }
        }
    }
    s.to_string()
}

// The imports sit inside each test: benches/controller.rs includes this rig too, and compiles no tests.
#[cfg(test)]
mod tests {
    #[test]
    fn expansion_follows_the_kubelet() {
        use super::{expand, BTreeMap};
        let env = BTreeMap::from([("A".to_string(), "x".to_string())]);
        assert_eq!(expand("$(A)/$(B)/$$(A)/$", &env), "x/$(B)/$(A)/$");
    }

    #[test]
    fn rewriting_takes_the_longest_mount() {
        use super::{rewrite, PathBuf};
        let m = vec![
            ("/etc/x/tls".to_string(), PathBuf::from("/h/tls"), true),
            ("/etc/x".to_string(), PathBuf::from("/h/x"), false),
        ];
        assert_eq!(rewrite("/etc/x/tls/ca.crt", &m), "/h/tls/ca.crt");
        assert_eq!(rewrite("/etc/x", &m), "/h/x");
        assert_eq!(rewrite("/etc/xy", &m), "/etc/xy");
        assert_eq!(rewrite("--dir=/etc/x/a", &m), "--dir=/h/x/a");
        assert_eq!(rewrite("http://h/etc/x", &m), "http://h/etc/x");
    }
}
