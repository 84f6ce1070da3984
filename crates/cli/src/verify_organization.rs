//! `rollcall verify --org NAME`: walks one organization's hash chain alone
//! and gives its head hash and event count, the figures an auditor keeps to
//! show later that the history has not been rewritten since. With a signed
//! checkpoint (`--checkpoint FILE`), also proves that the log today extends
//! it: the chain meets the checkpoint's head exactly, as its count-th event.

use std::path::Path;

use anyhow::Context;
use domain::chain;
use domain::checkpoint::{Head, SignedCheckpoint};
use store::Pool;
use uuid::Uuid;

/// Log rows read per round trip.
const PAGE: i64 = 5_000;

/// What walking one organization's chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainVerdict {
    /// Every event links to the one before it and matches its hash.
    Sound {
        events: i64,
        /// The last event's hash, hex (the genesis hash when none).
        head_hash: String,
        /// The last event's position (0 when none).
        head_position: i64,
    },
    /// The first event of the organization that does not hold, and why.
    Broken { position: i64, reason: String },
}

/// Walks `org_id`'s chain from its genesis; with `checkpoint` (a head of
/// `org_id` whose signature was checked), the chain must also pass through
/// its head: the event at its position carries its hash and is its
/// count-th event.
pub async fn verify_organization(
    pool: &Pool,
    org_id: Uuid,
    checkpoint: Option<&Head>,
) -> anyhow::Result<ChainVerdict> {
    let mut previous = chain::GENESIS.to_vec();
    let (mut events, mut position) = (0, 0);
    let mut pending = checkpoint.filter(|head| head.head_position > 0);
    loop {
        let rows = store::read_organization_after(pool, org_id, position, PAGE).await?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            position = row.position;
            if row.prev_hash != previous {
                return Ok(broken(
                    position,
                    "its prev_hash does not name the organization's previous event \
                     (an event before it was removed, inserted or reordered)",
                ));
            }
            let hash = chain::link(&row.prev_hash, &row.chained_fields());
            if row.hash != hash {
                return Ok(broken(
                    position,
                    "its content does not match its hash (altered after it was written)",
                ));
            }
            if let Some(head) = pending.filter(|head| head.head_position <= position) {
                // Named at the checkpoint's head, which this event may have
                // passed: the organization's event after it is not at fault.
                if let Some(reason) = misses(head, position, &row.hash, events + 1) {
                    return Ok(broken(head.head_position, &reason));
                }
                pending = None;
            }
            previous = row.hash;
            events += 1;
        }
    }
    if let Some(head) = pending {
        return Ok(broken(
            head.head_position,
            &format!(
                "the log ends at position {position}, before the checkpoint's head: \
                 events it signed were removed"
            ),
        ));
    }
    Ok(ChainVerdict::Sound {
        events,
        head_hash: hex::encode(&previous),
        head_position: position,
    })
}

/// Why the event at `position` (hash `hash`, the `nth` of the chain) is not
/// the checkpoint's head, if it is not.
fn misses(head: &Head, position: i64, hash: &[u8], nth: i64) -> Option<String> {
    if position != head.head_position {
        return Some(format!(
            "the checkpoint's head is at position {}, which holds no event of the \
             organization now: the history before it was rewritten (events removed, \
             inserted or moved)",
            head.head_position
        ));
    }
    if hash != head.head_hash {
        return Some(format!(
            "its hash {} is not the checkpoint's {}: the history up to here was rewritten \
             (an event at or before it changed, removed, inserted or reordered, and the \
             chain recomputed)",
            hex::encode(hash),
            hex::encode(head.head_hash)
        ));
    }
    if nth != head.event_count {
        return Some(format!(
            "it is the organization's event number {nth}, the checkpoint's head was number {}",
            head.event_count
        ));
    }
    None
}

/// Reads a checkpoint file and checks its signature, and that it was
/// signed by `public_key` (hex) when one is given.
pub fn read_checkpoint(path: &Path, public_key: Option<&str>) -> anyhow::Result<SignedCheckpoint> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the checkpoint file {}", path.display()))?;
    let signed = SignedCheckpoint::from_file(&text)?;
    if let Some(expected) = public_key
        && !expected
            .trim()
            .eq_ignore_ascii_case(&hex::encode(signed.public_key))
    {
        anyhow::bail!(
            "the checkpoint was signed by the key {} ({}), not by the --public-key given",
            hex::encode(signed.public_key),
            signed.key_id()
        );
    }
    signed.check_signature()?;
    Ok(signed)
}

fn broken(position: i64, reason: &str) -> ChainVerdict {
    ChainVerdict::Broken {
        position,
        reason: reason.into(),
    }
}
