//! baychain's native signature checks: Ed25519 verification under ZIP-215 rules.
//!
//! Every node must reach the same verdict on every transaction, whichever batch the
//! transaction landed in. RFC 8032 leaves implementations free to check signatures
//! with or without the cofactor, and libraries differ on edge cases (non-canonical
//! point encodings, points of small order), so single and batch checks can disagree.
//! ZIP-215 fixes one rule: R and A may use any encoding that decompresses (canonical
//! or not), S must be canonical (S < l), and the check is cofactored,
//! [8]([S]B - R - [k]A) = 0. Under that rule a batch verifies exactly when each of its
//! signatures does, so a batch may be checked at once and, only if it fails, one by
//! one to find the failing signatures. The crate `ed25519-zebra` implements it; this
//! is also what CometBFT applies to Ed25519 signatures.
//!
//! One rule is added on top, per signature so that batching cannot change it: a public
//! key of small order is refused. Under ZIP-215 anyone can produce signatures that
//! verify for such a key, so an account behind one would have no owner.

use std::sync::OnceLock;

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{Identity, IsIdentity};
use ed25519_zebra::{batch, Signature, VerificationKey, VerificationKeyBytes};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha512};

/// Most signatures per batch equation. The equation is a multiscalar multiplication
/// over 2n + 1 points, which curve25519-dalek computes with Straus's method below 190
/// points: measured on the AVX-512 backend, ~14.5 us a signature in equations of 16-24,
/// ~17.5 at 64 (its tables outgrow the cache) and ~13 from 96 on (Pippenger's method).
/// 24 keeps nearly all of the speed-up at every burst size and makes one bad signature
/// cost its neighbours at most 23 single checks (docs/PERFORMANCE.md, session 5).
pub const BATCH_LEN: usize = 24;

pub type Item<'a> = (&'a [u8], &'a [u8], &'a [u8]);

/// A 32-byte public key that decompresses to a point outside the small-order subgroup.
fn usable_key(public_key: &[u8]) -> Option<[u8; 32]> {
    let bytes: [u8; 32] = public_key.try_into().ok()?;
    // Looked up rather than decompressed: decompressing costs as much as a fifth of a check,
    // and the key is decompressed again by the verification itself, which refuses
    // encodings that do not decompress.
    (!small_order_encodings().contains(&bytes)).then_some(bytes)
}

/// Every 32-byte string that decompresses (under ZIP-215) to a point of small order.
///
/// An encoding is a 255-bit y (reduced mod p when decompressed) and the sign of x. If it
/// decompresses to a point T, its y field is y(T) or y(T) + p (it is below 2^255 < 2p)
/// and its sign bit is x(T)'s or, when x(T) = 0, either. So trying both sign bits of
/// y(T) and y(T) + p for the eight points T of small order finds all of them.
pub fn small_order_encodings() -> &'static [[u8; 32]] {
    static ENCODINGS: OnceLock<Vec<[u8; 32]>> = OnceLock::new();
    ENCODINGS.get_or_init(|| {
        let mut found = Vec::new();
        for torsion in eight_torsion() {
            let canonical = torsion.compress().to_bytes();
            let mut y = canonical;
            y[31] &= 0x7f;
            let mut candidates = vec![y];
            if let Some(shifted) = add_p(y) {
                candidates.push(shifted);
            }
            for mut candidate in candidates {
                for sign in [0u8, 0x80] {
                    candidate[31] = (candidate[31] & 0x7f) | sign;
                    let decoded = CompressedEdwardsY(candidate).decompress();
                    if decoded.is_some_and(|point| point.is_small_order()) && !found.contains(&candidate) {
                        found.push(candidate);
                    }
                }
            }
        }
        found
    })
}

/// The eight points of order dividing 8: the multiples of one point of order 8, found
/// as [l]Q for a point Q whose small-order component has order 8.
fn eight_torsion() -> Vec<EdwardsPoint> {
    let minus_one = -Scalar::ONE; // l - 1, so [l - 1]Q + Q = [l]Q kills Q's prime-order part
    let generator = (2u8..)
        .filter_map(|y| CompressedEdwardsY({ let mut b = [0u8; 32]; b[0] = y; b }).decompress())
        .map(|q| q * minus_one + q)
        .find(|t| !(t * Scalar::from(4u8)).is_identity())
        .expect("some small y gives a point with an order-8 component");
    let mut points = vec![EdwardsPoint::identity()];
    for _ in 1..8 {
        points.push(points[points.len() - 1] + generator);
    }
    points
}

/// y + p as a 32-byte little-endian number, if it stays below 2^255 (only for y < 19).
fn add_p(y: [u8; 32]) -> Option<[u8; 32]> {
    // p = 2^255 - 19, little-endian
    let mut p = [0xffu8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = y[i] as u16 + p[i] as u16 + carry;
        out[i] = sum as u8;
        carry = sum >> 8;
    }
    (carry == 0 && out[31] & 0x80 == 0).then_some(out)
}

pub fn verify_one(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let (Some(key), Ok(signature)) = (usable_key(public_key), <[u8; 64]>::try_from(signature)) else {
        return false;
    };
    match VerificationKey::try_from(key) {
        Ok(key) => key.verify(&Signature::from_bytes(&signature), message).is_ok(),
        Err(_) => false,
    }
}

/// Verdicts for up to BATCH_LEN items: one batch equation, single checks only if it fails.
fn verify_chunk(items: &[Item], verdicts: &mut [bool]) {
    let mut verifier = batch::Verifier::new();
    let mut queued: Vec<(usize, batch::Item)> = Vec::with_capacity(items.len());
    // The batch's random coefficients are drawn from a hash of the whole batch
    // (Fiat-Shamir): no one can pick signatures after seeing them, and the check
    // needs no source of randomness.
    let mut transcript = Sha512::new();
    for (index, &(public_key, message, signature)) in items.iter().enumerate() {
        let (Some(key), Ok(signature)) = (usable_key(public_key), <[u8; 64]>::try_from(signature)) else {
            continue; // stays false
        };
        transcript.update(key);
        transcript.update(signature);
        transcript.update((message.len() as u64).to_le_bytes());
        transcript.update(message);
        let item = batch::Item::from((VerificationKeyBytes::from(key), Signature::from_bytes(&signature), message));
        verifier.queue(item.clone());
        queued.push((index, item));
    }
    if queued.is_empty() {
        return;
    }
    let seed: [u8; 32] = transcript.finalize()[..32].try_into().expect("SHA-512 is 64 bytes");
    if verifier.verify(ChaCha20Rng::from_seed(seed)).is_ok() {
        for (index, _) in queued {
            verdicts[index] = true;
        }
    } else {
        for (index, item) in queued {
            verdicts[index] = item.verify_single().is_ok();
        }
    }
}

/// Verdicts for any number of items, in equations of near-equal size (30 items are two
/// of 15, not 24 and 6: a short equation costs more per signature).
pub fn verify_all(items: &[Item]) -> Vec<bool> {
    let mut verdicts = vec![false; items.len()];
    let size = items.len().div_ceil(items.len().div_ceil(BATCH_LEN).max(1)).max(1);
    for (chunk, out) in items.chunks(size).zip(verdicts.chunks_mut(size)) {
        verify_chunk(chunk, out);
    }
    verdicts
}

