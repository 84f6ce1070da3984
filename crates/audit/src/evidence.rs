//! The evidence pack an auditor hands over for a period: the joiners and
//! leavers reports (SOC 2 CC6.2/CC6.3, ISO 27001 A.5.18), the export of the
//! period's events, a signed checkpoint of the organization's head, and a
//! manifest of every file's SHA-256, signed with the operator's Ed25519 key.
//!
//! Whoever receives the directory checks it without rollcall's database:
//! `rollcall audit verify-evidence --dir DIR --public-key HEX` (or any
//! Ed25519 tool over `manifest.json`'s exact bytes, see
//! docs/audit-integrity.md); and, with the database, that today's log still
//! extends the pack's checkpoint: `rollcall verify --org NAME --checkpoint
//! DIR/checkpoint.json`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use domain::checkpoint::key_id;
use domain::history::movers::Movement;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use store::Pool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::export::{ExportQuery, Format};
use crate::history::movers::{movers, to_csv};

/// The manifest's `format`.
pub const FORMAT: &str = "rollcall-evidence-v1";
/// The manifest's file name in the pack.
pub const MANIFEST: &str = "manifest.json";
/// The manifest's signature (hex, one line) in the pack.
pub const SIGNATURE: &str = "manifest.sig";
/// The signed checkpoint of the organization's head in the pack.
pub const CHECKPOINT: &str = "checkpoint.json";

/// What the pack holds, and the digest of every file in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub org_id: Uuid,
    pub org_name: String,
    /// The period, `since` included, `until` excluded.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: OffsetDateTime,
    /// The events of the period in `events.ndjson`, and the chain hash of
    /// the last of them (none when the period recorded nothing).
    pub exported_events: u64,
    pub exported_head_hash: Option<String>,
    /// The organization's whole chain when the pack was made (the same
    /// figures `checkpoint.json` signs).
    pub head_position: i64,
    pub head_events: i64,
    pub head_hash: String,
    /// The Ed25519 key that signed the manifest and the checkpoint, hex.
    pub public_key: String,
    pub key_id: String,
    pub files: Vec<FileDigest>,
}

/// One file of the pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// Writes the pack of `org_id` for `[since, until)` into `dir` (created;
/// refused if it already holds a manifest) and returns its manifest.
pub async fn write_pack(
    pool: &Pool,
    key: &SigningKey,
    (org_id, org_name): (Uuid, &str),
    (since, until): (OffsetDateTime, OffsetDateTime),
    dir: &Path,
) -> anyhow::Result<Manifest> {
    anyhow::ensure!(
        since < until,
        "--since must be earlier than --until (since is included, until is not)"
    );
    anyhow::ensure!(
        !dir.join(MANIFEST).exists(),
        "{} already holds an evidence pack; give a new directory",
        dir.display()
    );
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut names = Vec::new();
    for (movement, stem) in [
        (Movement::Joiners, "joiners"),
        (Movement::Leavers, "leavers"),
    ] {
        let answer = movers(pool, org_id, movement, since, until).await?;
        names.push(write(dir, &format!("{stem}.csv"), to_csv(&answer.rows)?)?);
        let json = serde_json::to_string_pretty(&answer)? + "\n";
        names.push(write(dir, &format!("{stem}.json"), json)?);
    }
    let (exported_events, exported_head_hash) =
        export_period(pool, org_id, since, until, dir).await?;
    names.push("events.ndjson".to_owned());
    let signed = crate::checkpoints::record(pool, key, org_id, OffsetDateTime::now_utc()).await?;
    let checkpoint = serde_json::to_string_pretty(&signed.to_file())? + "\n";
    names.push(write(dir, CHECKPOINT, checkpoint)?);
    let public_key = key.verifying_key().to_bytes();
    let manifest = Manifest {
        format: FORMAT.into(),
        org_id,
        org_name: org_name.into(),
        since,
        until,
        generated_at: signed.head.signed_at,
        exported_events,
        exported_head_hash,
        head_position: signed.head.head_position,
        head_events: signed.head.event_count,
        head_hash: hex::encode(signed.head.head_hash),
        public_key: hex::encode(public_key),
        key_id: key_id(&public_key),
        files: names
            .iter()
            .map(|name| digest(&dir.join(name), name))
            .collect::<anyhow::Result<_>>()?,
    };
    let text = serde_json::to_string_pretty(&manifest)? + "\n";
    write(dir, MANIFEST, text.clone())?;
    let signature = key.sign(text.as_bytes());
    write(dir, SIGNATURE, hex::encode(signature.to_bytes()) + "\n")?;
    Ok(manifest)
}

