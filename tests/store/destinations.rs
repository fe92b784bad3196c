//! Two destinations, MinIO (the first, `primary`) and versitygw (`vgw`, its own keys through
//! `credentials=env:VGW_`): one read sends the same encoded bytes to both, each copy is verified and each
//! destination's retention applied on its own; a destination that is down at the start, or stopped in the
//! middle of the upload, fails the run with exit 6 and a line naming it while the other copy is complete
//! and verified; `list`, `download`, `verify`, `prune` and `restore-guide` read either with `--destination`.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::common::minio::Minio;
use crate::common::store::*;
use crate::common::throttle::Throttle;
use crate::common::versitygw::{self, Versitygw};
use crate::common::wait_until;

/// The `--add-destination` line for versitygw at `endpoint` (the gateway itself, or a proxy before it).
pub(crate) fn vgw_spec(endpoint: &str) -> String {
    format!(
        "name=vgw,bucket={},endpoint={endpoint},credentials=env:VGW_",
        versitygw::BUCKET
    )
}

/// `etcdbak SUB` against MinIO as the first destination and versitygw (at `vgw_endpoint`) as `vgw`, each
/// with its own keys.
fn both(m: &Minio, vgw_endpoint: &str, sub: &str, args: &[&str]) -> Command {
    let mut cmd = etcdbak_s3(m, sub, &[]);
    cmd.args(["--add-destination", &vgw_spec(vgw_endpoint)])
        .args(args)
        .env("VGW_AWS_ACCESS_KEY_ID", versitygw::ACCESS_KEY)
        .env("VGW_AWS_SECRET_ACCESS_KEY", versitygw::SECRET_KEY);
    cmd
}

fn store_both(m: &Minio, vgw_endpoint: &str, dir: &std::path::Path, extra: &[&str]) -> Output {
    let d = dir.to_str().expect("utf8");
    run(both(m, vgw_endpoint, "store", &["--dir", d]).args(extra))
}

fn key(rev: i64, time: &str, suffix: &str) -> String {
    format!("etcdbak/prod/{time}-r{rev}-{}{suffix}", &fixture_sha()[..8])
}

#[test]
fn one_read_gives_both_destinations_the_same_verified_bytes() {
    let m = Minio::start();
    let g = Versitygw::start();
    let keys = tempfile::tempdir().expect("tempdir");
    let (identity, recipient) = age_key(keys.path(), "id.txt");
    // The fixture's revision, so verify's check of the database against the metadata holds.
    let dir = backup_dir("prod", 13, "2026-11-25T10:00:00Z");
    let args = [
        "--compress",
        "zstd",
        "--encrypt-to",
        &recipient,
        "--part-size",
        "5MiB",
    ];
    let o = store_both(&m, &g.endpoint(), dir.path(), &args);
    assert_ok(&o);
    let k = key(13, "20261125T100000.000Z", ".db.zst.age");
    assert_eq!(m.keys(""), std::slice::from_ref(&k));
    assert_eq!(g.keys(""), std::slice::from_ref(&k));
    // age encrypts to a fresh file key every time: byte-identical objects were encoded once.
    let on_vgw = std::fs::read(g.object_file(&k)).expect("vgw object");
    assert_eq!(m.get(&k), on_vgw, "the two copies differ");
    let err = stderr(&o);
    assert_eq!(err.matches("upload verified").count(), 2, "{err}");
    assert_eq!(err.matches("backup stored").count(), 2, "{err}");

    let out = tempfile::tempdir().expect("tempdir");
    let original = std::fs::read(fixture()).expect("fixture");
    for dest in ["primary", "vgw"] {
        let target = out.path().join(format!("{dest}.db"));
        let id = identity.to_str().expect("utf8");
        let t = target.to_str().expect("utf8");
        let sel = ["--destination", dest];
        let d = run(both(&m, &g.endpoint(), "download", &sel).args([
            "--key",
            &k,
            "--identity",
            id,
            "--output",
            t,
        ]));
        assert_ok(&d);
        assert_eq!(
            std::fs::read(&target).expect("restored"),
            original,
            "{dest}"
        );
        let v = run(both(&m, &g.endpoint(), "verify", &sel).args(["--key", &k, "--identity", id]));
        assert_ok(&v);
        let l = run(both(&m, &g.endpoint(), "list", &sel).args(["-o", "json"]));
        assert_ok(&l);
        assert!(stdout(&l).contains(&k), "{dest}: {}", stdout(&l));
    }
    // Each verify wrote its record into its own destination.
    assert!(m.keys("").contains(&format!("{k}.verified")));
    assert!(g.keys("").contains(&format!("{k}.verified")));
}

