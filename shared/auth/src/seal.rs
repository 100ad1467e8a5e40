//! Personal data at rest, sealed: the one authenticated-encryption helper (XChaCha20-Poly1305)
//! for every value Jinguo must keep but must not keep readable (a family's phone number, a
//! referral's details).
//!
//! Guarantees: each sealed value has its own random 192-bit nonce and carries the id of the key
//! that sealed it, so keys can be rotated (new values use the current key, old ones open with
//! theirs until re-sealed). The associated data binds a value to its place, for example
//! `nomination.phone:<uuid>`: a value copied to another row or column does not open. A value
//! that was altered in any way does not open. `Debug` shows key ids, never keys.
//!
//! Format: `v1:<key id>:<nonce>:<ciphertext and tag>`, nonce and ciphertext in unpadded
//! URL-safe base64.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};

const VERSION: &str = "v1";
const NONCE_LEN: usize = 24;

/// What went wrong sealing or opening. Messages are for operators and logs; none carries a key
/// or a plaintext.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("a sealing key must be 32 bytes, written as 64 hex digits or base64")]
    BadKey,
    #[error("a key id must be 1 to 32 letters, digits, '-' or '_', got {0:?}")]
    BadKeyId(String),
    #[error("key id {0:?} is configured twice")]
    DuplicateKeyId(String),
    #[error("the current key {0:?} is not among the configured keys")]
    NoCurrentKey(String),
    #[error("the value was sealed with key {0:?}, which is not configured")]
    UnknownKey(String),
    #[error("the value is not a sealed value (v1:<key id>:<nonce>:<ciphertext>)")]
    Malformed,
    #[error("the value does not open: altered, or sealed for other associated data")]
    DoesNotOpen,
}

/// Seals and opens values with a set of keys, one of them current.
pub struct Sealer {
    keys: Vec<(String, XChaCha20Poly1305)>,
    current: usize,
}

