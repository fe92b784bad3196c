//! Retention against a real MinIO: `store`'s keep-last and tiered policy, `prune` (dry run, reasons,
//! `--all`), mixed old and new object formats, and the newest verified backup outliving keep.

use crate::common::minio::Minio;
use crate::common::store::*;

#[test]
fn retention_keeps_the_newest_three_across_a_revision_digit_and_spares_foreign_files() {
    let m = Minio::start();
    let foreign = [
        "etcdbak/prod/README.txt",
        "etcdbak/prod/20261125T103000.000Z-r1-aaaaaaaa.db.bak",
        "etcdbak/staging/20200101T000000.000Z-r1-aaaaaaaa.db",
        "other/prod/20200101T000000.000Z-r1-aaaaaaaa.db",
    ];
    for f in foreign {
        m.put(f, b"not ours to delete");
    }
    // Same millisecond, revisions crossing a power of ten: only the parsed order gets this right (a string
    // sort ranks r99999 above r100000).
    let revisions = [99998, 99999, 100000, 100001, 100002];
    for rev in revisions {
        let dir = backup_dir("prod", rev, "2026-11-25T10:30:00.000Z");
        let mut cmd = etcdbak_s3(&m, "store", &["--dir", dir.path().to_str().expect("utf8")]);
        cmd.env("ETCDBAK_KEEP", "3");
        if rev == 100000 {
            // Stores that mishandle Content-MD5 get uploads without it; MinIO takes both.
            cmd.env("ETCDBAK_S3_CONTENT_MD5", "false");
        }
        assert_ok(&run(&mut cmd));
    }
    let ours: Vec<String> = m
        .keys("etcdbak/prod/")
        .into_iter()
        .filter(|k| !foreign.contains(&k.as_str()))
        .collect();
    let revs: Vec<&str> = ours
        .iter()
        .filter_map(|k| k.split("-r").nth(1)?.split('-').next())
        .collect();
    let mut revs = revs;
    revs.sort();
    assert_eq!(revs, ["100000", "100001", "100002"], "kept {ours:?}");
    for f in foreign {
        assert!(m.keys("").contains(&f.to_string()), "{f} was deleted");
    }

    // prune: --dry-run deletes nothing, --keep 1 leaves the newest, --all leaves only foreign files.
    let dry = run(&mut etcdbak_s3(
        &m,
        "prune",
        &["--cluster", "prod", "--keep", "1", "--dry-run"],
    ));
    assert_ok(&dry);
    assert_eq!(
        stdout(&dry).matches("┆ delete ").count(),
        2,
        "{}",
        stdout(&dry)
    );
    assert!(
        stdout(&dry).contains("would delete 2 of 3 backups"),
        "{}",
        stdout(&dry)
    );
    assert_eq!(m.keys("etcdbak/prod/").len(), 3 + 2);
    let keep1 = run(&mut etcdbak_s3(
        &m,
        "prune",
        &["--cluster", "prod", "--keep", "1"],
    ));
    assert_ok(&keep1);
    let left: Vec<String> = m
        .keys("etcdbak/prod/")
        .into_iter()
        .filter(|k| k.contains("-r100002-"))
        .collect();
    assert_eq!(left.len(), 1);
    let orphan = "etcdbak/prod/20261125T090000.000Z-r5-bbbbbbbb.db";
    m.start_upload(orphan);
    assert_eq!(m.uploads("").len(), 1);
    let all = run(&mut etcdbak_s3(
        &m,
        "prune",
        &["--cluster", "prod", "--all"],
    ));
    assert_ok(&all);
    let mut want: Vec<String> = foreign.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(m.keys(""), want);
    assert!(m.uploads("").is_empty(), "prune --all left an upload");
}

