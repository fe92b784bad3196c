//! The backup pipeline on a real etcd snapshot and against the tools users would restore with: Debian's
//! `age` and `zstd` (install with `apt-get install age zstd`; scripts/rig-install adds them).
//!
//! One etcd member is started once per test binary; its `etcdctl snapshot save` file is the plaintext of
//! every test, with a known Secret-like value written into it first.

mod common;

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use age::secrecy::ExposeSecret;
use common::damage::flip_a_bit_that_matters;
use common::etcd::EtcdCluster;
use common::rig_bin;
use etcdbak::exit::Class;
use etcdbak::pipeline::{
    self, Compression, Encoding, Error, Expected, Format, Identities, ObjectFacts, Recipients,
};
use sha2::{Digest, Sha256};

const KNOWN: &str = "tenant-a-db-password-5d1b0c4e9f";

struct Snapshot {
    dir: PathBuf,
    path: PathBuf,
    bytes: Vec<u8>,
}

/// The plaintext: a real snapshot of an etcd holding Kubernetes-shaped keys and one known value.
fn snapshot() -> &'static Snapshot {
    static SNAP: OnceLock<Snapshot> = OnceLock::new();
    SNAP.get_or_init(|| {
        // One fixed dir, emptied at start: the static is never dropped, so this is where cleanup can happen.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pipeline");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut etcd = EtcdCluster::start(1, false);
        etcd.wait_healthy();
        etcd.put_keys("/registry/configmaps/default/cm-", 2000, 700);
        etcd.client_blocking(|mut c| async move {
            c.put(
                "/registry/secrets/tenant-a/db",
                format!("{{\"password\":\"{KNOWN}\"}}"),
                None,
            )
            .await
            .map(|_| ())
        });
        let path = dir.join("snapshot.db");
        let out = Command::new(rig_bin("etcdctl"))
            .args(["--endpoints", &etcd.endpoints(), "snapshot", "save"])
            .arg(&path)
            .output()
            .expect("run etcdctl");
        assert!(
            out.status.success(),
            "etcdctl snapshot save: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        etcd.kill_all();
        let bytes = std::fs::read(&path).expect("read snapshot");
        assert!(
            contains(&bytes, KNOWN.as_bytes()),
            "the known value is in the plaintext snapshot"
        );
        Snapshot { dir, path, bytes }
    })
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A standard tool from PATH; fails with the fix when it is missing, never skips.
fn tool(name: &str) -> Command {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()));
    assert!(
        found,
        "{name} is missing: apt-get install -y age zstd (scripts/rig-install)"
    );
    Command::new(name)
}

/// A fresh age key written as `age-keygen` writes it; returns the identity file and its recipient.
fn keyfile(name: &str) -> (PathBuf, String) {
    let id = age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    let path = snapshot().dir.join(format!("{name}-{}.key", rand_suffix()));
    let text = format!(
        "# public key: {public}\n{}\n",
        id.to_string().expose_secret()
    );
    std::fs::write(&path, text).expect("write key");
    (path, public)
}

fn rand_suffix() -> String {
    let id = age::x25519::Identity::generate();
    id.to_public().to_string()[4..14].to_string()
}

fn encoding(format: Format, recipients: Option<&Recipients>) -> Encoding {
    Encoding {
        compression: if format.compressed {
            Compression::default()
        } else {
            Compression::None
        },
        recipients: if format.encrypted {
            recipients.cloned()
        } else {
            None
        },
        threads: 0,
    }
}

/// Encodes the snapshot file into `out` (a file, as the store's upload reads it).
fn encode_file(format: Format, recipients: Option<&Recipients>, out: &Path) -> ObjectFacts {
    let src = BufReader::new(File::open(&snapshot().path).expect("open snapshot"));
    let (mut file, recorded) = pipeline::encode(
        src,
        File::create(out).expect("create object"),
        &encoding(format, recipients),
    )
    .expect("encode");
    file.flush().expect("flush");
    recorded
}

fn decode_bytes(
    stored: &[u8],
    expected: &Expected,
    ids: Option<&Identities>,
) -> Result<Vec<u8>, Error> {
    pipeline::decode(stored, Vec::new(), expected, ids).map(|(out, _)| out)
}

fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

fn object_path(tag: &str, format: Format) -> PathBuf {
    snapshot()
        .dir
        .join(format!("{tag}-{}{}", rand_suffix(), format.suffix()))
}

