use super::*;

fn keypair() -> (String, String) {
    let id = age::x25519::Identity::generate();
    (
        id.to_string().expose_secret().to_string(),
        id.to_public().to_string(),
    )
}

#[test]
fn recipients_parse_from_lines_commas_and_comments() {
    let (_, a) = keypair();
    let (_, b) = keypair();
    let (_, c) = keypair();
    let text = format!("# rotation: new key first\n{a}\n\n  {b}, {c}\n# old\n");
    let r = Recipients::parse(&text, "test").unwrap();
    assert_eq!(r.to_strings(), vec![a, b, c]);
}

#[test]
fn duplicate_recipients_collapse() {
    let (_, a) = keypair();
    let mut r = Recipients::parse(&format!("{a},{a}"), "flag").unwrap();
    r.extend(Recipients::parse(&a, "env").unwrap());
    assert_eq!(r.len(), 1);
}

#[test]
fn bad_recipients_name_origin_line_and_entry_but_never_the_text() {
    let (_, a) = keypair();
    let bad = "age1notarealkeyatall";
    let text = format!("{a}\n# comment\n{a} {bad}\n");
    let err = Recipients::parse(&text, "recipients file /r").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("recipients file /r, line 3: entry 3 is not an age X25519 recipient"),
        "{msg}"
    );
    assert!(!msg.contains(bad), "{msg}");
    assert_eq!(err.class(), crate::exit::Class::Usage);
}

#[test]
fn a_secret_key_given_as_recipient_is_refused_without_echoing_it() {
    let (secret, _) = keypair();
    for text in [
        secret.clone(),
        secret.to_ascii_lowercase(),
        format!("# x\n{secret}"),
    ] {
        let err = Recipients::parse(&text, "ETCDBAK_ENCRYPT_TO").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::SecretKeyAsRecipient { .. }), "{msg}");
        assert!(!msg.to_ascii_uppercase().contains(&secret[15..]), "{msg}");
        assert!(!format!("{err:?}")
            .to_ascii_uppercase()
            .contains(&secret[15..]));
    }
}

#[test]
fn no_recipients_is_an_error() {
    for text in ["", "# only a comment\n", " , \n"] {
        let err = Recipients::parse(text, "ETCDBAK_ENCRYPT_TO").unwrap_err();
        assert!(matches!(err, Error::NoRecipients { .. }), "{text:?}: {err}");
    }
}

#[test]
fn identities_parse_an_age_keygen_file() {
    let (secret, public) = keypair();
    let text = format!("# created: 2026-01-01T00:00:00Z\n# public key: {public}\n{secret}\n");
    let ids = Identities::parse(&text, "identity file k").unwrap();
    assert_eq!(ids.len(), 1);
    assert_eq!(ids.recipients().to_strings(), vec![public]);
    assert_eq!(format!("{ids:?}"), "Identities(1 redacted)");
}

#[test]
fn bad_identities_name_the_line_and_never_the_text() {
    let (secret, public) = keypair();
    // A recipient where a secret key belongs, a mangled key, an SSH key, a key in mixed case.
    let mid = secret.len() / 2;
    let swapped = if &secret[mid..=mid] == "Q" { "P" } else { "Q" };
    let broken = format!("{}{swapped}{}", &secret[..mid], &secret[mid + 1..]);
    let table = [
        (format!("{secret}\n{public}\n"), 2),
        (format!("# c\n\n{broken}\n"), 3),
        (
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI comment\n".to_string(),
            1,
        ),
        (
            format!("{}{}", &secret[..20], secret[20..].to_ascii_lowercase()),
            1,
        ),
    ];
    for (text, line) in table {
        let err = Identities::parse(&text, "identity file k").expect_err(&format!("line {line}"));
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "identity file k, line {line}: not an age X25519 identity"
            )),
            "{msg}"
        );
        assert!(
            !msg.contains(&secret[15..30]) && !msg.contains(&broken[15..30]),
            "{msg}"
        );
        assert_eq!(err.class(), crate::exit::Class::Usage);
    }
}

#[test]
fn an_empty_or_missing_identity_file_is_a_usage_error() {
    let err = Identities::parse("# nothing\n", "identity file k").unwrap_err();
    assert!(matches!(err, Error::NoIdentities { .. }), "{err}");
    let err = Identities::from_file(Path::new("/nonexistent/etcdbak-key")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read the age identity file /nonexistent/etcdbak-key: "),
        "{err}"
    );
    assert_eq!(err.class(), crate::exit::Class::Usage);
}
