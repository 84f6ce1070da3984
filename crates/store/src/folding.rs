//! The case-folded keys (`scim::fold_case`) the store keeps beside the values
//! they fold, and the one-time step that makes them for data written before
//! migration V0008.
//!
//! PostgreSQL cannot compute the fold, so every folded value is made here, in
//! Rust: the projector writes `user_name_folded`, `work_emails_folded` and
//! `display_name_folded` with each row, and [`fold_existing`] (run by
//! `store::migrate` right after the SQL migrations, under the migration lock)
//! fills them for older rows and re-keys the uniqueness claims that were made
//! with `to_lowercase`. Both halves are idempotent and cheap when there is
//! nothing left to do.

use serde_json::Value;
use tokio_postgres::Client;
use uuid::Uuid;

use crate::StoreError;

/// Rows or claims folded per transaction.
const BATCH: i64 = 1_000;

/// The folded `value` of every `emails` element whose `type` folds to
/// `work`, in a resource whose keys are folded (`doc`): what Entra's matching
/// filter `emails[type eq "work"].value eq "x"` compares. `emails` may be an
/// array or one object; elements without a string `value` add nothing.
fn work_emails(doc: &Value) -> Vec<String> {
    let elements = match doc.get("emails") {
        Some(Value::Array(elements)) => elements.as_slice(),
        Some(element @ Value::Object(_)) => std::slice::from_ref(element),
        _ => &[],
    };
    elements
        .iter()
        .filter(|element| {
            element
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|kind| scim::fold_case(kind) == "work")
        })
        .filter_map(|element| element.get("value").and_then(Value::as_str))
        .map(scim::fold_case)
        .collect()
}

/// The folded keys of a user row, as the projector writes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct UserKeys {
    /// `user_name_folded`.
    pub user_name: String,
    /// `work_emails_folded`.
    pub work_emails: Vec<String>,
}

impl UserKeys {
    /// The keys of a row with this userName and resource.
    pub(crate) fn of(user_name: &str, resource: &Value) -> UserKeys {
        UserKeys::of_doc(user_name, &crate::read_model::writer::fold_keys(resource))
    }

    /// The same, from the resource with its keys folded (`doc`).
    pub(crate) fn of_doc(user_name: &str, doc: &Value) -> UserKeys {
        UserKeys {
            user_name: scim::fold_case(user_name),
            work_emails: work_emails(doc),
        }
    }
}

/// What [`fold_existing`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Folded {
    /// User rows given their folded columns.
    pub users: u64,
    /// Group rows given their folded display name.
    pub groups: u64,
    /// Claims whose key the fold changed.
    pub claims: u64,
    /// Of those, claims whose folded key another stream already held (two
    /// names told apart by `to_lowercase` that fold alike): the first keeps
    /// the claim, the other resource stays as it is.
    pub collisions: u64,
}

/// Fills the folded columns of rows that lack them and re-keys the claims
/// listed in `unique_claims_to_fold` (V0008), batch by batch.
pub async fn fold_existing(client: &mut Client) -> Result<Folded, StoreError> {
    let mut folded = Folded::default();
    while let Some(users) = fold_users(client).await? {
        folded.users += users;
    }
    while let Some(groups) = fold_groups(client).await? {
        folded.groups += groups;
    }
    while let Some((claims, collisions)) = fold_claims(client).await? {
        folded.claims += claims;
        folded.collisions += collisions;
    }
    Ok(folded)
}

/// One batch of user rows without folded columns; `None` when none is left.
async fn fold_users(client: &mut Client) -> Result<Option<u64>, StoreError> {
    let transaction = client.transaction().await?;
    let rows = transaction
        .query(
            "select org_id, user_id, user_name, doc::text from scim_users \
             where user_name_folded is null limit $1 for update",
            &[&BATCH],
        )
        .await?;
    if rows.is_empty() {
        transaction.commit().await?;
        return Ok(None);
    }
    let mut orgs: Vec<Uuid> = Vec::with_capacity(rows.len());
    let mut ids: Vec<Uuid> = Vec::with_capacity(rows.len());
    let mut names = Vec::with_capacity(rows.len());
    let mut emails = Vec::with_capacity(rows.len());
    for row in &rows {
        orgs.push(row.get(0));
        ids.push(row.get(1));
        let doc: Option<&str> = row.get(3);
        let doc = match doc {
            Some(text) => serde_json::from_str(text).map_err(|error| {
                StoreError::Inconsistent(format!("a stored doc is not JSON: {error}"))
            })?,
            None => Value::Null,
        };
        let keys = UserKeys::of_doc(row.get(2), &doc);
        names.push(keys.user_name);
        emails.push(serde_json::to_string(&keys.work_emails).expect("strings serialize"));
    }
    let changed = transaction
        .execute(
            "update scim_users u set user_name_folded = r.name, \
             work_emails_folded = array(select jsonb_array_elements_text(r.emails::jsonb)) \
             from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[]) \
                  as r(org_id, user_id, name, emails) \
             where u.org_id = r.org_id and u.user_id = r.user_id",
            &[&orgs, &ids, &names, &emails],
        )
        .await?;
    transaction.commit().await?;
    Ok(Some(changed))
}

