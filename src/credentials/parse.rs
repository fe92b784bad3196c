//! The three wire formats credentials arrive in: the shared credentials file (INI), the STS XML response,
//! and the JSON document served by the container-credentials and instance-metadata endpoints.
//! Error texts name the field that is wrong, never a value.

use chrono::{DateTime, Utc};

use super::Credentials;

/// The keys of `profile` in a shared credentials file; `Ok(None)` when the profile is not in it.
pub fn profile(text: &str, profile: &str) -> Result<Option<Credentials>, String> {
    let mut in_profile = false;
    let mut found = false;
    let (mut access, mut secret, mut token) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            in_profile = name == profile || name.strip_prefix("profile ") == Some(profile);
            found |= in_profile;
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if !in_profile {
            continue;
        }
        let value = Some(value.trim().to_string()).filter(|v| !v.is_empty());
        match key.trim().to_ascii_lowercase().as_str() {
            "aws_access_key_id" => access = value,
            "aws_secret_access_key" => secret = value,
            "aws_session_token" => token = value,
            _ => {}
        }
    }
    if !found {
        return Ok(None);
    }
    match (access, secret) {
        (Some(access_key), Some(secret_key)) => Ok(Some(Credentials {
            access_key,
            secret_key,
            session_token: token,
            expiration: None,
        })),
        _ => Err(format!(
            "profile [{profile}] lacks aws_access_key_id or aws_secret_access_key"
        )),
    }
}

/// The text between `<tag>` and `</tag>`, first occurrence.
fn xml_field<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&close)?;
    Some(xml[start..start + len].trim())
}

fn time(text: &str, field: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("{field} is not an RFC 3339 time"))
}

/// An STS AssumeRoleWithWebIdentity response, or its error document.
pub fn sts_response(xml: &str) -> Result<Credentials, String> {
    if let Some(code) = xml_field(xml, "Code") {
        let message = xml_field(xml, "Message").unwrap_or("");
        return Err(format!("STS refused: {code} {message}").trim().to_string());
    }
    let field = |tag: &str| {
        xml_field(xml, tag)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("the STS response has no {tag}"))
    };
    Ok(Credentials {
        access_key: field("AccessKeyId")?.to_string(),
        secret_key: field("SecretAccessKey")?.to_string(),
        session_token: Some(field("SessionToken")?.to_string()),
        expiration: Some(time(field("Expiration")?, "Expiration")?),
    })
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct JsonCredentials {
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    token: Option<String>,
    expiration: Option<String>,
}

/// The container-credentials / instance-metadata JSON document.
pub fn json_credentials(text: &str) -> Result<Credentials, String> {
    let doc: JsonCredentials =
        serde_json::from_str(text).map_err(|e| format!("not a credentials document ({e})"))?;
    let (Some(access_key), Some(secret_key)) = (doc.access_key_id, doc.secret_access_key) else {
        return Err("the document lacks AccessKeyId or SecretAccessKey".into());
    };
    let expiration = match doc.expiration.as_deref() {
        Some(t) => Some(time(t, "Expiration")?),
        None => None,
    };
    Ok(Credentials {
        access_key,
        secret_key,
        session_token: doc.token.filter(|t| !t.is_empty()),
        expiration,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
# comment
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = s3cret-default

[profile backup]
aws_access_key_id=AKIDBACKUP
aws_secret_access_key=s3cret-backup
aws_session_token = tok

[broken]
aws_access_key_id = AKIDONLY
";

    #[test]
    fn profiles_are_read_by_name() {
        let d = profile(FILE, "default").expect("ok").expect("found");
        assert_eq!(
            (d.access_key.as_str(), d.session_token),
            ("AKIDDEFAULT", None)
        );
        let b = profile(FILE, "backup").expect("ok").expect("found");
        assert_eq!(b.secret_key, "s3cret-backup");
        assert_eq!(b.session_token.as_deref(), Some("tok"));
        assert_eq!(profile(FILE, "nope").expect("ok"), None);
        let err = profile(FILE, "broken").expect_err("incomplete");
        assert!(
            err.contains("[broken]") && !err.contains("AKIDONLY"),
            "{err}"
        );
    }

    #[test]
    fn sts_responses_and_errors() {
        let ok =
            "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>\
            <AccessKeyId>ASIATEMP</AccessKeyId><SecretAccessKey>tmp-secret</SecretAccessKey>\
            <SessionToken>tmp-token</SessionToken><Expiration>2026-12-01T11:00:00Z</Expiration>\
            </Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
        let c = sts_response(ok).expect("parsed");
        assert_eq!(c.access_key, "ASIATEMP");
        assert_eq!(c.session_token.as_deref(), Some("tmp-token"));
        assert_eq!(
            c.expiration.map(|t| t.to_rfc3339()),
            Some("2026-12-01T11:00:00+00:00".into())
        );
        let refused = "<ErrorResponse><Error><Code>AccessDenied</Code><Message>Not authorized</Message></Error></ErrorResponse>";
        assert_eq!(
            sts_response(refused).expect_err("refused"),
            "STS refused: AccessDenied Not authorized"
        );
        assert!(sts_response("<x/>")
            .expect_err("empty")
            .contains("AccessKeyId"));
    }

    #[test]
    fn json_documents() {
        let c = json_credentials(
            r#"{"AccessKeyId":"ASIA1","SecretAccessKey":"s","Token":"t","Expiration":"2026-12-01T11:00:00Z","Code":"Success"}"#,
        )
        .expect("parsed");
        assert_eq!(c.access_key, "ASIA1");
        assert!(c.expiration.is_some());
        let long_lived =
            json_credentials(r#"{"AccessKeyId":"A","SecretAccessKey":"s"}"#).expect("parsed");
        assert_eq!(
            (long_lived.session_token, long_lived.expiration),
            (None, None)
        );
        for bad in [
            "",
            "{}",
            r#"{"AccessKeyId":"A"}"#,
            r#"{"AccessKeyId":"A","SecretAccessKey":"s","Expiration":"soon"}"#,
        ] {
            assert!(json_credentials(bad).is_err(), "{bad}");
        }
    }
}