#[test]
fn retention_is_applied_in_each_destination_on_its_own() {
    let m = Minio::start();
    let g = Versitygw::start();
    // MinIO alone first: three older backups there, none on versitygw.
    let times = [
        (1, "2026-11-25T09:00:00Z"),
        (2, "2026-11-25T10:00:00Z"),
        (3, "2026-11-25T11:00:00Z"),
    ];
    for (rev, at) in times {
        assert_ok(&store(&m, backup_dir("prod", rev, at).path(), &[]));
    }
    let dir = backup_dir("prod", 4, "2026-11-25T12:00:00Z");
    assert_ok(&store_both(&m, &g.endpoint(), dir.path(), &["--keep", "2"]));
    let newest = key(4, "20261125T120000.000Z", ".db");
    assert_eq!(
        m.keys(""),
        [key(3, "20261125T110000.000Z", ".db"), newest.clone()]
    );
    assert_eq!(g.keys(""), [newest]);
    // prune reads and deletes only the destination it is pointed at.
    let p = run(
        both(&m, &g.endpoint(), "prune", &["--destination", "primary"]).args([
            "--cluster",
            "prod",
            "--keep",
            "1",
        ]),
    );
    assert_ok(&p);
    assert_eq!(m.keys("").len(), 1);
    assert_eq!(g.keys("").len(), 1);
}