/// One batch of group rows without a folded display name.
async fn fold_groups(client: &mut Client) -> Result<Option<u64>, StoreError> {
    let transaction = client.transaction().await?;
    let rows = transaction
        .query(
            "select org_id, group_id, display_name from scim_groups \
             where display_name_folded is null limit $1 for update",
            &[&BATCH],
        )
        .await?;
    if rows.is_empty() {
        transaction.commit().await?;
        return Ok(None);
    }
    let orgs: Vec<Uuid> = rows.iter().map(|row| row.get(0)).collect();
    let ids: Vec<Uuid> = rows.iter().map(|row| row.get(1)).collect();
    let names: Vec<String> = rows.iter().map(|row| scim::fold_case(row.get(2))).collect();
    let changed = transaction
        .execute(
            "update scim_groups g set display_name_folded = r.name \
             from unnest($1::uuid[], $2::uuid[], $3::text[]) as r(org_id, group_id, name) \
             where g.org_id = r.org_id and g.group_id = r.group_id",
            &[&orgs, &ids, &names],
        )
        .await?;
    transaction.commit().await?;
    Ok(Some(changed))
}

/// One batch of claims made with `to_lowercase`: each moves to its folded
/// key (unless another stream holds that) and leaves the list. Returns the
/// claims moved or dropped and, of them, the collisions.
async fn fold_claims(client: &mut Client) -> Result<Option<(u64, u64)>, StoreError> {
    let transaction = client.transaction().await?;
    let rows = transaction
        .query(
            "select org_id, kind, key from unique_claims_to_fold limit $1 for update",
            &[&BATCH],
        )
        .await?;
    if rows.is_empty() {
        transaction.commit().await?;
        return Ok(None);
    }
    let orgs: Vec<Uuid> = rows.iter().map(|row| row.get(0)).collect();
    let kinds: Vec<&str> = rows.iter().map(|row| row.get(1)).collect();
    let keys: Vec<&str> = rows.iter().map(|row| row.get(2)).collect();
    let folded: Vec<String> = keys.iter().map(|key| scim::fold_case(key)).collect();
    // Only the keys the fold changes move; the rest are already right.
    let (mut m_orgs, mut m_kinds, mut m_keys, mut m_folded) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in (0..keys.len()).filter(|&i| folded[i] != keys[i]) {
        m_orgs.push(orgs[i]);
        m_kinds.push(kinds[i]);
        m_keys.push(keys[i]);
        m_folded.push(folded[i].as_str());
    }
    let moved = transaction
        .query_one(
            "with old as ( \
                 delete from unique_claims u \
                  using unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) \
                        as r(org_id, kind, key, folded) \
                  where u.org_id = r.org_id and u.kind = r.kind and u.key = r.key \
                  returning u.org_id, u.kind, r.folded, u.owner), \
             taken as ( \
                 insert into unique_claims (org_id, kind, key, owner) \
                 select org_id, kind, folded, owner from old \
                 on conflict do nothing returning 1) \
             select (select count(*) from old), (select count(*) from taken)",
            &[&m_orgs, &m_kinds, &m_keys, &m_folded],
        )
        .await?;
    let (old, taken): (i64, i64) = (moved.get(0), moved.get(1));
    transaction
        .execute(
            "delete from unique_claims_to_fold f \
              using unnest($1::uuid[], $2::text[], $3::text[]) as r(org_id, kind, key) \
              where f.org_id = r.org_id and f.kind = r.kind and f.key = r.key",
            &[&orgs, &kinds, &keys],
        )
        .await?;
    transaction.commit().await?;
    Ok(Some((old as u64, (old - taken) as u64)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::work_emails;
    use crate::read_model::writer::fold_keys;

    #[test]
    fn work_emails_are_the_folded_work_values() {
        let doc = fold_keys(&json!({
            "Emails": [
                {"Type": "WORK", "Value": "ΣΑΣ@Example.com"},
                {"type": "home", "value": "home@example.com"},
                {"type": "work", "value": 7},
                {"type": "work"},
                "work@example.com"
            ]
        }));
        assert_eq!(work_emails(&doc), ["σασ@example.com"]);
        let single = fold_keys(&json!({"emails": {"type": "Work", "value": "A@B.C"}}));
        assert_eq!(work_emails(&single), ["a@b.c"]);
        assert!(work_emails(&json!({"emails": "a@b.c"})).is_empty());
        assert!(work_emails(&json!(null)).is_empty());
    }
}
