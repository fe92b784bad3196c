//! Damage to a stored object that a reader must refuse.

/// A copy of `stored` with one bit flipped where it changes what the object decodes to, starting from the
/// middle. Not every bit does: a zstd match inside a run of zeros copies zeros from any offset in that run,
/// so flipping its offset leaves the plaintext, and every checksum over it, exactly as it was, and that
/// object is still a good backup. Any flip of an age object breaks its authentication, so it is taken as is.
pub fn flip_a_bit_that_matters(stored: &[u8], plain: &[u8]) -> Vec<u8> {
    let middle = stored.len() / 2;
    (middle..stored.len())
        .chain(0..middle)
        .find_map(|at| {
            let mut flipped = stored.to_vec();
            flipped[at] ^= 0x01;
            let changed = zstd::stream::decode_all(&flipped[..]).map_or(true, |d| d != plain);
            changed.then_some(flipped)
        })
        .expect("one bit of the object changes its content")
}
