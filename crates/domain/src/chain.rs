//! The per-organization hash chain that makes tampering with the log evident.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

/// The hash an organization's first event links to.
pub const GENESIS: [u8; 32] = [0; 32];

/// The stored fields of one event that its hash covers, exactly as stored.
#[derive(Debug, Clone, Copy)]
pub struct ChainedFields<'a> {
    pub position: i64,
    pub org_id: Uuid,
    pub stream_id: Uuid,
    pub stream_version: i64,
    pub event_type: &'a str,
    pub schema_version: i32,
    pub recorded_at: OffsetDateTime,
    pub payload: &'a str,
    pub metadata: &'a str,
}

/// The hash of an event: SHA-256 over the previous hash and every stored
/// field, each length-prefixed so that no two field lists hash alike.
pub fn link(prev_hash: &[u8], fields: &ChainedFields<'_>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    let mut put = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    put(prev_hash);
    put(&fields.position.to_be_bytes());
    put(fields.org_id.as_bytes());
    put(fields.stream_id.as_bytes());
    put(&fields.stream_version.to_be_bytes());
    put(fields.event_type.as_bytes());
    put(&fields.schema_version.to_be_bytes());
    put(&micros(fields.recorded_at).to_be_bytes());
    put(fields.payload.as_bytes());
    put(fields.metadata.as_bytes());
    hasher.finalize().into()
}

/// Microseconds since the epoch: PostgreSQL's `timestamptz` precision, so a
/// timestamp hashes the same before it is stored and after it is read back.
pub fn micros(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000) as i64
}

/// Truncates a timestamp to what PostgreSQL stores.
pub fn to_stored_precision(at: OffsetDateTime) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros(at)) * 1_000)
        .expect("a truncated timestamp is in range")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(payload: &str) -> ChainedFields<'_> {
        ChainedFields {
            position: 1,
            org_id: Uuid::nil(),
            stream_id: Uuid::nil(),
            stream_version: 1,
            event_type: "UserDeleted",
            schema_version: 1,
            recorded_at: OffsetDateTime::UNIX_EPOCH,
            payload,
            metadata: "{}",
        }
    }

    #[test]
    fn any_changed_field_changes_the_hash() {
        let base = link(&GENESIS, &fields("{}"));
        assert_ne!(base, link(&GENESIS, &fields("{ }")));
        assert_ne!(base, link(&[1; 32], &fields("{}")));
        let mut later = fields("{}");
        later.position = 2;
        assert_ne!(base, link(&GENESIS, &later));
    }

    #[test]
    fn length_prefixes_keep_field_boundaries_apart() {
        let mut a = fields("ab");
        a.metadata = "c";
        let mut b = fields("a");
        b.metadata = "bc";
        assert_ne!(link(&GENESIS, &a), link(&GENESIS, &b));
    }
}
