//! The keys a batch seals personal values with (`domain::erasable`): one
//! statement, sent with phase 1's, that makes the key of each person the
//! batch names for the first time and reads the others'. A create pays no
//! extra round trip for it.

use std::collections::HashMap;

use deadpool_postgres::ClientWrapper;
use domain::erasable::Key;
use tokio_postgres::Statement;
use uuid::Uuid;

use crate::StoreError;
use crate::log::keys::{KEY_BY_ID, KeyId};

/// Makes the keys of the ids in `$1`/`$2` that have none (from the fresh
/// keys in `$3`) and reads the others'; an erased person's reads as null.
///
/// A plain insert of the ids without a row, not `on conflict do nothing`,
/// whose speculative insertion writes a second WAL record for every new
/// key (nearly two per SCIM create): keys are written only by appends,
/// which hold the log head, so no other transaction inserts one between
/// the look and the insert. The look is a lateral lookup with a `limit`,
/// as [`KEY_BY_ID`] is, so that a plan cached while the table was small is
/// not an anti-join over a scan of every key.
pub fn batch_keys_statement() -> String {
    format!(
        "with wanted as ( \
             select * from unnest($1::uuid[], $2::uuid[], $3::bytea[]) as w(org_id, subject_id, key)), \
         made as ( \
             insert into personal_keys (org_id, subject_id, key) \
             select w.org_id, w.subject_id, w.key from wanted w \
             left join lateral (select true as present from personal_keys \
                 where org_id = w.org_id and subject_id = w.subject_id limit 1) p on true \
             where p.present is null \
             returning org_id, subject_id, key) \
         select org_id, subject_id, key from made \
         union all \
         select w.org_id, w.subject_id, k.key from wanted w cross join lateral ({KEY_BY_ID}) k"
    )
}

/// Each person's key by [`KeyId`]; `None`: erased (their values are stored
/// as `[erased]`, never in clear and never under a new key).
pub(super) type BatchKeys = HashMap<KeyId, Option<Key>>;

/// The keys of every person in `wanted` (the subjects whose values a
/// batch seals), new ones made from fresh randomness (`statement`:
/// [`batch_keys_statement`], prepared). A request that is refused later may
/// leave the key it made: a random value under an id that names nothing,
/// never a person's data.
pub(super) async fn batch_keys(
    client: &ClientWrapper,
    statement: &Statement,
    mut wanted: Vec<KeyId>,
) -> Result<BatchKeys, StoreError> {
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    wanted.sort_unstable();
    wanted.dedup();
    let orgs: Vec<Uuid> = wanted.iter().map(|(org, _)| *org).collect();
    let subjects: Vec<Uuid> = wanted.iter().map(|(_, subject)| *subject).collect();
    let fresh: Vec<Vec<u8>> = wanted
        .iter()
        .map(|_| rand::random::<Key>().to_vec())
        .collect();
    let rows = client.query(statement, &[&orgs, &subjects, &fresh]).await?;
    Ok(rows
        .iter()
        .map(|row| {
            let key: Option<Vec<u8>> = row.get(2);
            let key = key.and_then(|key| Key::try_from(key).ok());
            ((row.get(0), row.get(1)), key)
        })
        .collect())
}
