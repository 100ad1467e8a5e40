//! Signed checkpoints of the audit chain's head, kept outside the database.
//!
//! The hash chain (`jinguo_store::audit`) shows a changed row and a removed row, but not the
//! newest rows removed: what is left is a shorter chain that is still whole. A checkpoint names
//! the chain's latest row — its seq, its hash, how many rows the chain held up to it — and when
//! it was taken, signed with HMAC-SHA256 under `audit.checkpoint_key`. It is written where
//! someone who can edit the database cannot quietly rewrite it: a file
//! (`audit.checkpoint_file`) and the log.
//!
//! Guarantees, while the key stays secret:
//! - A chain that no longer holds the checkpointed row with its hash, or holds another number
//!   of rows up to it, fails [`Checkpoint::check`] (`jinguo audit verify`), naming the row.
//! - A checkpoint whose file was edited fails [`Signed::open`].
//! - [`write`] signs a new checkpoint only over a chain that still holds the previous one and is
//!   whole after it: a truncation is never signed over, and the file, which is the evidence, is
//!   then left as it is.
//!
//! What it cannot see: rows appended after the latest checkpoint are protected by the chain
//! alone, so deleting those goes unnoticed. Checkpoints are written often
//! (`audit.checkpoint_seconds`) to keep that window short.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, KeyInit, Mac};
use jinguo_store::audit::{self, Point};
use jinguo_store::{Conn, Store, StoreError};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// What the signature covers before the fields: a MAC made for something else never verifies.
const DOMAIN: &str = "jinguo audit checkpoint v1";

/// The chain's latest row as seen at `at`: its seq, its hash, and how many rows the chain held
/// up to and including it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    /// When the checkpoint was taken (UTC).
    pub at: DateTime<Utc>,
    pub count: i64,
}

/// A checkpoint with its MAC: what the file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    #[serde(flatten)]
    pub checkpoint: Checkpoint,
    /// HMAC-SHA256 over the checkpoint's fields, hex.
    pub mac: String,
}

/// Why a checkpoint and the chain do not agree (or no new checkpoint may be signed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The file was edited, or signed under another key.
    #[error("audit checkpoint signature does not verify")]
    BadSignature,
    #[error(
        "audit log truncated or rewritten: checkpoint row {seq} is missing (the checkpoint of {} counted {count} rows)",
        stamp(.at)
    )]
    Missing {
        seq: i64,
        count: i64,
        at: DateTime<Utc>,
    },
    #[error(
        "audit log truncated or rewritten: checkpoint row {seq} has hash {found}, the checkpoint of {} says {expected}",
        stamp(.at)
    )]
    HashDiffers {
        seq: i64,
        at: DateTime<Utc>,
        expected: String,
        found: String,
    },
    #[error(
        "audit log truncated or rewritten: checkpoint row {seq} is row {found} of the chain, the checkpoint of {} counted {expected}",
        stamp(.at)
    )]
    CountDiffers {
        seq: i64,
        at: DateTime<Utc>,
        expected: i64,
        found: i64,
    },
    /// The chain itself is broken after the checkpoint.
    #[error("audit log broken at row {seq}: {reason}")]
    Broken { seq: i64, reason: &'static str },
}

fn stamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Checkpoint {
    /// A checkpoint of `head`, taken `at`.
    pub fn of(head: Point, at: DateTime<Utc>) -> Checkpoint {
        Checkpoint {
            seq: head.seq,
            hash: head.hash,
            at,
            count: head.count,
        }
    }

    /// The row it names, as the store names rows.
    pub fn point(&self) -> Point {
        Point {
            seq: self.seq,
            hash: self.hash.clone(),
            count: self.count,
        }
    }

    pub fn sign(self, key: &str) -> Signed {
        let mac = hex(&mac(key, &self).finalize().into_bytes());
        Signed {
            checkpoint: self,
            mac,
        }
    }

    /// Compares with what the chain holds at this checkpoint's seq (`None`: no such row).
    pub fn check(&self, found: Option<&Point>) -> Result<(), Problem> {
        let Some(found) = found else {
            return Err(Problem::Missing {
                seq: self.seq,
                count: self.count,
                at: self.at,
            });
        };
        if found.hash != self.hash {
            return Err(Problem::HashDiffers {
                seq: self.seq,
                at: self.at,
                expected: self.hash.clone(),
                found: found.hash.clone(),
            });
        }
        if found.count != self.count {
            return Err(Problem::CountDiffers {
                seq: self.seq,
                at: self.at,
                expected: self.count,
                found: found.count,
            });
        }
        Ok(())
    }
}

