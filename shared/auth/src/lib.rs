//! Who is asking, and may they: one place for the secrets Jinguo hands out (action links,
//! session cookies, API tokens), the authorization decision with its data, and the audit log.
//!
//! Every secret is 256 random bits, shown once, stored only as its SHA-256 hash.

pub mod checkpoint;
pub mod links;
pub mod rotate;
pub mod seal;
pub mod staff;

use std::fmt;

use chrono::{DateTime, Utc};
use jinguo_core::auth::{Target, authorize};
use jinguo_store::{Conn, StoreError, audit, staff as store_staff};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A secret token: 32 random bytes, hex-encoded. Never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The one source of secrets.
    pub fn generate() -> Secret {
        let bytes: [u8; 32] = rand::random();
        Secret(hex(&bytes))
    }

    /// Takes a secret as presented (URL, cookie, header); `None` unless it has the shape of one.
    pub fn parse(s: &str) -> Option<Secret> {
        (s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Secret(s.to_ascii_lowercase()))
    }

    /// What the database keeps.
    pub fn hash(&self) -> String {
        hash(self.0.as_bytes())
    }

    /// The secret itself, for the one place it is shown (a link, a cookie, a terminal).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256, hex.
pub fn hash(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Loads who `person` is and decides. The one function endpoints and pages call.
pub async fn may(
    conn: &mut Conn<'_>,
    person: Uuid,
    action: &str,
    target: Target<'_>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let Some(principal) = store_staff::principal(conn, person, now).await? else {
        return Ok(false);
    };
    let table = store_staff::permissions(conn).await?;
    Ok(authorize(&principal, action, target, &table, now))
}

/// Records an audit entry in the caller's transaction. `details` must not hold personal data.
pub async fn record(
    conn: &mut Conn<'_>,
    actor: &str,
    action: &str,
    subject: &str,
    details: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    audit::append(conn, actor, action, subject, &details, now).await
}

/// The keyed hash that identifies a household by one of its keys (the canonical ID number or
/// phone): the same person always gives the same hash, however the number was typed. Both
/// programs that know households (nominations, referrals) find them through it.
pub fn household_hash(key: &str, identity: &jinguo_core::identity::HouseholdKey) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length works");
    mac.update(identity.as_str().as_bytes());
    hex(&mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_hex_and_never_debug_printed() {
        let a = Secret::generate();
        let b = Secret::generate();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 64);
        assert_eq!(Secret::parse(a.expose()), Some(a.clone()));
        assert_eq!(format!("{a:?}"), "Secret([redacted])");
        assert_ne!(a.hash(), a.expose());
        assert!(Secret::parse("not-a-token").is_none());
    }
}
