//! age keys from the places an operator keeps them: a flag value, a file, an env var (a Secret or ConfigMap).
//!
//! Recipients (public `age1…` keys) are what `store` encrypts to; identities (`AGE-SECRET-KEY-1…`) are what
//! `download` decrypts with. Errors say where (origin and line) and what is expected, never the text itself:
//! a secret key pasted into the wrong place must not reach a log.

use std::fmt;
use std::path::Path;

use age::secrecy::{ExposeSecret, SecretString};

use super::error::Error;

/// One or more age X25519 recipients; never empty. Several make key rotation possible: encrypt to the old
/// and the new key, and either identity decrypts.
#[derive(Debug, Clone)]
pub struct Recipients(Vec<age::x25519::Recipient>);

impl Recipients {
    /// Parses recipients from text: one or more per line, separated by commas or spaces (an env var holds
    /// `age1…,age1…`), blank lines and `#` comment lines ignored as in `age -R` files. `origin` names where the
    /// text came from in errors (e.g. "ETCDBAK_ENCRYPT_TO" or "recipients file /etc/etcdbak/recipients").
    pub fn parse(text: &str, origin: &str) -> Result<Recipients, Error> {
        let mut out: Vec<age::x25519::Recipient> = Vec::new();
        let mut entry = 0;
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            if is_comment(line) {
                continue;
            }
            for token in line
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|t| !t.is_empty())
            {
                entry += 1;
                if token.len() >= 15 && token[..15].eq_ignore_ascii_case("AGE-SECRET-KEY-") {
                    return Err(Error::SecretKeyAsRecipient {
                        origin: origin.to_string(),
                        line: line_no,
                    });
                }
                let recipient = token.parse().map_err(|_| Error::BadRecipient {
                    origin: origin.to_string(),
                    line: line_no,
                    entry,
                })?;
                out.push(recipient);
            }
        }
        if out.is_empty() {
            return Err(Error::NoRecipients {
                origin: origin.to_string(),
            });
        }
        let mut r = Recipients(Vec::new());
        r.extend(Recipients(out));
        Ok(r)
    }

    /// Reads a recipients file (`age -R` format).
    pub fn from_file(path: &Path) -> Result<Recipients, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::KeyFileUnreadable {
            what: "recipients",
            path: path.to_path_buf(),
            source,
        })?;
        Recipients::parse(&text, &format!("recipients file {}", path.display()))
    }

    /// Adds `other`'s recipients, skipping ones already present (the same key from a file and an env var).
    pub fn extend(&mut self, other: Recipients) {
        for r in other.0 {
            if !self.0.iter().any(|have| have.to_string() == r.to_string()) {
                self.0.push(r);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a `Recipients` holds at least one key.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The public keys as `age1…` strings (safe to print).
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }

    pub(crate) fn as_dyn(&self) -> impl Iterator<Item = &dyn age::Recipient> {
        self.0.iter().map(|r| r as &dyn age::Recipient)
    }
}

/// One or more age X25519 identities (secret keys). `Debug` shows only how many.
pub struct Identities(Vec<age::x25519::Identity>);

impl fmt::Debug for Identities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identities({} redacted)", self.0.len())
    }
}

impl Identities {
    /// Parses an identity file's text as `age-keygen` writes it: `AGE-SECRET-KEY-1…` lines, blank lines and
    /// `#` comments (its `# public key:` line) ignored. `origin` names the source in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Identities, Error> {
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if is_comment(line) {
                continue;
            }
            let identity = line.trim().parse().map_err(|_| Error::BadIdentity {
                origin: origin.to_string(),
                line: i + 1,
            })?;
            out.push(identity);
        }
        if out.is_empty() {
            return Err(Error::NoIdentities {
                origin: origin.to_string(),
            });
        }
        Ok(Identities(out))
    }

    /// Reads an identity file; its text is wiped from memory once parsed.
    pub fn from_file(path: &Path) -> Result<Identities, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::KeyFileUnreadable {
            what: "identity",
            path: path.to_path_buf(),
            source,
        })?;
        let text = SecretString::from(text);
        Identities::parse(
            text.expose_secret(),
            &format!("identity file {}", path.display()),
        )
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: an `Identities` holds at least one key.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The public key of each identity, for telling the operator which recipients a key file can open.
    pub fn recipients(&self) -> Recipients {
        Recipients(
            self.0
                .iter()
                .map(age::x25519::Identity::to_public)
                .collect(),
        )
    }

    pub(crate) fn as_dyn(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.0.iter().map(|i| i as &dyn age::Identity)
    }
}

fn is_comment(line: &str) -> bool {
    let line = line.trim();
    line.is_empty() || line.starts_with('#')
}

#[cfg(test)]
mod tests;