#[test]
fn a_destination_down_at_the_start_fails_the_run_but_not_the_backup() {
    let m = Minio::start();
    // Nothing listens there: the second destination is down before the snapshot is read.
    let dead = format!("http://127.0.0.1:{}", crate::common::free_port());
    let dir = backup_dir("prod", 1, "2026-11-25T10:00:00Z");
    let o = store_both(&m, &dead, dir.path(), &["--keep", "1"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(6), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line: {err}"));
    assert!(
        line.contains(&format!(
            "destination \"vgw\" (bucket \"backups\" at {dead}) failed"
        )) && line.contains("cannot reach")
            && line.ends_with("the backup is stored and verified in \"primary\""),
        "{line}"
    );
    assert_eq!(error_lines(&o), 1, "{err}");
    assert_eq!(m.keys(""), [key(1, "20261125T100000.000Z", ".db")]);
    assert!(err.contains("retention applied"), "{err}");
}

/// A further destination whose credentials do not resolve (none set, or a configured source that fails)
/// is a failed destination, not a failed run: MinIO's copy is stored, retained and verified, and the run
/// exits 6 with one line naming the destination.
#[test]
fn a_destination_without_credentials_fails_alone() {
    let m = Minio::start();
    let g = Versitygw::start();
    let no_keys: [(&str, &str); 0] = [];
    let bad_source = [
        ("VGW_AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token"),
        ("VGW_AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/etcdbak"),
    ];
    let cases: [(&[(&str, &str)], &str); 2] = [
        (&no_keys, "VGW_AWS_* variables"),
        (&bad_source, "/nonexistent/token"),
    ];
    let mut verified: Vec<String> = Vec::new();
    // The fixture's revision every time (verify checks it), an hour apart.
    for (hour, (env, why)) in (1..).zip(cases) {
        let at = format!("2026-11-25T1{hour}:00:00Z");
        let dir = backup_dir("prod", 13, &at);
        let d = dir.path().to_str().expect("utf8");
        let mut cmd = etcdbak_s3(&m, "store", &["--dir", d, "--keep", "1"]);
        cmd.args(["--add-destination", &vgw_spec(&g.endpoint())])
            .envs(env.iter().copied());
        let o = run(&mut cmd);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(6), "{err}");
        assert_eq!(error_lines(&o), 1, "{err}");
        let line = err
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_else(|| panic!("no error line: {err}"));
        let named = format!(
            "error: destination \"vgw\" (bucket \"backups\" at {}) failed: its credentials could not be resolved: ",
            g.endpoint()
        );
        assert!(line.starts_with(&named) && line.contains(why), "{line}");
        assert!(
            line.ends_with("the backup is stored and verified in \"primary\""),
            "{line}"
        );
        assert_eq!(err.matches("upload verified").count(), 1, "{err}");
        assert!(err.contains("retention applied"), "{err}");
        let k = key(13, &format!("20261125T1{hour}0000.000Z"), ".db");
        // --keep 1 ran on MinIO: this run's backup is left there beside the one verify recorded, and it
        // verifies.
        let mut expected = verified.clone();
        expected.push(k.clone());
        assert_eq!(m.keys(""), expected);
        assert!(g.keys("").is_empty(), "{:?}", g.keys(""));
        assert_ok(&run(&mut etcdbak_s3(&m, "verify", &["--key", &k])));
        verified = vec![k.clone(), format!("{k}.verified")];
    }
}

/// MinIO killed while the parts are on their way: versitygw's copy completes and is verified, the run
/// exits 6 with a line naming `primary`, and MinIO holds no object once it is back.
#[test]
fn a_destination_stopped_mid_upload_leaves_the_other_copy_complete() {
    let mut m = Minio::start();
    let g = Versitygw::start();
    // 2 MiB/s before versitygw: the 17 MiB snapshot takes several seconds, in step on both.
    let throttle = Throttle::start(&format!("127.0.0.1:{}", g.port), 2 << 20);
    let vgw = format!("http://{}", throttle.addr());
    let dir = backup_dir("prod", 13, "2026-11-25T10:00:00Z");
    let d = dir.path().to_str().expect("utf8");
    let mut cmd = both(&m, &vgw, "store", &["--dir", d]);
    cmd.args(["--part-size", "5MiB", "--upload-concurrency", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn store");
    wait_until("both uploads in progress", Duration::from_secs(60), || {
        throttle.forwarded() > 3 << 20 && !m.uploads("").is_empty()
    });
    m.stop();
    let out = child.wait_with_output().expect("wait");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(6), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line: {err}"));
    let primary = format!(
        "destination \"primary\" (bucket \"backups\" at {}) failed",
        m.endpoint()
    );
    assert!(line.contains(&primary), "{line}");
    assert!(
        line.ends_with("the backup is stored and verified in \"vgw\""),
        "{line}"
    );
    assert!(
        err.contains("a destination failed during the upload; the others go on"),
        "{err}"
    );

    let k = key(13, "20261125T100000.000Z", ".db");
    assert_eq!(g.keys(""), std::slice::from_ref(&k));
    let original = std::fs::read(fixture()).expect("fixture");
    assert_eq!(
        std::fs::read(g.object_file(&k)).expect("vgw object"),
        original
    );
    let v = run(&mut both(
        &m,
        &g.endpoint(),
        "verify",
        &["--destination", "vgw", "--key", &k],
    ));
    assert_ok(&v);
    m.start_again();
    assert!(
        m.keys("").is_empty(),
        "a partial object on MinIO: {:?}",
        m.keys("")
    );
}

#[test]
fn readers_name_an_unknown_destination_and_a_bad_line() {
    let m = Minio::start();
    let o = run(&mut both(
        &m,
        "http://127.0.0.1:9",
        "list",
        &["--destination", "dr"],
    ));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no destination is named \"dr\" (known: primary, vgw)"),
        "{}",
        stderr(&o)
    );
    let o = run(&mut etcdbak_s3(
        &m,
        "list",
        &["--add-destination", "name=primary,bucket=x"],
    ));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("two destinations are named \"primary\""),
        "{}",
        stderr(&o)
    );
    let o = run(etcdbak_s3(
        &m,
        "list",
        &["--add-destination", "name=x,bucket=y,credentials=env:NOPE_"],
    )
    .args(["--destination", "x"]));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("NOPE_AWS_* variables"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_runbook_names_every_destination_that_holds_the_backup() {
    let m = Minio::start();
    let g = Versitygw::start();
    let dir = backup_dir("prod", 1, "2026-11-25T10:00:00Z");
    assert_ok(&store_both(&m, &g.endpoint(), dir.path(), &[]));
    let k = key(1, "20261125T100000.000Z", ".db");
    let guide = |dest: &str| {
        let o = run(
            both(&m, &g.endpoint(), "restore-guide", &["--destination", dest]).args([
                "--cluster",
                "prod",
                "--no-kube",
                "--snapshot",
                &k,
            ]),
        );
        assert_ok(&o);
        stdout(&o)
    };
    let text = guide("vgw");
    let vgw_row = format!(
        "Destination:        vgw (bucket backups at {})",
        g.endpoint()
    );
    assert!(text.contains(&vgw_row), "{text}");
    let also = format!(
        "Also in:            primary (bucket backups at {}), s3://backups/{k}",
        m.endpoint()
    );
    assert!(text.contains(&also), "{text}");
    // The check line is word-wrapped: the fallback command reads whole once the wrapping is undone.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let fallback = format!(
        "destination primary (bucket backups at {0}): etcdbak download --s3-endpoint {0} --region us-east-1 --bucket backups --prefix etcdbak --key {k}",
        m.endpoint()
    );
    assert!(flat.contains(&fallback), "{text}");
    // A destination without the backup is not named.
    std::fs::remove_file(g.object_file(&k)).expect("remove the vgw copy");
    let text = guide("primary");
    assert!(text.contains("Destination:        primary"), "{text}");
    assert!(!text.contains("Also in:"), "{text}");
}
