//! The key table (`personal_keys`, V0017): each person's key for the
//! personal values sealed in the log (`domain::erasable`), its tombstone once
//! the person is erased, and what an erasure does beside it.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use deadpool_postgres::GenericClient;
use domain::erasable::{self, Key, Subject};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::log::read::LogRow;
use crate::{Pool, StoreError};

/// Where a key lives in the key table: (keyspace, subject). The keyspace is
/// the organization of a SCIM user, or `domain::account::ACCOUNTS`.
pub type KeyId = (Uuid, Uuid);

/// The live keys a set of log rows needs to open what they seal. Its
/// `Debug` names no key.
#[derive(Clone, Default, PartialEq)]
pub struct Keyring(Arc<HashMap<KeyId, Key>>);

impl Keyring {
    /// The key of `subject` (of organization `org_id`'s event); `None` once
    /// the subject is erased.
    pub fn key_of(&self, org_id: Uuid, subject: Subject) -> Option<Key> {
        self.0.get(&subject.key_id(org_id)).copied()
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Keyring({} keys)", self.0.len())
    }
}

/// One key by its id `w`, as a subquery joined laterally to the ids a
/// statement asks for. The `limit` keeps the planner from flattening it into
/// a join, which a plan cached while the table was small runs as a hash join
/// over a sequential scan of every key: a cost that grew with the number of
/// people, in the write path and the relay (seen in their profile). As
/// written, each id is one primary-key lookup, whatever the table's size
/// when the plan was made.
pub(crate) const KEY_BY_ID: &str = "select key from personal_keys \
     where org_id = w.org_id and subject_id = w.subject_id limit 1";

/// The live keys of the ids in `$1` (keyspaces) and `$2` (subjects).
pub fn live_keys_statement() -> String {
    format!(
        "select w.org_id, w.subject_id, k.key \
         from unnest($1::uuid[], $2::uuid[]) as w(org_id, subject_id) \
         cross join lateral ({KEY_BY_ID}) k where k.key is not null"
    )
}

/// Reads the log rows a query selected ([`crate::log::read::COLUMNS`]),
/// each with the keys its sealed values name: how every reader of events
/// gets them.
pub(crate) async fn log_rows_with_keys(
    client: &impl GenericClient,
    rows: &[tokio_postgres::Row],
) -> Result<Vec<LogRow>, StoreError> {
    let mut rows: Vec<LogRow> = rows.iter().map(LogRow::from_row).collect();
    attach_keys(client, &mut rows).await?;
    Ok(rows)
}

/// Gives `rows` the keys their sealed values name, in one statement (none
/// when no row holds a sealed value).
pub(crate) async fn attach_keys(
    client: &impl GenericClient,
    rows: &mut [LogRow],
) -> Result<(), StoreError> {
    let mut wanted: Vec<KeyId> = rows
        .iter()
        .filter(|row| erasable::is_sealed(&row.payload))
        .flat_map(|row| {
            erasable::sealed_subjects(&row.payload)
                .into_iter()
                .map(|subject| subject.key_id(row.org_id))
        })
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    wanted.sort_unstable();
    wanted.dedup();
    let found = live_keys(client, &wanted).await?;
    let keys: HashMap<KeyId, Key> = found
        .iter()
        .filter_map(|row| {
            let key: Vec<u8> = row.get(2);
            Some(((row.get(0), row.get(1)), key.try_into().ok()?))
        })
        .collect();
    let keyring = Keyring(Arc::new(keys));
    for row in rows.iter_mut() {
        row.keys = keyring.clone();
    }
    Ok(())
}

/// Whether every key of `wanted` is still live (none erased since a reader
/// opened values under it), in one statement.
pub async fn keys_live(pool: &Pool, wanted: &[KeyId]) -> Result<bool, StoreError> {
    let mut wanted = wanted.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    if wanted.is_empty() {
        return Ok(true);
    }
    let client = pool.get().await?;
    Ok(live_keys(&client, &wanted).await?.len() == wanted.len())
}

/// Whether every person whose values `events` hold in clear is still not
/// erased: events a reader took from what an appender kept
/// ([`crate::RecentAppends`]) were opened when they were appended, and
/// someone may have been erased since by another process, whose erasure
/// this process's stores never hear of. `false`: read them from the log.
pub async fn still_in_clear<'a>(
    pool: &Pool,
    events: impl IntoIterator<Item = &'a crate::OpenedEvent>,
) -> Result<bool, StoreError> {
    let in_clear: Vec<KeyId> = (events.into_iter())
        .flat_map(|event| event.in_clear.iter().copied())
        .collect();
    keys_live(pool, &in_clear).await
}

/// The rows of [`live_keys_statement`] for `wanted` (each id once): one per
/// id whose key is live.
async fn live_keys(
    client: &impl GenericClient,
    wanted: &[KeyId],
) -> Result<Vec<tokio_postgres::Row>, StoreError> {
    let statement = client.prepare_cached(&live_keys_statement()).await?;
    let orgs: Vec<Uuid> = wanted.iter().map(|(org, _)| *org).collect();
    let subjects: Vec<Uuid> = wanted.iter().map(|(_, subject)| *subject).collect();
    Ok(client.query(&statement, &[&orgs, &subjects]).await?)
}

/// Whether `subject_id` of keyspace `org_id` was erased, and when.
pub async fn erased_at(
    pool: &Pool,
    org_id: Uuid,
    subject_id: Uuid,
) -> Result<Option<OffsetDateTime>, StoreError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "select erased_at from personal_keys where org_id = $1 and subject_id = $2",
            &[&org_id, &subject_id],
        )
        .await?;
    Ok(row.and_then(|row| row.get(0)))
}

/// Replaces each of `texts` (compared without case) in organization
/// `org_id`'s access records with `[erased]` (V0017's
/// `access_log_redact`); returns how many records changed.
pub async fn redact_access_log(
    pool: &Pool,
    org_id: Uuid,
    texts: &[String],
) -> Result<i64, StoreError> {
    let patterns: Vec<String> = texts.iter().map(|text| literal_pattern(text)).collect();
    let client = pool.get().await?;
    let row = client
        .query_one("select access_log_redact($1, $2)", &[&org_id, &patterns])
        .await?;
    Ok(row.get(0))
}

/// A PostgreSQL regular expression that matches `text` literally: every
/// character but letters and digits escaped (a backslash before any other
/// character is that character, in PostgreSQL's regular expressions).
fn literal_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() * 2);
    for character in text.chars() {
        if !character.is_alphanumeric() {
            pattern.push('\\');
        }
        pattern.push(character);
    }
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_literal_pattern_escapes_everything_but_letters_and_digits() {
        assert_eq!(literal_pattern("a.b+c@d%40"), "a\\.b\\+c\\@d\\%40");
    }

    #[test]
    fn a_keyring_prints_no_key() {
        let keyring = Keyring(Arc::new(HashMap::from([(
            (Uuid::nil(), Uuid::nil()),
            [42; 32],
        )])));
        assert_eq!(format!("{keyring:?}"), "Keyring(1 keys)");
    }
}