impl Signed {
    /// The checkpoint, if its MAC verifies under `key` (compared in constant time).
    pub fn open(&self, key: &str) -> Result<&Checkpoint, Problem> {
        let tag = unhex(&self.mac).ok_or(Problem::BadSignature)?;
        mac(key, &self.checkpoint)
            .verify_slice(&tag)
            .map_err(|_| Problem::BadSignature)?;
        Ok(&self.checkpoint)
    }
}

/// The MAC over the domain and the fields, each length-prefixed so no two checkpoints sign
/// alike.
fn mac(key: &str, c: &Checkpoint) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length works");
    let at = c.at.to_rfc3339_opts(SecondsFormat::Nanos, true);
    for field in [
        DOMAIN,
        &c.seq.to_string(),
        &c.hash,
        &at,
        &c.count.to_string(),
    ] {
        mac.update(&(field.len() as u64).to_be_bytes());
        mac.update(field.as_bytes());
    }
    mac
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

// --- against the database -------------------------------------------------------------------

/// Compares the chain with `checkpoint` (whose signature the caller has verified).
pub async fn check(
    conn: &mut Conn<'_>,
    checkpoint: &Checkpoint,
) -> Result<Result<(), Problem>, StoreError> {
    let found = audit::point(conn, checkpoint.seq).await?;
    Ok(checkpoint.check(found.as_ref()))
}

/// The checkpoint to take `now`: the chain's head if the chain has grown past `previous`, or
/// `None` (nothing new, or an empty log). Refused when the chain no longer holds `previous` or
/// is broken after it.
pub async fn next(
    conn: &mut Conn<'_>,
    previous: Option<&Checkpoint>,
    now: DateTime<Utc>,
) -> Result<Result<Option<Checkpoint>, Problem>, StoreError> {
    let from = match previous {
        Some(p) => {
            if let Err(problem) = check(conn, p).await? {
                return Ok(Err(problem));
            }
            p.point()
        }
        None => Point::genesis(),
    };
    let start = from.seq;
    Ok(match audit::walk(conn, from).await? {
        Err(b) => Err(Problem::Broken {
            seq: b.seq,
            reason: b.reason,
        }),
        Ok(head) if head.seq == start => Ok(None),
        Ok(head) => Ok(Some(Checkpoint::of(head, now))),
    })
}

// --- the file -------------------------------------------------------------------------------

/// Why a checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("reading the audit checkpoint {}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the audit checkpoint {} is not a checkpoint", .path.display())]
    Malformed {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("writing the audit checkpoint {}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The checkpoint in the file does not verify or the chain no longer holds it: nothing was
    /// written, the file is kept as evidence.
    #[error("no new audit checkpoint written, {} kept as it is", .path.display())]
    Refused {
        path: PathBuf,
        #[source]
        problem: Problem,
    },
    #[error("reading the audit log")]
    Store(#[from] StoreError),
}

/// The checkpoint in `path`, or `None` when there is no such file. The signature is not checked
/// here: [`Signed::open`].
pub fn load(path: &Path) -> Result<Option<Signed>, CheckpointError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(CheckpointError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|source| CheckpointError::Malformed {
            path: path.to_owned(),
            source,
        })
}

/// Writes `signed` to `path` atomically: a temporary file in the same directory (created if
/// missing), synced, then renamed over `path`. A reader sees the old checkpoint or the new one,
/// never half of one.
pub fn save(path: &Path, signed: &Signed) -> Result<(), CheckpointError> {
    let failed = |source| CheckpointError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(failed)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "audit-checkpoint".to_owned());
    let temp = dir.join(format!(
        ".{name}.{}.{:016x}.tmp",
        std::process::id(),
        rand::random::<u64>()
    ));
    let mut json = serde_json::to_string_pretty(signed).expect("a checkpoint serialises");
    json.push('\n');
    let written = std::fs::File::create(&temp).and_then(|mut f| {
        f.write_all(json.as_bytes())?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&temp, path)) {
        let _ = std::fs::remove_file(&temp);
        return Err(failed(e));
    }
    // The rename is durable once the directory is synced (best effort: not every platform
    // opens directories).
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// What [`write`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// A new checkpoint, in the file and the log.
    New(Signed),
    /// The file's checkpoint already names the chain's head.
    UpToDate(Checkpoint),
    /// The log is empty and no checkpoint exists: nothing to sign.
    Empty,
}

