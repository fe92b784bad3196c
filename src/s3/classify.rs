//! S3 failures turned into the error that names what to fix, without ever repeating a URL or a key id.

use crate::exit::Setting;
use s3::error::S3Error;

use super::{Client, Error};

impl Client {
    /// Turns an S3 failure into the error that names what to fix.
    pub(crate) fn classify(&self, op: &str, e: S3Error) -> Error {
        match e {
            S3Error::HttpFailWithBody(status, body) => self.classify_status(op, status, &body),
            S3Error::Reqwest(e) => self.classify_transport(op, &e),
            other => Error::Request {
                op: op.to_string(),
                reason: describe(&other),
            },
        }
    }

    pub(crate) fn classify_status(&self, op: &str, status: u16, body: &str) -> Error {
        // Only the error code is kept: S3 error bodies can echo request details such as the access key id.
        let code = xml_tag(body, "Code").unwrap_or_default();
        if unsupported(status, &code) {
            return Error::Unsupported {
                op: op.to_string(),
                reason: format!("HTTP {status} {code}").trim_end().to_string(),
            };
        }
        match (status, code.as_str()) {
            (_, "NoSuchBucket") => Error::BucketMissing {
                bucket: self.bucket_name.clone(),
                endpoint: self.endpoint.clone(),
            },
            (
                _,
                "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "AccessDenied"
                | "InvalidToken"
                | "ExpiredToken"
                | "InvalidSecurity"
                | "AllAccessDisabled",
            )
            | (401 | 403, _) => Error::AccessDenied {
                op: op.to_string(),
                bucket: self.bucket_name.clone(),
                credentials: self.credentials_from,
                code: if code.is_empty() {
                    format!("HTTP {status}")
                } else {
                    code
                },
            },
            _ => Error::Request {
                op: op.to_string(),
                reason: if code.is_empty() {
                    format!("HTTP {status}")
                } else {
                    format!("HTTP {status} {code}")
                },
            },
        }
    }

    pub(crate) fn classify_transport(&self, op: &str, e: &reqwest::Error) -> Error {
        if e.is_timeout() {
            return Error::Request {
                op: op.to_string(),
                reason: format!(
                    "the request timed out (raise or unset {} if the link is slow)",
                    Setting::RequestTimeout
                ),
            };
        }
        let reason = root_cause(e);
        if e.is_connect() || e.is_request() {
            return Error::Unreachable {
                endpoint: self.endpoint.clone(),
                reason,
            };
        }
        Error::Request {
            op: op.to_string(),
            reason,
        }
    }
}

/// Whether an answer says "this store does not implement that operation" (rather than "you asked
/// wrongly"): HTTP 501, or a 400 with one of the codes stores use for it. Pure.
pub(crate) fn unsupported(status: u16, code: &str) -> bool {
    status == 501
        || (status == 400
            && matches!(
                code,
                "NotImplemented" | "UnsupportedOperation" | "OperationNotSupported"
            ))
}

/// The text of `<tag>...</tag>` in an S3 XML error body.
fn xml_tag(body: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&close)? + start;
    let text = body[start..end].trim();
    // Codes are short identifiers; anything else is not a code worth repeating.
    (!text.is_empty() && text.len() <= 64 && text.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| text.to_string())
}

/// The innermost cause of a transport error ("Connection refused (os error 111)"), never its URL: a
/// presigned URL carries the access key id.
pub(crate) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    strip_urls(&last)
}

/// rust-s3 errors other than HTTP failures, described without URLs.
pub(crate) fn describe(e: &S3Error) -> String {
    match e {
        S3Error::Reqwest(r) => root_cause(r),
        other => strip_urls(&other.to_string()),
    }
}

