//! `rollcall verify --org NAME`: walks one organization's hash chain alone
//! and gives its head hash and event count, the figures an auditor keeps to
//! show later that the history has not been rewritten since.

use domain::chain;
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

/// Walks `org_id`'s chain from its genesis.
pub async fn verify_organization(pool: &Pool, org_id: Uuid) -> anyhow::Result<ChainVerdict> {
    let mut previous = chain::GENESIS.to_vec();
    let (mut events, mut position) = (0, 0);
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
            previous = row.hash;
            events += 1;
        }
    }
    Ok(ChainVerdict::Sound {
        events,
        head_hash: hex::encode(&previous),
        head_position: position,
    })
}

fn broken(position: i64, reason: &str) -> ChainVerdict {
    ChainVerdict::Broken {
        position,
        reason: reason.into(),
    }
}
