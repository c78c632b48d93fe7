//! The model's file format: small, versioned, checked, the same bytes for the same model.
//!
//! All numbers little-endian:
//!
//! | bytes | what |
//! |---|---|
//! | 8 | magic `SARINGLR` |
//! | 2 | format version (2; 1 is read too) |
//! | 1, 1, 1, 1 | hash bits, shortest and longest character n-gram, flags (bit 0: the author name gives word and n-gram features; always set in version 1, which had no flags and a 0 here) |
//! | 8 | hash key |
//! | 4 | bias (f32) |
//! | 4 | weight scale (f32): a weight is its i16 times the scale |
//! | 4 | number of weights (must be 2^bits) |
//! | 2 × n | weights (i16) |
//! | 32 | SHA-256 of every byte before it |

use sha2::{Digest, Sha256};

use super::features::FeatureConfig;
use super::{Model, ModelError};

/// The first bytes of every model file.
pub const MAGIC: &[u8; 8] = b"SARINGLR";
/// The format version this build writes; it also reads [`VERSION_1`].
pub const VERSION: u16 = 2;
/// The first format: no flags byte (0), the author name always read for its words and n-grams.
/// An older build refuses version 2 (`ModelError::Version`) instead of reading a model with
/// features it would not compute.
pub const VERSION_1: u16 = 1;
/// Flag bit: [`FeatureConfig::name_words`].
const FLAG_NAME_WORDS: u8 = 1;
/// Largest hash size accepted (2^22 buckets, 8 MiB), so a corrupt header cannot ask for a huge
/// allocation.
const MAX_BITS: u8 = 22;
const HEADER: usize = 8 + 2 + 4 + 8 + 4 + 4 + 4;

/// Writes a model.
pub fn encode(m: &Model) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + 2 * m.weights.len() + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    let flags = if m.config.name_words {
        FLAG_NAME_WORDS
    } else {
        0
    };
    out.extend_from_slice(&[m.config.bits, m.config.ngram_min, m.config.ngram_max, flags]);
    out.extend_from_slice(&m.config.hash_key.to_le_bytes());
    out.extend_from_slice(&m.bias.to_le_bytes());
    out.extend_from_slice(&m.scale.to_le_bytes());
    out.extend_from_slice(&(m.weights.len() as u32).to_le_bytes());
    for w in &m.weights {
        out.extend_from_slice(&w.to_le_bytes());
    }
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    out
}

/// Reads a model, checking every field.
pub fn decode(bytes: &[u8]) -> Result<Model, ModelError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(ModelError::NotAModel);
    }
    if bytes.len() < HEADER + 32 {
        return Err(ModelError::Truncated {
            expected: HEADER + 32,
            found: bytes.len(),
        });
    }
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at =
        |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let version = u16_at(8);
    let name_words = match (version, bytes[13]) {
        (VERSION_1, 0) => true,
        (VERSION, flags) if flags & !FLAG_NAME_WORDS == 0 => flags & FLAG_NAME_WORDS != 0,
        (VERSION_1 | VERSION, flags) => {
            return Err(ModelError::Config(format!("unknown flags {flags:#04x}")));
        }
        _ => {
            return Err(ModelError::Version {
                found: version,
                supported: VERSION,
            });
        }
    };
    let (bits, ngram_min, ngram_max) = (bytes[10], bytes[11], bytes[12]);
    if bits == 0 || bits > MAX_BITS || ngram_min == 0 || ngram_max < ngram_min || ngram_max > 8 {
        return Err(ModelError::Config(format!(
            "hash bits {bits}, n-grams {ngram_min}..{ngram_max}"
        )));
    }
    let mut key = [0u8; 8];
    key.copy_from_slice(&bytes[14..22]);
    let hash_key = u64::from_le_bytes(key);
    let bias = f32::from_bits(u32_at(22));
    let scale = f32::from_bits(u32_at(26));
    let n = u32_at(30) as usize;
    if n != 1usize << bits {
        return Err(ModelError::Config(format!(
            "{n} weights for {bits} hash bits"
        )));
    }
    let expected = HEADER + 2 * n + 32;
    if bytes.len() != expected {
        return Err(if bytes.len() < expected {
            ModelError::Truncated {
                expected,
                found: bytes.len(),
            }
        } else {
            ModelError::Config(format!(
                "{} bytes after the checksum",
                bytes.len() - expected
            ))
        });
    }
    let body = &bytes[..expected - 32];
    if Sha256::digest(body).as_slice() != &bytes[expected - 32..] {
        return Err(ModelError::Checksum);
    }
    if !bias.is_finite() || !scale.is_finite() || scale < 0.0 {
        return Err(ModelError::Config(format!("bias {bias}, scale {scale}")));
    }
    let weights = body[HEADER..]
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    Ok(Model {
        config: FeatureConfig {
            bits,
            ngram_min,
            ngram_max,
            hash_key,
            name_words,
        },
        bias,
        scale,
        weights,
    })
}
