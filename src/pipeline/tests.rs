//! Round trips and refusals of the whole chain, in memory. tests/pipeline.rs does the same on a real etcd
//! snapshot and against the standard `age` and `zstd` tools.

use std::io::{self, Read, Write};

use age::secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use super::*;
use crate::exit::Class;

const KNOWN: &[u8] = b"tenant-a-db-password=hunter2-correct-horse";

/// Something shaped like an etcd database: repeated keys and JSON, some random bytes, a known value inside.
fn plaintext(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 256);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut i = 0u64;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        write!(out, "/registry/secrets/ns-{}/s-{i}\x00{{\"kind\":\"Secret\",\"data\":{{\"k\":\"{x:016x}\"}}}}", i % 97)
            .unwrap();
        if i == 1000 {
            out.extend_from_slice(KNOWN);
        }
        i += 1;
    }
    out.truncate(len);
    out
}

fn keypair() -> (Identities, Recipients) {
    let id = age::x25519::Identity::generate();
    let secret = id.to_string();
    let ids = Identities::parse(secret.expose_secret(), "test").unwrap();
    let recipients = ids.recipients();
    (ids, recipients)
}

fn encoding(format: Format, recipients: &Recipients) -> Encoding {
    Encoding {
        compression: if format.compressed {
            Compression::Zstd { level: 3 }
        } else {
            Compression::None
        },
        recipients: format.encrypted.then(|| recipients.clone()),
        threads: 0,
    }
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

fn decode_all(
    stored: &[u8],
    recorded: &ObjectFacts,
    ids: Option<&Identities>,
) -> Result<Vec<u8>, Error> {
    decode(stored, Vec::new(), &Expected::from_recorded(recorded), ids).map(|(out, _)| out)
}

#[test]
fn every_format_round_trips_through_the_writer_and_the_reader() {
    let plain = plaintext(1 << 20);
    let (ids, recipients) = keypair();
    for format in Format::ALL {
        let enc = encoding(format, &recipients);
        let (stored, recorded) = encode(&plain[..], Vec::new(), &enc).unwrap();
        let mut pulled = Vec::new();
        let mut reader = EncodeReader::new(&plain[..], &enc).unwrap();
        reader.read_to_end(&mut pulled).unwrap();
        let pulled_record = *reader.recorded().expect("recorded at EOF");

        for (bytes, rec) in [(&stored, recorded), (&pulled, pulled_record)] {
            assert_eq!(rec.pipeline, enc.pipeline(), "{format:?}");
            assert_eq!(rec.pipeline.format(), format);
            assert_eq!(rec.plaintext_sha256, sha256(&plain));
            assert_eq!(rec.plaintext_size, plain.len() as u64);
            assert_eq!(rec.stored_size, Some(bytes.len() as u64));
            let (out, decoded) = decode(
                &bytes[..],
                Vec::new(),
                &Expected::from_recorded(&rec),
                Some(&ids),
            )
            .unwrap();
            assert!(out == plain, "{format:?}: plaintext differs");
            assert_eq!(decoded.plaintext_size, plain.len() as u64);
            assert_eq!(decoded.stored_size, bytes.len() as u64);
        }
        if format.compressed {
            assert!(
                stored.len() * 2 < plain.len(),
                "{format:?}: {} bytes",
                stored.len()
            );
        }
        if format == Format::PLAIN {
            assert!(stored == plain);
        }
    }
}

#[test]
fn multithreaded_zstd_round_trips() {
    let plain = plaintext(3 << 20);
    let (ids, recipients) = keypair();
    let enc = Encoding {
        threads: 2,
        ..encoding(Format::ZSTD_AGE, &recipients)
    };
    let (stored, recorded) = encode(&plain[..], Vec::new(), &enc).unwrap();
    assert!(decode_all(&stored, &recorded, Some(&ids)).unwrap() == plain);
}

#[test]
fn a_known_value_never_appears_in_an_encrypted_object() {
    let plain = plaintext(256 << 10);
    let (_, recipients) = keypair();
    let find = |hay: &[u8]| hay.windows(KNOWN.len()).any(|w| w == KNOWN);
    assert!(find(&plain));
    for format in Format::ALL {
        let (stored, _) = encode(&plain[..], Vec::new(), &encoding(format, &recipients)).unwrap();
        assert_eq!(find(&stored), format == Format::PLAIN, "{format:?}");
    }
}

#[test]
fn either_of_two_recipients_decrypts() {
    let plain = plaintext(100_000);
    let (old_id, old) = keypair();
    let (new_id, mut both) = keypair();
    both.extend(old);
    assert_eq!(both.len(), 2);
    let (stored, recorded) =
        encode(&plain[..], Vec::new(), &encoding(Format::ZSTD_AGE, &both)).unwrap();
    for ids in [&old_id, &new_id] {
        assert!(decode_all(&stored, &recorded, Some(ids)).unwrap() == plain);
    }
}

#[test]
fn a_wrong_or_missing_identity_is_refused() {
    let plain = plaintext(10_000);
    let (_, recipients) = keypair();
    let (other, _) = keypair();
    for format in [Format::AGE, Format::ZSTD_AGE] {
        let (stored, recorded) =
            encode(&plain[..], Vec::new(), &encoding(format, &recipients)).unwrap();
        let err = decode_all(&stored, &recorded, Some(&other)).unwrap_err();
        assert!(matches!(err, Error::WrongIdentity { count: 1 }), "{err}");
        assert_eq!(err.class(), Class::Auth);
        let err = decode_all(&stored, &recorded, None).unwrap_err();
        assert!(matches!(err, Error::IdentityRequired), "{err}");
        assert_eq!(err.class(), Class::Usage);
    }
}

#[test]
fn truncation_is_refused_at_any_length() {
    let plain = plaintext(300_000);
    let (ids, recipients) = keypair();
    for format in Format::ALL {
        let (stored, recorded) =
            encode(&plain[..], Vec::new(), &encoding(format, &recipients)).unwrap();
        for cut in [
            0,
            1,
            20,
            stored.len() / 3,
            stored.len() / 2,
            stored.len() - 17,
            stored.len() - 1,
        ] {
            let err = decode_all(&stored[..cut], &recorded, Some(&ids)).unwrap_err();
            assert_eq!(
                err.class(),
                Class::CorruptSnapshot,
                "{format:?} cut {cut}: {err}"
            );
            // age cannot tell a cut inside a chunk from a modified one; everything else says truncated.
            let ok = matches!(err, Error::Truncated { .. })
                || (format.encrypted && matches!(err, Error::Tampered | Error::BadHeader { .. }))
                || (format.compressed && matches!(err, Error::CorruptCompression { .. }));
            assert!(ok, "{format:?} cut {cut}: {err}");
        }
    }
}

#[test]
fn one_flipped_byte_is_refused() {
    let plain = plaintext(300_000);
    let (ids, recipients) = keypair();
    for format in Format::ALL {
        let (stored, recorded) =
            encode(&plain[..], Vec::new(), &encoding(format, &recipients)).unwrap();
        for at in [stored.len() / 2, stored.len() - 1] {
            let mut bad = stored.clone();
            bad[at] ^= 0x01;
            let err = decode_all(&bad, &recorded, Some(&ids)).unwrap_err();
            assert_eq!(
                err.class(),
                Class::CorruptSnapshot,
                "{format:?} at {at}: {err}"
            );
            let want = match format {
                f if f.encrypted => matches!(err, Error::Tampered),
                Format::ZSTD => matches!(
                    err,
                    Error::CorruptCompression { .. } | Error::DigestMismatch { .. }
                ),
                _ => matches!(err, Error::DigestMismatch { .. }),
            };
            assert!(want, "{format:?} at {at}: {err}");
        }
    }
}

#[test]
fn a_decompression_bomb_stops_at_the_limit() {
    // 256 MiB of zeros compress to a few KiB; the limit is 1 MiB.
    let zeros = io::repeat(0).take(256 << 20);
    let (stored, recorded) = encode(zeros, Vec::new(), &Encoding::default()).unwrap();
    assert!(stored.len() < 64 << 10, "{}", stored.len());
    let expected = Expected {
        limit: 1 << 20,
        ..Expected::from_recorded(&recorded)
    };
    let mut out = Vec::new();
    let err = decode(&stored[..], &mut out, &expected, None).unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: 1048576 }), "{err}");
    assert_eq!(err.class(), Class::CorruptSnapshot);
    assert!(
        out.len() <= 1 << 20,
        "{} bytes written before the refusal",
        out.len()
    );
}