impl Sealer {
    /// Keys by id, and the id of the one that seals new values.
    pub fn new(keys: &[(&str, [u8; 32])], current: &str) -> Result<Sealer, SealError> {
        let mut out: Vec<(String, XChaCha20Poly1305)> = Vec::with_capacity(keys.len());
        for (id, bytes) in keys {
            if id.is_empty()
                || id.len() > 32
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(SealError::BadKeyId((*id).to_owned()));
            }
            if out.iter().any(|(known, _)| known == id) {
                return Err(SealError::DuplicateKeyId((*id).to_owned()));
            }
            if bytes.iter().all(|b| *b == bytes[0]) {
                return Err(SealError::BadKey);
            }
            let key = Key::from(*bytes);
            out.push(((*id).to_owned(), XChaCha20Poly1305::new(&key)));
        }
        let current = out
            .iter()
            .position(|(id, _)| id == current)
            .ok_or_else(|| SealError::NoCurrentKey(current.to_owned()))?;
        Ok(Sealer { keys: out, current })
    }

    /// As [`Sealer::new`], with keys as configuration holds them (see [`parse_key`]).
    pub fn from_config(keys: &[(String, String)], current: &str) -> Result<Sealer, SealError> {
        let parsed = keys
            .iter()
            .map(|(id, key)| Ok((id.as_str(), parse_key(key)?)))
            .collect::<Result<Vec<_>, SealError>>()?;
        Sealer::new(&parsed, current)
    }

    /// The id of the key new values are sealed with.
    pub fn current_key_id(&self) -> &str {
        &self.keys[self.current].0
    }

    /// Seals `plaintext` for the place `associated` names (e.g. `nomination.phone:<uuid>`).
    pub fn seal(&self, plaintext: &str, associated: &str) -> String {
        let (id, cipher) = &self.keys[self.current];
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = XNonce::from(nonce_bytes);
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: associated.as_bytes(),
        };
        let ciphertext = cipher
            .encrypt(&nonce, payload)
            .expect("XChaCha20-Poly1305 encrypts any message that fits in memory");
        format!(
            "{VERSION}:{id}:{}:{}",
            URL_SAFE_NO_PAD.encode(nonce_bytes),
            URL_SAFE_NO_PAD.encode(ciphertext)
        )
    }

    /// Opens a value sealed for the same `associated` data, with whichever configured key
    /// sealed it.
    pub fn open(&self, sealed: &str, associated: &str) -> Result<String, SealError> {
        let mut parts = sealed.split(':');
        let (Some(VERSION), Some(id), Some(nonce), Some(ciphertext), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(SealError::Malformed);
        };
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(known, _)| known == id)
            .ok_or_else(|| SealError::UnknownKey(id.to_owned()))?;
        let nonce: [u8; NONCE_LEN] = URL_SAFE_NO_PAD
            .decode(nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or(SealError::Malformed)?;
        let ciphertext = URL_SAFE_NO_PAD
            .decode(ciphertext)
            .map_err(|_| SealError::Malformed)?;
        let payload = Payload {
            msg: &ciphertext,
            aad: associated.as_bytes(),
        };
        let plaintext = cipher
            .decrypt(&XNonce::from(nonce), payload)
            .map_err(|_| SealError::DoesNotOpen)?;
        String::from_utf8(plaintext).map_err(|_| SealError::DoesNotOpen)
    }

    /// Whether a sealed value uses a key other than the current one (re-seal it when rotating).
    pub fn needs_reseal(&self, sealed: &str) -> bool {
        sealed.split(':').nth(1) != Some(self.current_key_id())
    }
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("current", &self.current_key_id())
            .field(
                "keys",
                &self
                    .keys
                    .iter()
                    .map(|(id, _)| id.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A 32-byte key as configuration holds it: 64 hex digits, or base64 (standard or URL-safe,
/// padded or not). Generate one with `openssl rand -hex 32`.
pub fn parse_key(s: &str) -> Result<[u8; 32], SealError> {
    let s = s.trim();
    let bytes = if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| SealError::BadKey)?
    } else {
        [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(s).ok())
            .ok_or(SealError::BadKey)?
    };
    bytes.try_into().map_err(|_| SealError::BadKey)
}

/// The sealer of this deployment, from configuration (`crypto.*`): built once at start by
/// whoever needs it (the API, each program's worker, the CLI).
pub fn sealer_from(config: &jinguo_config::Config) -> Result<Sealer, jinguo_config::ConfigError> {
    Sealer::from_config(&config.crypto.data_keys, &config.crypto.data_key_current).map_err(|e| {
        jinguo_config::ConfigError {
            key: "crypto.data_keys".into(),
            origin: jinguo_config::Origin::Defaults,
            problem: e.to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const K1: [u8; 32] = [1; 32];

    fn k(seed: u8) -> [u8; 32] {
        std::array::from_fn(|i| seed.wrapping_add(i as u8))
    }

    fn sealer() -> Sealer {
        Sealer::new(&[("k1", k(1)), ("k2", k(2))], "k2").unwrap()
    }

    #[test]
    fn a_sealed_value_opens_only_for_its_place() {
        let s = sealer();
        let sealed = s.seal("13912345678", "nomination.phone:1");
        assert!(sealed.starts_with("v1:k2:"));
        assert!(!sealed.contains("13912345678"));
        assert_eq!(
            s.open(&sealed, "nomination.phone:1"),
            Ok("13912345678".to_owned())
        );
        assert_eq!(
            s.open(&sealed, "nomination.phone:2"),
            Err(SealError::DoesNotOpen)
        );
        assert_ne!(sealed, s.seal("13912345678", "nomination.phone:1"));
    }

    #[test]
    fn old_keys_still_open_after_rotation() {
        let old = Sealer::new(&[("k1", k(1))], "k1").unwrap();
        let sealed = old.seal("李秀英", "referral.name:7");
        let rotated = sealer();
        assert!(rotated.needs_reseal(&sealed));
        assert_eq!(
            rotated.open(&sealed, "referral.name:7"),
            Ok("李秀英".to_owned())
        );
        let only_new = Sealer::new(&[("k2", k(2))], "k2").unwrap();
        assert_eq!(
            only_new.open(&sealed, "referral.name:7"),
            Err(SealError::UnknownKey("k1".into()))
        );
        let resealed = rotated.seal("李秀英", "referral.name:7");
        assert!(!rotated.needs_reseal(&resealed));
    }

    #[test]
    fn a_value_relabelled_with_another_key_id_does_not_open() {
        let s = sealer();
        let sealed = s.seal("x", "a");
        let relabelled = sealed.replacen("v1:k2:", "v1:k1:", 1);
        assert_eq!(s.open(&relabelled, "a"), Err(SealError::DoesNotOpen));
    }

    #[test]
    fn keys_come_from_hex_or_base64_and_are_never_printed() {
        let hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
        let bytes = parse_key(hex).unwrap();
        assert_eq!(bytes, k(0));
        assert_eq!(parse_key(&STANDARD.encode(bytes)), Ok(bytes));
        assert_eq!(parse_key(&URL_SAFE_NO_PAD.encode(bytes)), Ok(bytes));
        assert_eq!(parse_key("too short"), Err(SealError::BadKey));
        assert_eq!(parse_key(&hex[..62]), Err(SealError::BadKey));
        let s = Sealer::from_config(&[("2026-12".into(), hex.into())], "2026-12").unwrap();
        let shown = format!("{s:?}");
        assert_eq!(shown, r#"Sealer { current: "2026-12", keys: ["2026-12"] }"#);
    }

    #[test]
    fn bad_configuration_is_refused() {
        assert_eq!(
            Sealer::new(&[("k1", k(1))], "k2").unwrap_err(),
            SealError::NoCurrentKey("k2".into())
        );
        assert_eq!(
            Sealer::new(&[("k1", k(1)), ("k1", k(2))], "k1").unwrap_err(),
            SealError::DuplicateKeyId("k1".into())
        );
        assert_eq!(
            Sealer::new(&[("a:b", k(1))], "a:b").unwrap_err(),
            SealError::BadKeyId("a:b".into())
        );
        assert_eq!(
            Sealer::new(&[("k1", K1)], "k1").unwrap_err(),
            SealError::BadKey
        );
    }

    proptest! {
        #[test]
        fn seal_then_open_round_trips(plaintext in any::<String>(), associated in any::<String>()) {
            let s = sealer();
            let sealed = s.seal(&plaintext, &associated);
            prop_assert_eq!(s.open(&sealed, &associated), Ok(plaintext));
        }

        #[test]
        fn any_changed_character_or_other_associated_data_fails(
            plaintext in ".{0,40}",
            associated in ".{0,20}",
            other in ".{0,20}",
            at in any::<usize>(),
            replacement in proptest::char::range('0', 'z'),
        ) {
            let s = sealer();
            let sealed = s.seal(&plaintext, &associated);
            if other != associated {
                prop_assert!(s.open(&sealed, &other).is_err());
            }
            let mut chars: Vec<char> = sealed.chars().collect();
            let at = at % chars.len();
            prop_assume!(chars[at] != replacement);
            chars[at] = replacement;
            let altered: String = chars.into_iter().collect();
            prop_assert!(s.open(&altered, &associated).is_err());
        }

        #[test]
        fn any_flipped_ciphertext_bit_fails(plaintext in ".{0,40}", at in any::<usize>(), bit in 0u8..8) {
            let s = sealer();
            let sealed = s.seal(&plaintext, "a");
            let parts: Vec<&str> = sealed.split(':').collect();
            let mut body = URL_SAFE_NO_PAD.decode(parts[3]).unwrap();
            let at = at % body.len();
            body[at] ^= 1 << bit;
            let altered = format!("{}:{}:{}:{}", parts[0], parts[1], parts[2], URL_SAFE_NO_PAD.encode(body));
            prop_assert_eq!(s.open(&altered, "a"), Err(SealError::DoesNotOpen));
        }

        #[test]
        fn open_never_panics(junk in any::<String>()) {
            let _ = sealer().open(&junk, "a");
            let _ = sealer().open(&format!("v1:k2:{junk}"), "a");
        }
    }
}