fn strip_urls(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            let bare = w.trim_start_matches(['(', '"', '\'']);
            if bare.starts_with("http://") || bare.starts_with("https://") {
                "<url>"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::Settings;
    use s3::creds::Credentials;
    use s3::{Bucket, Region};

    fn client() -> Client {
        let args = Settings {
            endpoint: Some("http://127.0.0.1:9/".into()),
            region: "us-east-1".into(),
            bucket: "backups".into(),
            prefix: "/etcdbak/".into(),
            path_style: true,
            content_md5: true,
            request_timeout: None,
            connect_timeout: std::time::Duration::from_secs(30),
            stall_timeout: std::time::Duration::from_secs(300),
            credentials: crate::credentials::Provider::new(
                crate::credentials::Credentials {
                    access_key: "AKIDTEST".into(),
                    secret_key: "SECRETTEST".into(),
                    session_token: None,
                    expiration: None,
                },
                crate::credentials::Source::Environment,
                crate::credentials::Env::default(),
            ),
            sse: crate::s3::Sse::None,
            object_lock: None,
            progress: crate::progress::unwatched(),
        };
        // Built with explicit credentials rather than the environment, which tests share.
        let bucket = Bucket::new(
            "backups",
            Region::Custom {
                region: "us-east-1".into(),
                endpoint: "http://127.0.0.1:9".into(),
            },
            Credentials::new(Some("AKIDTEST"), Some("SECRETTEST"), None, None, None)
                .expect("credentials"),
        )
        .expect("bucket");
        Client::assemble(bucket, "http://127.0.0.1:9".into(), &args).expect("client")
    }

    #[test]
    fn access_denied_names_the_credential_source_in_use() {
        let mut c = client();
        c.credentials_from = crate::credentials::Source::WebIdentity.describe();
        let text = c
            .classify_status(
                "list the backups",
                403,
                "<Error><Code>AccessDenied</Code></Error>",
            )
            .to_string();
        // An IRSA role is fixed in IAM, not by editing a key Secret the pod does not have.
        assert!(
            text.contains("web identity") && text.contains("AWS_ROLE_ARN"),
            "{text}"
        );
        assert!(!text.contains("AWS_SECRET_ACCESS_KEY"), "{text}");
    }

    #[test]
    fn status_codes_become_errors_that_name_the_fix() {
        let c = client();
        let cases: [(u16, &str, crate::exit::Class, &str); 6] = [
            (
                404,
                "<Error><Code>NoSuchBucket</Code><Message>x</Message></Error>",
                crate::exit::Class::Storage,
                "bucket \"backups\" does not exist",
            ),
            (
                403,
                "<Error><Code>InvalidAccessKeyId</Code><AWSAccessKeyId>AKIDTEST</AWSAccessKeyId></Error>",
                crate::exit::Class::Auth,
                "AWS_ACCESS_KEY_ID",
            ),
            (
                403,
                "<Error><Code>SignatureDoesNotMatch</Code></Error>",
                crate::exit::Class::Auth,
                "AWS_SECRET_ACCESS_KEY",
            ),
            (403, "", crate::exit::Class::Auth, "HTTP 403"),
            (
                500,
                "<Error><Code>InternalError</Code></Error>",
                crate::exit::Class::Storage,
                "HTTP 500 InternalError",
            ),
            (
                503,
                "<html>proxy</html>",
                crate::exit::Class::Storage,
                "HTTP 503",
            ),
        ];
        for (status, body, exit, text) in cases {
            let e = c.classify_status("upload", status, body);
            let msg = e.to_string();
            assert_eq!(e.class(), exit, "{msg}");
            assert!(msg.contains(text), "{msg:?} lacks {text:?}");
            assert!(!msg.contains("AKIDTEST"), "{msg:?} leaks the key id");
        }
    }

    #[test]
    fn missing_optional_operations_are_told_apart_from_bad_requests() {
        for (status, code, want) in [
            (501, "NotImplemented", true),
            (501, "", true),
            (400, "NotImplemented", true),
            (400, "UnsupportedOperation", true),
            (400, "InvalidArgument", false),
            (400, "", false),
            (403, "NotImplemented", false),
            (500, "InternalError", false),
        ] {
            assert_eq!(unsupported(status, code), want, "{status} {code}");
        }
        let c = client();
        let e = c.classify_status(
            "list unfinished uploads",
            501,
            "<Error><Code>NotImplemented</Code></Error>",
        );
        assert!(matches!(e, Error::Unsupported { .. }), "{e}");
        assert_eq!(e.class(), crate::exit::Class::Storage);
    }

    #[test]
    fn debug_output_never_shows_credentials() {
        let dbg = format!("{:?}", client());
        assert!(dbg.contains("backups") && dbg.contains("etcdbak"));
        assert!(
            !dbg.contains("AKIDTEST") && !dbg.contains("SECRETTEST"),
            "{dbg}"
        );
    }

    #[test]
    fn urls_are_stripped_from_transport_errors() {
        assert_eq!(
            strip_urls("error sending request for url (http://h/b/k?X-Amz-Credential=AKID%2F) x"),
            "error sending request for url <url> x"
        );
    }

    #[test]
    fn xml_codes_are_read_strictly() {
        assert_eq!(
            xml_tag("<Error><Code>NoSuchKey</Code></Error>", "Code").as_deref(),
            Some("NoSuchKey")
        );
        assert_eq!(xml_tag("<Code>has space</Code>", "Code"), None);
        assert_eq!(xml_tag("no xml", "Code"), None);
    }
}