#[test]
fn a_wrong_digest_or_size_is_refused() {
    let plain = plaintext(50_000);
    let (stored, recorded) = encode(&plain[..], Vec::new(), &Encoding::default()).unwrap();
    let mut wrong = recorded;
    wrong.plaintext_sha256[0] ^= 1;
    let err = decode_all(&stored, &wrong, None).unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    let expected = Expected {
        size: Some(plain.len() as u64 - 1),
        ..Expected::from_recorded(&recorded)
    };
    let err = decode(&stored[..], Vec::new(), &expected, None).unwrap_err();
    assert!(matches!(err, Error::SizeMismatch { .. }), "{err}");
}

#[test]
fn an_object_from_before_the_pipeline_decodes_as_plain() {
    let plain = plaintext(50_000);
    let expected = Expected::plain(sha256(&plain), plain.len() as u64);
    let (out, decoded) = decode(&plain[..], Vec::new(), &expected, None).unwrap();
    assert!(out == plain);
    assert_eq!(decoded.stored_size, plain.len() as u64);
}

#[derive(Debug)]
struct Failing;

impl Read for Failing {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "connection reset",
        ))
    }
}

impl Write for Failing {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::BrokenPipe, "broken pipe"))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn failures_outside_the_chain_are_blamed_on_their_side() {
    let (ids, recipients) = keypair();
    let plain = plaintext(200_000);
    for format in Format::ALL {
        let enc = encoding(format, &recipients);
        let err = encode(&plain[..], Failing, &enc).unwrap_err();
        assert!(matches!(err, Error::Sink(_)), "{format:?}: {err}");
        assert_eq!(err.class(), Class::Storage);
        let err = encode(Failing, Vec::new(), &enc).unwrap_err();
        assert!(matches!(err, Error::Input(_)), "{format:?}: {err}");
        let mut reader = EncodeReader::new(Failing, &enc).unwrap();
        // An encrypted object's age header is out before the first plaintext byte is read.
        let err = Error::from_io(
            reader.read_to_end(&mut Vec::new()).unwrap_err(),
            Error::Source,
        );
        assert!(matches!(err, Error::Input(_)), "{format:?}: {err}");

        let (_, recorded) = encode(&plain[..], Vec::new(), &enc).unwrap();
        let err = decode_all_from(Failing, &recorded, &ids).unwrap_err();
        assert!(matches!(err, Error::Source(_)), "{format:?}: {err}");
        assert_eq!(err.class(), Class::Storage);
        let (stored, _) = encode(&plain[..], Vec::new(), &enc).unwrap();
        let err = decode(
            &stored[..],
            Failing,
            &Expected::from_recorded(&recorded),
            Some(&ids),
        )
        .unwrap_err();
        assert!(matches!(err, Error::Output(_)), "{format:?}: {err}");
    }
}

fn decode_all_from(
    src: impl Read,
    recorded: &ObjectFacts,
    ids: &Identities,
) -> Result<Vec<u8>, Error> {
    decode(
        src,
        Vec::new(),
        &Expected::from_recorded(recorded),
        Some(ids),
    )
    .map(|(out, _)| out)
}
