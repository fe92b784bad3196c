//! Secrets never reach logs or error output: S3 keys (id and secret, the right ones and wrong ones) and TLS
//! private keys (their PEM bodies), with every log target at `trace`, on success and failure paths of
//! snapshot, store, list, prune and download, against a real TLS etcd and a real MinIO.

mod common;

use std::path::Path;
use std::process::Output;

use common::etcd::EtcdCluster;
use common::etcdbak;
use common::minio::{etcdbak_env, Minio, ACCESS_KEY, SECRET_KEY};

const WRONG_SECRET: &str = "wrong-secret-d41d8cd98f00b204";
const WRONG_ACCESS: &str = "WRONGACCESSKEY0123456789";
/// Planted inside a malformed key file: if etcdbak echoes the file, this shows up.
const PLANTED: &str = "PLANTEDKEYMATERIALc2VjcmV0LWtleS1ieXRlcw";

struct Secrets {
    needles: Vec<(String, String)>,
}

impl Secrets {
    fn new() -> Secrets {
        let mut needles = vec![
            ("S3 secret key".to_string(), SECRET_KEY.to_string()),
            ("S3 access key id".to_string(), ACCESS_KEY.to_string()),
            ("wrong S3 secret key".to_string(), WRONG_SECRET.to_string()),
            (
                "wrong S3 access key id".to_string(),
                WRONG_ACCESS.to_string(),
            ),
            ("planted key material".to_string(), PLANTED.to_string()),
        ];
        // A URL-encoded or base64 form of the secret would be a leak too.
        needles.push((
            "secret (url-encoded)".into(),
            SECRET_KEY.replace('-', "%2D"),
        ));
        Secrets { needles }
    }

    /// Adds every base64 line of a PEM private key (the key material; the BEGIN/END lines are not secret).
    fn add_pem(&mut self, what: &str, path: &Path) {
        let text = std::fs::read_to_string(path).unwrap();
        for line in text
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        {
            self.needles.push((what.to_string(), line.to_string()));
        }
    }

    fn check(&self, what: &str, out: &Output, failures: &mut Vec<String>) {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for (name, needle) in &self.needles {
            if text.contains(needle.as_str()) {
                let at = text.find(needle.as_str()).unwrap_or(0);
                let start = text[..at]
                    .char_indices()
                    .rev()
                    .nth(120)
                    .map(|(i, _)| i)
                    .unwrap_or(0);
                failures.push(format!(
                    "{what}: output contains the {name}; context: ...{}...",
                    &text[start..(at + needle.len()).min(text.len())]
                ));
            }
        }
        assert!(!text.contains("panicked"), "{what} panicked:\n{text}");
    }
}

fn run(args: &[String], env: &[(String, String)]) -> Output {
    etcdbak()
        .args(args)
        .args(["--log-level", "trace"])
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("run etcdbak")
}