#[test]
fn every_format_round_trips_a_real_snapshot_and_hides_the_known_value_when_encrypted() {
    let snap = snapshot();
    let (key, public) = keyfile("roundtrip");
    let ids = Identities::from_file(&key).unwrap();
    let recipients = Recipients::parse(&public, "test").unwrap();
    for format in Format::ALL {
        let obj = object_path("roundtrip", format);
        let recorded = encode_file(format, Some(&recipients), &obj);
        let stored = std::fs::read(&obj).unwrap();
        assert_eq!(recorded.pipeline.format(), format);
        assert_eq!(recorded.plaintext_sha256, sha256(&snap.bytes));
        assert_eq!(recorded.plaintext_size, snap.bytes.len() as u64);
        assert_eq!(recorded.stored_size, Some(stored.len() as u64));
        assert_eq!(
            ObjectFacts::from_metadata(&recorded.to_metadata()),
            Ok(Some(recorded))
        );
        // zstd may keep a unique value as a literal; only encryption hides it.
        if format.encrypted {
            assert!(
                !contains(&stored, KNOWN.as_bytes()),
                "{format:?}: known value in the stored object"
            );
        }
        let out = decode_bytes(&stored, &Expected::from_recorded(&recorded), Some(&ids)).unwrap();
        assert!(out == snap.bytes, "{format:?}: decoded plaintext differs");
    }
}

/// `age -d -i KEY OBJ | zstd -d` (or just one of them) into a file, as a restore without etcdbak does.
fn decode_with_tools(obj: &Path, format: Format, key: &Path, out: &Path) {
    let script = match (format.compressed, format.encrypted) {
        (true, true) => "age -d -i \"$1\" \"$2\" | zstd -d -q -o \"$3\"",
        (true, false) => "zstd -d -q \"$2\" -o \"$3\"",
        (false, true) => "age -d -i \"$1\" -o \"$3\" \"$2\"",
        (false, false) => "cp \"$2\" \"$3\"",
    };
    let _ = (tool("age"), tool("zstd"));
    let st = Command::new("bash")
        .args(["-o", "pipefail", "-c", script, "decode"])
        .args([key, obj, out])
        .status()
        .expect("run bash");
    assert!(st.success(), "{format:?}: `{script}` failed");
}

#[test]
fn the_age_and_zstd_tools_decode_every_format_into_a_snapshot_etcdutl_restores() {
    let snap = snapshot();
    let (key, public) = keyfile("tools");
    let recipients = Recipients::parse(&public, "test").unwrap();
    for format in Format::ALL {
        let obj = object_path("tools", format);
        encode_file(format, Some(&recipients), &obj);
        let out = snap
            .dir
            .join(format!("tools-{}-restored.db", rand_suffix()));
        decode_with_tools(&obj, format, &key, &out);
        assert!(
            std::fs::read(&out).unwrap() == snap.bytes,
            "{format:?}: tool output differs"
        );
        // etcdutl checks the hash trailer (no --skip-hash-check).
        let cluster = EtcdCluster::prepare(1, false);
        cluster.restore_into(&out, 0);
    }
}

#[test]
fn objects_made_by_the_zstd_and_age_tools_decode_through_the_pipeline() {
    let snap = snapshot();
    let (old_key, old_public) = keyfile("old");
    let (new_key, new_public) = keyfile("new");
    let recipients_file = snap.dir.join(format!("recipients-{}", rand_suffix()));
    std::fs::write(
        &recipients_file,
        format!("# rotation\n{new_public}\n{old_public}\n"),
    )
    .unwrap();
    let cases = [
        (Format::ZSTD, "zstd -q -3 -c \"$1\""),
        (Format::ZSTD, "zstd -q -19 -c \"$1\""),
        (Format::ZSTD, "zstd -q -T2 -c \"$1\""),
        (Format::AGE, "age -R \"$2\" \"$1\""),
        (Format::ZSTD_AGE, "zstd -q -c \"$1\" | age -R \"$2\""),
    ];
    let _ = (tool("age"), tool("zstd"));
    for (format, script) in cases {
        let out = Command::new("bash")
            .args(["-o", "pipefail", "-c", script, "encode"])
            .arg(&snap.path)
            .arg(&recipients_file)
            .stderr(Stdio::inherit())
            .output()
            .expect("run bash");
        assert!(out.status.success(), "`{script}` failed");
        let expected = Expected {
            format,
            sha256: sha256(&snap.bytes),
            size: Some(snap.bytes.len() as u64),
            limit: snap.bytes.len() as u64,
        };
        for key in [&old_key, &new_key] {
            let ids = Identities::from_file(key).unwrap();
            let plain = decode_bytes(&out.stdout, &expected, Some(&ids))
                .unwrap_or_else(|e| panic!("{script}: {e}"));
            assert!(plain == snap.bytes, "`{script}`: decoded plaintext differs");
        }
    }
}