#[test]
fn retention_over_old_plain_and_new_compressed_objects_keeps_the_newest_n() {
    let m = Minio::start();
    let sha = fixture_sha();
    let mut expected = Vec::new();
    for (rev, compress) in [
        (1, "none"),
        (2, "none"),
        (3, "none"),
        (4, "zstd"),
        (5, "zstd"),
    ] {
        let dir = backup_dir("prod", rev, &format!("2026-11-25T13:0{rev}:00.000Z"));
        assert_ok(&store(
            &m,
            dir.path(),
            &["--compress", compress, "--keep", "3"],
        ));
        let suffix = if compress == "none" { ".db" } else { ".db.zst" };
        expected.push(format!(
            "etcdbak/prod/20261125T130{rev}00.000Z-r{rev}-{}{suffix}",
            &sha[..8]
        ));
    }
    let mut kept = m.keys("");
    kept.sort();
    assert_eq!(kept, expected[2..].to_vec());
}

/// Tiered retention through `prune`: two backups a day for six days, `--keep 2 --keep-daily 3`. The dry
/// run shows why each backup stays and deletes nothing; the real run leaves exactly the newest two plus
/// the newest of each of the three most recent days, and says why each deleted one went.
#[test]
fn prune_with_a_tiered_policy_shows_its_reasons_then_keeps_exactly_them() {
    let m = Minio::start();
    let mut keys = vec![];
    for (i, day) in (20..=25).enumerate() {
        for (j, hour) in ["02", "14"].iter().enumerate() {
            let rev = 100 + (i * 2 + j) as i64;
            let key = format!("etcdbak/prod/202611{day}T{hour}0000.000Z-r{rev}-aaaaaaaa.db");
            m.put_with_metadata(
                &key,
                b"old",
                &[("sha256", "00"), ("revision", &rev.to_string())],
            );
            keys.push(key);
        }
    }
    let policy = ["--cluster", "prod", "--keep", "2", "--keep-daily", "3"];
    let dry = run(&mut etcdbak_s3(
        &m,
        "prune",
        &[&policy[..], &["--dry-run"]].concat(),
    ));
    assert_ok(&dry);
    let out = stdout(&dry);
    let row = |key: &str| {
        out.lines()
            .find(|l| l.contains(key))
            .unwrap_or_else(|| panic!("no row for {key}: {out}"))
            .to_string()
    };
    assert!(
        row(&keys[11]).contains("keep") && row(&keys[11]).contains("last, daily"),
        "{out}"
    );
    assert!(row(&keys[10]).contains("┆ last "), "{out}");
    assert!(row(&keys[9]).contains("┆ daily "), "{out}");
    assert!(row(&keys[7]).contains("┆ daily "), "{out}");
    assert!(row(&keys[8]).contains("┆ delete "), "{out}");
    assert_eq!(out.matches("┆ delete ").count(), 8, "{out}");
    assert!(out.contains("would delete 8 of 12 backups"), "{out}");
    assert_eq!(
        m.keys("etcdbak/prod/").len(),
        12,
        "the dry run deleted something"
    );

    let real = run(&mut etcdbak_s3(&m, "prune", &policy));
    assert_ok(&real);
    let mut want = vec![
        keys[7].clone(),
        keys[9].clone(),
        keys[10].clone(),
        keys[11].clone(),
    ];
    want.sort();
    assert_eq!(m.keys("etcdbak/prod/"), want);
    let said = stdout(&real);
    assert_eq!(said.matches("deleted ").count(), 8, "{said}");
    assert!(
        said.contains(&format!(
            "deleted {} (kept by no rule of keep-last 2, keep-daily 3",
            keys[0]
        )),
        "{said}"
    );
}