fn s(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

fn with(env: &[(String, String)], key: &str, value: &str) -> Vec<(String, String)> {
    let mut e: Vec<(String, String)> = env.iter().filter(|(k, _)| k != key).cloned().collect();
    e.push((key.to_string(), value.to_string()));
    e
}

#[test]
fn secrets_never_reach_logs_or_errors() {
    let etcd = EtcdCluster::start(3, true);
    etcd.put_keys("/secrets/", 100, 64);
    let s3 = Minio::start();
    let certs = etcd.certs().expect("tls");
    let mut secrets = Secrets::new();
    secrets.add_pem("client TLS private key", &certs.client_key);
    secrets.add_pem("server TLS private key", &certs.server_key);
    secrets.add_pem("other client TLS private key", &certs.other_client_key);
    let env = etcdbak_env(&s3.endpoint());
    let mut failures = Vec::new();
    let mut outcomes = Vec::new();
    let mut check = |what: &str, out: Output, want_ok: bool, failures: &mut Vec<String>| {
        secrets.check(what, &out, failures);
        // The control: the search ran over verbose output, not over a quiet log.
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !stderr.contains("TRACE") && !stderr.contains("DEBUG") {
            failures.push(format!(
                "{what}: --log-level trace produced no debug or trace lines"
            ));
        }
        outcomes.push(format!("{what}: exit {:?}", out.status.code()));
        if out.status.success() != want_ok {
            failures.push(format!(
                "{what}: expected {}, got {:?}: {}",
                if want_ok { "success" } else { "failure" },
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            ));
        }
    };

    // snapshot: success, wrong CA, a client cert from another CA, a malformed key file.
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup");
    let mut snap = s(&["snapshot", "--cluster", "secrets", "--dir"]);
    snap.push(backup.display().to_string());
    snap.extend(etcd.etcdbak_args());
    check("snapshot (ok)", run(&snap, &[]), true, &mut failures);

    let tls = etcd.client_tls().unwrap();
    let other = tempfile::tempdir().unwrap();
    let bad_snap = |cacert: &Path, cert: &Path, key: &Path| {
        let mut a = s(&[
            "snapshot",
            "--cluster",
            "secrets",
            "--dial-timeout",
            "3s",
            "--endpoints",
        ]);
        a.push(etcd.endpoints());
        a.extend(["--cacert".into(), cacert.display().to_string()]);
        a.extend(["--cert".into(), cert.display().to_string()]);
        a.extend(["--key".into(), key.display().to_string()]);
        a.extend(["--dir".into(), other.path().join("b").display().to_string()]);
        a
    };
    check(
        "snapshot (wrong CA)",
        run(&bad_snap(&certs.other_ca, &tls.cert, &tls.key), &[]),
        false,
        &mut failures,
    );
    check(
        "snapshot (client cert of another CA)",
        run(
            &bad_snap(
                &tls.cacert,
                &certs.other_client_cert,
                &certs.other_client_key,
            ),
            &[],
        ),
        false,
        &mut failures,
    );
    let planted = other.path().join("planted-key.pem");
    std::fs::write(
        &planted,
        format!("-----BEGIN PRIVATE KEY-----\n{PLANTED}\n{PLANTED}\n-----END PRIVATE KEY-----\n"),
    )
    .unwrap();
    check(
        "snapshot (malformed key file)",
        run(&bad_snap(&tls.cacert, &tls.cert, &planted), &[]),
        false,
        &mut failures,
    );
    check(
        "snapshot (key of another identity)",
        run(
            &bad_snap(&tls.cacert, &tls.cert, &certs.other_client_key),
            &[],
        ),
        false,
        &mut failures,
    );

    // store: success, wrong secret, wrong access key, unreachable store, missing bucket.
    let mut store = s(&["store", "--keep", "3", "--dir"]);
    store.push(backup.display().to_string());
    check("store (ok)", run(&store, &env), true, &mut failures);
    check(
        "store (wrong secret)",
        run(&store, &with(&env, "AWS_SECRET_ACCESS_KEY", WRONG_SECRET)),
        false,
        &mut failures,
    );
    check(
        "store (wrong access key)",
        run(&store, &with(&env, "AWS_ACCESS_KEY_ID", WRONG_ACCESS)),
        false,
        &mut failures,
    );
    check(
        "store (unreachable)",
        run(
            &store,
            &with(&env, "ETCDBAK_S3_ENDPOINT", "http://127.0.0.1:1"),
        ),
        false,
        &mut failures,
    );
    check(
        "store (no such bucket)",
        run(&store, &with(&env, "ETCDBAK_S3_BUCKET", "no-such-bucket")),
        false,
        &mut failures,
    );

    // list, prune, download: success and failure.
    let list = s(&["list", "-o", "json"]);
    check("list (ok)", run(&list, &env), true, &mut failures);
    check(
        "list (wrong secret)",
        run(&list, &with(&env, "AWS_SECRET_ACCESS_KEY", WRONG_SECRET)),
        false,
        &mut failures,
    );
    check(
        "list (wrong access key)",
        run(&list, &with(&env, "AWS_ACCESS_KEY_ID", WRONG_ACCESS)),
        false,
        &mut failures,
    );
    let prune = s(&["prune", "--cluster", "secrets", "--keep", "1"]);
    check("prune (ok)", run(&prune, &env), true, &mut failures);
    check(
        "prune --dry-run (ok)",
        run(&[prune.clone(), s(&["--dry-run"])].concat(), &env),
        true,
        &mut failures,
    );
    check(
        "prune (wrong secret)",
        run(&prune, &with(&env, "AWS_SECRET_ACCESS_KEY", WRONG_SECRET)),
        false,
        &mut failures,
    );
    let dl_dir = tempfile::tempdir().unwrap();
    let mut download = s(&["download", "--cluster", "secrets", "--output"]);
    download.push(dl_dir.path().join("s.db").display().to_string());
    check("download (ok)", run(&download, &env), true, &mut failures);
    check(
        "download (wrong secret)",
        run(
            &download,
            &with(&env, "AWS_SECRET_ACCESS_KEY", WRONG_SECRET),
        ),
        false,
        &mut failures,
    );
    let missing = s(&[
        "download",
        "--key",
        "etcdbak/secrets/20200101T000000.000Z-r1-00000000.db",
    ]);
    check(
        "download (no such key)",
        run(&missing, &env),
        false,
        &mut failures,
    );

    eprintln!("{}", outcomes.join("\n"));
    assert!(
        failures.is_empty(),
        "secrets leaked or runs misbehaved:\n{}",
        failures.join("\n")
    );
}

/// The refresh path: temporary credentials that cannot be renewed (the endpoint fails after its first
/// answer) expire mid-upload. The run fails with one error line that names the source, exit 4, and neither
/// the keys nor the endpoint's token reach any output, with every log target at `trace`.
#[test]
fn credentials_that_expire_unrenewed_fail_naming_the_source_and_no_secret() {
    use common::tempcreds::{big_snapshot, TempCreds, POD_TOKEN};
    let s3 = Minio::start();
    let dir = tempfile::tempdir().unwrap();
    big_snapshot("expiry", dir.path());
    let creds = TempCreds::start(std::time::Duration::from_secs(3), 1);
    let throttle = common::throttle::Throttle::start(&format!("127.0.0.1:{}", s3.port), 2 << 20);
    let mut cmd = etcdbak();
    cmd.env("ETCDBAK_COMPRESS", "none")
        .args([
            "store",
            "--bucket",
            common::minio::BUCKET,
            "--log-level",
            "trace",
        ])
        .args([
            "--part-size",
            "5MiB",
            "--upload-concurrency",
            "1",
            "--s3-endpoint",
        ])
        .arg(format!("http://{}", throttle.addr()))
        .arg("--dir")
        .arg(dir.path());
    creds.env(&mut cmd);
    let out = cmd.output().expect("etcdbak store");
    let mut secrets = Secrets::new();
    secrets
        .needles
        .push(("container credentials token".into(), POD_TOKEN.into()));
    let mut failures = Vec::new();
    secrets.check("store (credentials expired)", &out, &mut failures);
    assert!(failures.is_empty(), "{failures:#?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    for want in ["container credentials", "expired at", "HTTP 500"] {
        assert!(errors[0].contains(want), "{:?} lacks {want:?}", errors[0]);
    }
    assert!(creds.hits() >= 2, "no refresh was attempted: {err}");
    assert!(s3.keys("etcdbak/expiry/").is_empty(), "{err}");
}
