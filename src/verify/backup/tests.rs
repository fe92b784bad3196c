use super::*;
use crate::bolt::Problem;
use crate::verify::VerifyError;

const SHA: &str = "ab12";

fn verified() -> Verified {
    Verified {
        file_size: 8224,
        sha256: SHA.into(),
        page_size: 4096,
    }
}

fn sound(revision: i64) -> Verdict {
    Verdict::Sound(Summary {
        page_size: 4096,
        pages: 2,
        keys: 6,
        revision: Some(revision),
        ..Summary::default()
    })
}

fn expected() -> Expected {
    Expected {
        sha256: Some(SHA.to_uppercase()),
        file_size: Some(8224),
        revision: Some(6),
    }
}

fn problem(
    streamed: Result<Verified, String>,
    structure: Option<Verdict>,
    e: &Expected,
) -> Option<String> {
    judge("k", streamed, structure, e, 0.5).problem
}

#[test]
fn a_sound_backup_reports_its_keys_revision_and_size() {
    let r = judge(
        "etcdbak/prod/x.db",
        Ok(verified()),
        Some(sound(6)),
        &expected(),
        1.25,
    );
    assert_eq!(
        r,
        Report {
            key: "etcdbak/prod/x.db".into(),
            result: Outcome::Sound,
            problem: None,
            keys: Some(6),
            revision: Some(6),
            db_size: Some(8192),
            seconds: 1.25,
            etcdutl: None,
        }
    );
}

/// (what the stream said, the structural verdict, the metadata, what the problem must say).
type Case<'a> = (
    Result<Verified, String>,
    Option<Verdict>,
    &'a Expected,
    &'a str,
);

#[test]
fn each_check_names_what_is_wrong() {
    let corrupt = Verdict::Corrupt(Problem::at(7, "referenced twice (again from page 4)"));
    let no_sha = Expected {
        sha256: None,
        ..expected()
    };
    let bigger = Expected {
        file_size: Some(9000),
        ..expected()
    };
    let other_sha = Expected {
        sha256: Some("cd34".into()),
        ..expected()
    };
    let cases: [Case<'_>; 7] = [
        (
            Err(VerifyError::TrailerMismatch.to_string()),
            Some(sound(6)),
            &expected(),
            "trailer does not match",
        ),
        (
            Ok(verified()),
            Some(sound(6)),
            &bigger,
            "downloaded 8224 bytes, the object is 9000",
        ),
        (
            Ok(verified()),
            Some(sound(6)),
            &no_sha,
            "no sha256 metadata",
        ),
        (
            Ok(verified()),
            Some(sound(6)),
            &other_sha,
            "its metadata says cd34",
        ),
        (
            Ok(verified()),
            Some(corrupt),
            &expected(),
            "structurally corrupt: page 7: referenced twice",
        ),
        (
            Ok(verified()),
            Some(sound(5)),
            &expected(),
            "revision is 5, its metadata says 6",
        ),
        (Ok(verified()), None, &expected(), "not checked"),
    ];
    for (streamed, structure, e, says) in cases {
        let p = problem(streamed, structure, e).unwrap_or_default();
        assert!(p.contains(says), "{p:?} does not say {says:?}");
    }
    let no_revision = Expected {
        revision: None,
        ..expected()
    };
    assert_eq!(
        problem(Ok(verified()), Some(sound(5)), &no_revision),
        None,
        "no recorded revision: nothing to compare"
    );
}

#[test]
fn table_and_json_output() {
    let reports = [
        judge(
            "etcdbak/prod/20261125T230000.000Z-r6-ab12ab12.db",
            Ok(verified()),
            Some(sound(6)),
            &expected(),
            0.25,
        ),
        judge(
            "etcdbak/prod/20261124T230000.000Z-r5-cd34cd34.db",
            Ok(verified()),
            Some(Verdict::Corrupt(Problem::at(
                7,
                "reachable from page 4 but also listed as free in the freelist",
            ))),
            &expected(),
            0.5,
        ),
    ];
    insta::assert_snapshot!(render_table(&reports).to_string());
    insta::assert_snapshot!(serde_json::to_string_pretty(&reports).expect("json"));
}

#[test]
fn etcdutl_agreeing_shows_in_the_table_and_disagreeing_makes_it_corrupt() {
    let mut r = judge("k", Ok(verified()), Some(sound(6)), &expected(), 1.0);
    r.with_etcdutl(Ok(()));
    assert_eq!(r.etcdutl.as_deref(), Some("agrees"));
    assert!(render_table(std::slice::from_ref(&r))
        .to_string()
        .contains("sound (etcdutl agrees)"));
    r.with_etcdutl(Err("etcdutl reads revision 7, the Rust check read 6".into()));
    assert_eq!(r.result, Outcome::Corrupt);
    assert_eq!(r.etcdutl.as_deref(), Some("disagrees"));
    let e = r.sound().expect_err("corrupt");
    assert!(e.to_string().contains("etcdutl reads revision 7"), "{e}");
}