/// Checks a pack: the manifest's signature (by `expected_key` when given,
/// else by the key the manifest names) and every file's size and digest.
/// Returns the manifest, or says the first thing that does not hold.
pub fn verify_pack(dir: &Path, expected_key: Option<&str>) -> anyhow::Result<Manifest> {
    let text = std::fs::read(dir.join(MANIFEST))
        .with_context(|| format!("{} has no {MANIFEST}: not an evidence pack", dir.display()))?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .with_context(|| format!("{MANIFEST} is not a rollcall evidence manifest"))?;
    anyhow::ensure!(
        manifest.format == FORMAT,
        "{MANIFEST} is of format {:?}; this rollcall reads {FORMAT}",
        manifest.format
    );
    if let Some(expected) = expected_key {
        anyhow::ensure!(
            expected.eq_ignore_ascii_case(&manifest.public_key),
            "the manifest was signed by key {} ({}), not by the key you trust",
            manifest.key_id,
            manifest.public_key
        );
    }
    let key: [u8; 32] = hex::decode(&manifest.public_key)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .context("the manifest's public_key is not 32 bytes of hex")?;
    let key = VerifyingKey::from_bytes(&key).context("the manifest's public_key is not Ed25519")?;
    let signature = std::fs::read_to_string(dir.join(SIGNATURE))
        .with_context(|| format!("{} has no {SIGNATURE}", dir.display()))?;
    let signature: [u8; 64] = hex::decode(signature.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .with_context(|| format!("{SIGNATURE} is not 64 bytes of hex"))?;
    key.verify(&text, &Signature::from_bytes(&signature))
        .map_err(|_| {
            anyhow::anyhow!(
                "the signature does not match {MANIFEST}: it was edited, or not signed by {}",
                manifest.key_id
            )
        })?;
    for listed in &manifest.files {
        anyhow::ensure!(
            !listed.name.contains('/') && !listed.name.contains(".."),
            "the manifest names a file outside the pack: {:?}",
            listed.name
        );
        let found = digest(&dir.join(&listed.name), &listed.name)?;
        anyhow::ensure!(
            found == *listed,
            "{} does not match the manifest (it was changed after the pack was signed)",
            listed.name
        );
    }
    Ok(manifest)
}

/// Streams the period's events into `events.ndjson`: their count and the
/// chain hash of the last.
async fn export_period(
    pool: &Pool,
    org_id: Uuid,
    since: OffsetDateTime,
    until: OffsetDateTime,
    dir: &Path,
) -> anyhow::Result<(u64, Option<String>)> {
    let path = dir.join("events.ndjson");
    let mut sink = std::io::BufWriter::new(
        std::fs::File::create(&path)
            .with_context(|| format!("cannot create {}", path.display()))?,
    );
    let query = ExportQuery {
        format: Format::Ndjson,
        since: Some(since),
        until: Some(until),
    };
    let (mut events, mut last_hash) = (0, None);
    let mut chunks = std::pin::pin!(crate::export::export(pool.clone(), org_id, &query));
    while let Some(chunk) = chunks.try_next().await? {
        sink.write_all(chunk.text.as_bytes())?;
        events += chunk.events;
        last_hash = chunk.last_hash.or(last_hash);
    }
    sink.flush()?;
    Ok((events, last_hash))
}

fn write(dir: &Path, name: &str, text: String) -> anyhow::Result<String> {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(name.to_owned())
}

fn digest(path: &Path, name: &str) -> anyhow::Result<FileDigest> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("{name} is missing from the pack"))?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher)?;
    Ok(FileDigest {
        name: name.to_owned(),
        bytes,
        sha256: hex::encode(hasher.finalize()),
    })
}