#[test]
fn two_recipients_let_either_key_decrypt_with_etcdbak_and_with_age() {
    let snap = snapshot();
    let (old_key, old_public) = keyfile("rot-old");
    let (new_key, new_public) = keyfile("rot-new");
    let recipients =
        Recipients::parse(&format!("{old_public},{new_public}"), "ETCDBAK_ENCRYPT_TO").unwrap();
    let obj = object_path("rotation", Format::ZSTD_AGE);
    let recorded = encode_file(Format::ZSTD_AGE, Some(&recipients), &obj);
    let stored = std::fs::read(&obj).unwrap();
    for key in [&old_key, &new_key] {
        let ids = Identities::from_file(key).unwrap();
        assert!(
            decode_bytes(&stored, &Expected::from_recorded(&recorded), Some(&ids)).unwrap()
                == snap.bytes
        );
        let out = snap.dir.join(format!("rotation-{}.db", rand_suffix()));
        decode_with_tools(&obj, Format::ZSTD_AGE, key, &out);
        assert!(std::fs::read(&out).unwrap() == snap.bytes);
    }
}

#[test]
fn wrong_identity_truncation_a_flipped_byte_and_a_bomb_are_refused() {
    let (key, public) = keyfile("refuse");
    let (other_key, _) = keyfile("refuse-other");
    let ids = Identities::from_file(&key).unwrap();
    let other = Identities::from_file(&other_key).unwrap();
    let recipients = Recipients::parse(&public, "test").unwrap();
    for format in Format::ALL {
        let obj = object_path("refuse", format);
        let recorded = encode_file(format, Some(&recipients), &obj);
        let stored = std::fs::read(&obj).unwrap();
        let expected = Expected::from_recorded(&recorded);
        if format.encrypted {
            let err = decode_bytes(&stored, &expected, Some(&other)).unwrap_err();
            assert!(
                matches!(err, Error::WrongIdentity { .. }),
                "{format:?}: {err}"
            );
            assert_eq!(err.class(), Class::Auth);
        }
        let err = decode_bytes(&stored[..stored.len() - 100], &expected, Some(&ids)).unwrap_err();
        assert_eq!(
            err.class(),
            Class::CorruptSnapshot,
            "{format:?} truncated: {err}"
        );
        let flipped = flip_a_bit_that_matters(&stored, &snapshot().bytes);
        let err = decode_bytes(&flipped, &expected, Some(&ids)).unwrap_err();
        assert_eq!(
            err.class(),
            Class::CorruptSnapshot,
            "{format:?} flipped: {err}"
        );
        // A limit below the real size is what a bomb looks like from here: refused at the limit.
        let small = Expected {
            limit: recorded.plaintext_size / 4,
            ..expected
        };
        let err = decode_bytes(&stored, &small, Some(&ids)).unwrap_err();
        assert!(
            matches!(err, Error::TooLarge { .. }),
            "{format:?} bomb: {err}"
        );
    }
}

#[test]
fn a_zstd_bomb_made_by_the_zstd_tool_is_refused_at_the_limit() {
    // 512 MiB of zeros as `zstd` compresses them (a few KiB), declared as a 1 MiB snapshot.
    let mut child = tool("zstd")
        .args(["-q", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run zstd");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..512 {
            stdin.write_all(&zeros).unwrap();
        }
    });
    let mut bomb = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut bomb).unwrap();
    writer.join().unwrap();
    assert!(child.wait().unwrap().success());
    assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
    let expected = Expected {
        format: Format::ZSTD,
        sha256: [0; 32],
        size: Some(1 << 20),
        limit: 1 << 20,
    };
    let err = decode_bytes(&bomb, &expected, None).unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: 1048576 }), "{err}");
    assert_eq!(err.class(), Class::CorruptSnapshot);
}
