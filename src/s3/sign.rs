//! AWS Signature Version 4 for the few requests rust-s3 0.38 cannot send: those that name an object
//! version (`DELETE ?versionId=`, `HEAD ?versionId=`) and the bucket's `?object-lock` and `?versions`
//! sub-resources. Pure: the canonical request, the string to sign and the `Authorization` header, checked
//! against the examples in AWS's S3 documentation.

use sha2::{Digest, Sha256};

/// The SHA-256 of an empty body, the payload hash of every request signed here.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The keys a request is signed with.
pub struct Keys<'a> {
    pub access_key: &'a str,
    pub secret_key: &'a str,
}

/// One request to sign. `headers` are every header that is signed, names lower-case, `host` included.
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as sent, not yet encoded (`/bucket/key` or `/key`).
    pub path: &'a str,
    pub query: &'a [(String, String)],
    pub headers: &'a [(String, String)],
    pub payload_sha256: &'a str,
}

/// `YYYYMMDD'T'HHMMSS'Z'`, the form of `x-amz-date`.
pub fn amz_date(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// The `Authorization` header value for `req` at `amz_date` in `region`.
pub fn authorization(req: &Request<'_>, keys: &Keys<'_>, region: &str, amz_date: &str) -> String {
    let date = &amz_date[..amz_date.len().min(8)];
    let scope = format!("{date}/{region}/s3/aws4_request");
    let (canonical, signed_headers) = canonical_request(req);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(
        format!("AWS4{}", keys.secret_key).as_bytes(),
        date.as_bytes(),
    );
    for part in [region, "s3", "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let signature = hex::encode(hmac(&key, to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope},SignedHeaders={signed_headers},Signature={signature}",
        keys.access_key
    )
}

/// The canonical request and its signed-headers list.
fn canonical_request(req: &Request<'_>) -> (String, String) {
    let mut query: Vec<(String, String)> = req
        .query
        .iter()
        .map(|(k, v)| (uri_encode(k, true), uri_encode(v, true)))
        .collect();
    query.sort();
    let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let canonical = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed}\n{}",
        req.method,
        uri_encode(req.path, false),
        query.join("&"),
        req.payload_sha256
    );
    (canonical, signed)
}

/// S3's URI encoding: every byte but `A-Za-z0-9-._~` as `%XX`; `/` too unless it separates a path.
pub fn uri_encode(s: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b'/' if !encode_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// HMAC-SHA256 (RFC 2104).
fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    const BLOCK: usize = 64;
    let mut k = if key.len() > BLOCK {
        Sha256::digest(key).to_vec()
    } else {
        key.to_vec()
    };
    k.resize(BLOCK, 0);
    let pad = |byte: u8| k.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example keys of AWS's "Signature Calculations for the Authorization Header" page.
    const KEYS: Keys<'static> = Keys {
        access_key: "AKIAIOSFODNN7EXAMPLE",
        secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    };

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        assert_eq!(
            hex::encode(hmac(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn get_object_signs_as_in_the_aws_example() {
        let h = headers(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", "20130524T000000Z"),
        ]);
        let req = Request {
            method: "GET",
            path: "/test.txt",
            query: &[],
            headers: &h,
            payload_sha256: EMPTY_SHA256,
        };
        assert_eq!(
            authorization(&req, &KEYS, "us-east-1", "20130524T000000Z"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn a_sub_resource_query_signs_as_in_the_aws_example() {
        // "GET Bucket Lifecycle": `?lifecycle` is signed as `lifecycle=`.
        let h = headers(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", "20130524T000000Z"),
        ]);
        let query = vec![("lifecycle".to_string(), String::new())];
        let req = Request {
            method: "GET",
            path: "/",
            query: &query,
            headers: &h,
            payload_sha256: EMPTY_SHA256,
        };
        let auth = authorization(&req, &KEYS, "us-east-1", "20130524T000000Z");
        assert!(
            auth.ends_with(
                "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
            ),
            "{auth}"
        );
    }

    #[test]
    fn keys_and_query_values_are_encoded_the_s3_way() {
        assert_eq!(
            uri_encode("/p/c/2026 a+b~.db", false),
            "/p/c/2026%20a%2Bb~.db"
        );
        assert_eq!(uri_encode("p/c/", true), "p%2Fc%2F");
    }
}