/// Writes a signed checkpoint of the chain's head to `path` and the log when the chain has
/// grown past the checkpoint already in `path`. Refuses, writing nothing, when that checkpoint
/// does not verify under `key` or the chain no longer holds it or is broken after it
/// ([`CheckpointError::Refused`]).
pub async fn write(
    store: &Store,
    key: &str,
    path: &Path,
    now: DateTime<Utc>,
) -> Result<Written, CheckpointError> {
    let refused = |problem| CheckpointError::Refused {
        path: path.to_owned(),
        problem,
    };
    let previous = match load(path)? {
        Some(signed) => Some(signed.open(key).map_err(refused)?.clone()),
        None => None,
    };
    let last = previous.clone();
    let taken = store
        .read(move |c| Box::pin(async move { next(c, last.as_ref(), now).await }))
        .await?
        .map_err(refused)?;
    let Some(checkpoint) = taken else {
        return Ok(previous.map_or(Written::Empty, Written::UpToDate));
    };
    let signed = checkpoint.sign(key);
    save(path, &signed)?;
    let c = &signed.checkpoint;
    tracing::info!(
        seq = c.seq,
        hash = %c.hash,
        count = c.count,
        at = %c.at.to_rfc3339_opts(SecondsFormat::Nanos, true),
        mac = %signed.mac,
        file = %path.display(),
        "audit checkpoint written"
    );
    Ok(Written::New(signed))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "a-test-checkpoint-key";

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            seq: 42,
            hash: "ab".repeat(32),
            at: DateTime::from_timestamp(1_795_000_000, 123_456_000).unwrap(),
            count: 41,
        }
    }

    fn point(seq: i64, hash: &str, count: i64) -> Point {
        Point {
            seq,
            hash: hash.to_owned(),
            count,
        }
    }

    #[test]
    fn a_signed_checkpoint_opens_with_its_key() {
        let signed = checkpoint().sign(KEY);
        assert_eq!(signed.mac.len(), 64);
        assert_eq!(signed.open(KEY), Ok(&checkpoint()));
    }

    #[test]
    fn a_signed_checkpoint_does_not_open_with_another_key() {
        let signed = checkpoint().sign(KEY);
        assert_eq!(
            signed.open("another-checkpoint-key"),
            Err(Problem::BadSignature)
        );
    }

    #[test]
    fn any_changed_field_breaks_the_signature() {
        let signed = checkpoint().sign(KEY);
        let mut edits: Vec<Signed> = vec![signed.clone(); 5];
        edits[0].checkpoint.seq -= 1;
        edits[1].checkpoint.hash = "cd".repeat(32);
        edits[2].checkpoint.at += chrono::Duration::microseconds(1);
        edits[3].checkpoint.count += 1;
        edits[4].mac = "00".repeat(32);
        for edited in edits {
            assert_eq!(edited.open(KEY), Err(Problem::BadSignature), "{edited:?}");
        }
        for mac in ["", "xyz", "abc", "é", &signed.mac[..62]] {
            let garbled = Signed {
                mac: mac.to_owned(),
                ..signed.clone()
            };
            assert_eq!(garbled.open(KEY), Err(Problem::BadSignature), "{mac:?}");
        }
    }

    #[test]
    fn the_file_form_round_trips_and_still_verifies() {
        let signed = checkpoint().sign(KEY);
        let json = serde_json::to_value(&signed).unwrap();
        assert_eq!(
            json.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["at", "count", "hash", "mac", "seq"]
        );
        let back: Signed = serde_json::from_value(json).unwrap();
        assert_eq!(back, signed);
        assert!(back.open(KEY).is_ok());
    }

    #[test]
    fn save_replaces_the_file_whole_and_load_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/checkpoint.json");
        assert!(load(&path).unwrap().is_none());
        let first = checkpoint().sign(KEY);
        save(&path, &first).unwrap();
        assert_eq!(load(&path).unwrap(), Some(first));
        let second = Checkpoint {
            seq: 50,
            ..checkpoint()
        }
        .sign(KEY);
        save(&path, &second).unwrap();
        assert_eq!(load(&path).unwrap(), Some(second));
        // No temporary file is left beside it.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["checkpoint.json"]);
        std::fs::write(&path, "{ not json").unwrap();
        assert!(matches!(
            load(&path),
            Err(CheckpointError::Malformed { .. })
        ));
    }

    #[test]
    fn the_chain_agrees_only_when_it_holds_the_row_its_hash_and_its_count() {
        let c = checkpoint();
        assert_eq!(c.check(Some(&point(42, &c.hash, 41))), Ok(()));
        let missing = c.check(None).unwrap_err();
        assert!(matches!(missing, Problem::Missing { seq: 42, .. }));
        assert!(
            missing
                .to_string()
                .starts_with("audit log truncated or rewritten: checkpoint row 42 is missing"),
            "{missing}"
        );
        let rewritten = c.check(Some(&point(42, &"cd".repeat(32), 41))).unwrap_err();
        assert!(matches!(rewritten, Problem::HashDiffers { seq: 42, .. }));
        let recounted = c.check(Some(&point(42, &c.hash, 40))).unwrap_err();
        assert_eq!(
            recounted,
            Problem::CountDiffers {
                seq: 42,
                at: c.at,
                expected: 41,
                found: 40
            }
        );
    }
}
