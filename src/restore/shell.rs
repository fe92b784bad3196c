//! Shell words for the runbook's commands: quoted only when they need it, so a command stays readable and
//! still pastes safely into a shell.

/// Quotes a shell word only when it needs it, so commands stay readable and still paste safely.
pub fn sh(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@%+".contains(&b));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// One command line from its words, each quoted as needed.
pub fn join(words: &[String]) -> String {
    words.iter().map(|w| sh(w)).collect::<Vec<_>>().join(" ")
}

/// [`join`] for any list of string-like words.
pub fn cmd<I, S>(words: I) -> String
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    join(&words.into_iter().map(Into::into).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(sh("https://a-0.b.svc:2380"), "https://a-0.b.svc:2380");
        assert_eq!(sh("a b"), "'a b'");
        assert_eq!(sh("{\"x\":1}"), "'{\"x\":1}'");
        assert_eq!(sh("it's"), "'it'\\''s'");
        assert_eq!(sh(""), "''");
    }
}