/// `store` applies the tiered policy from its env vars (as the CronJob sets them) after a verified upload:
/// with keep-last 1 and keep-daily 2, the new backup and the newest of the day before stay, and the log
/// says why each other one went.
#[test]
fn store_applies_the_tiered_policy_from_its_env_vars() {
    let m = Minio::start();
    let mut old = vec![];
    for (day, hour, rev) in [
        (23, "08", 10),
        (23, "20", 11),
        (24, "08", 12),
        (24, "20", 13),
    ] {
        let key = format!("etcdbak/prod/202611{day}T{hour}0000.000Z-r{rev}-aaaaaaaa.db");
        m.put_with_metadata(
            &key,
            b"old",
            &[("sha256", "00"), ("revision", &rev.to_string())],
        );
        old.push(key);
    }
    let dir = backup_dir("prod", 100, "2026-11-25T10:00:00.000Z");
    let mut cmd = etcdbak_s3(&m, "store", &["--dir", dir.path().to_str().expect("utf8")]);
    cmd.env("ETCDBAK_KEEP", "1").env("ETCDBAK_KEEP_DAILY", "2");
    let o = run(&mut cmd);
    assert_ok(&o);
    let left = m.keys("etcdbak/prod/");
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(
        left.contains(&old[3]),
        "the newest of Nov 24 went: {left:?}"
    );
    assert!(left.iter().any(|k| k.contains("-r100-")), "{left:?}");
    let err = stderr(&o);
    assert!(
        err.contains("kept by no rule of keep-last 1, keep-daily 2"),
        "{err}"
    );
}

/// The floor's "newest verified" through real commands: `verify` leaves a record beside a sound backup,
/// `store --keep 2` then keeps that backup beyond the newest two (and `list` says it is verified), a newer
/// verified backup releases it (its record goes with it), a corrupt verdict takes the record away, and
/// `prune --all` leaves nothing of the cluster behind.
#[test]
fn the_newest_verified_backup_outlives_keep_and_its_record_goes_with_it() {
    let m = Minio::start();
    let sha = fixture_sha();
    // `verify` checks the database's revision against the recorded one: the fixture's is always 13.
    let key = |n: i64| format!("etcdbak/prod/20261125T160{n}00.000Z-r13-{}.db", &sha[..8]);
    let record = |rev: i64| format!("{}.verified", key(rev));
    let store_rev = |rev: i64| {
        let dir = backup_dir("prod", 13, &format!("2026-11-25T16:0{rev}:00.000Z"));
        assert_ok(&store(&m, dir.path(), &["--keep", "2"]));
    };
    let verify = |rev: i64| run(&mut etcdbak_s3(&m, "verify", &["--key", &key(rev)]));
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };

    store_rev(1);
    assert_ok(&verify(1));
    let written: serde_json::Value = serde_json::from_slice(&m.get(&record(1))).expect("json");
    assert_eq!(written["result"], "sound", "{written}");
    assert!(written["verifiedAt"].is_string(), "{written}");
    for rev in 2..=4 {
        store_rev(rev);
    }
    assert_eq!(
        m.keys("etcdbak/prod/"),
        sorted(vec![key(1), record(1), key(3), key(4)])
    );
    let listed = run(&mut etcdbak_s3(
        &m,
        "list",
        &["--cluster", "prod", "-o", "json"],
    ));
    assert_ok(&listed);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("json");
    let verified: Vec<bool> = listed
        .as_array()
        .expect("array")
        .iter()
        .map(|b| b["verified"] == true)
        .collect();
    assert_eq!(verified, [false, false, true], "{listed}");

    assert_ok(&verify(4));
    store_rev(5);
    assert_eq!(
        m.keys("etcdbak/prod/"),
        sorted(vec![key(4), record(4), key(5)])
    );

    let mut rotten = m.get(&key(4));
    let at = rotten.len() / 2;
    rotten[at] ^= 0x01;
    m.put_like(&key(4), &rotten, &key(4));
    assert_eq!(verify(4).status.code(), Some(5));
    assert_eq!(m.keys("etcdbak/prod/"), sorted(vec![key(4), key(5)]));

    assert_ok(&verify(5));
    let all = run(&mut etcdbak_s3(
        &m,
        "prune",
        &["--cluster", "prod", "--all"],
    ));
    assert_ok(&all);
    assert!(m.keys("etcdbak/prod/").is_empty(), "{:?}", m.keys(""));
}
