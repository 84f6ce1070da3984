//! Erasing a person who has left (docs/audit-privacy.md): their key is
//! destroyed by an `Erased` event on their SCIM user's stream, so that every
//! personal value the log sealed for them reads `[erased]` from then on; the
//! read tables follow through the projector, the unique values they held are
//! given up, their organization's access records lose the texts of their
//! values, and their account goes the same way when no other organization
//! has them as a member.

use domain::account::ACCOUNTS;
use domain::erasable::{self, Subject};
use domain::user::{self, UserState};
use domain::{Event, Refusal, RequestMeta, StoredEvent};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use store::{Appender, Pool, Registration};
use uuid::Uuid;

use crate::{decide_on_stream, record_refusal};

/// The command name erasures and their refusals are recorded under.
const COMMAND: &str = "erase";

/// What an erasure did, as the admin API answers and `rollcall erase` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Erasure {
    pub user_id: Uuid,
    /// The account erased with the user: none when the user had none, or
    /// when another organization still has the person as a member.
    pub account_id: Option<Uuid>,
    /// How many of the organization's access records lost some text.
    pub access_records_redacted: i64,
}

/// Erases SCIM user `user_id` of `org_id`; refused (and the refusal
/// recorded) unless the user is deactivated or deleted. `meta` says who
/// asked: its `account_id` is recorded as `erased_by`.
pub async fn erase(
    pool: &Pool,
    appender: &Appender,
    org_id: Uuid,
    user_id: Uuid,
    meta: &RequestMeta,
) -> anyhow::Result<Erasure> {
    let stream = store::read_stream(pool, org_id, user_id).await?;
    let state = fold(&stream);
    if state.version == 0 {
        let refusal = erasable::erase_user(&state, None).expect_err("no user is refused");
        return Err(record_refusal(pool, appender, org_id, org_id, meta, COMMAND, refusal).await);
    }
    let erased_by = meta.account_id;
    // Decided once before anything changes, so that a refused erasure
    // redacts nothing; the append decides again on the stream as it is then.
    let decide = |stream: &[StoredEvent]| -> Result<(Vec<Event>, Vec<Registration>), Refusal> {
        let event = erasable::erase_user(&fold(stream), erased_by)?;
        Ok((vec![event], vec![Registration::Erasure]))
    };
    if let Err(refusal) = decide(&stream) {
        let refused = decide_on_stream(pool, appender, org_id, user_id, meta, COMMAND, |_| {
            Err(refusal.clone())
        });
        return Err(refused.await.expect_err("a refusal is never a decision"));
    }
    let account = store::membership_of_entry(pool, org_id, user_id).await?;
    let account_id = match account {
        Some(membership) if !is_member_elsewhere(pool, org_id, membership.account_id).await? => {
            Some(membership.account_id)
        }
        _ => None,
    };
    let mut texts = texts_of(&stream, Subject::User(user_id));
    let account_stream = match account_id {
        Some(account_id) => store::read_stream(pool, ACCOUNTS, account_id).await?,
        None => Vec::new(),
    };
    if let Some(account_id) = account_id {
        texts.extend(texts_of(&account_stream, Subject::Account(account_id)));
    }
    let access_records_redacted =
        store::redact_access_log(pool, org_id, &with_encodings(texts)).await?;
    decide_on_stream(pool, appender, org_id, user_id, meta, COMMAND, decide).await?;
    if let Some(account_id) = account_id {
        decide_on_stream(
            pool,
            appender,
            ACCOUNTS,
            account_id,
            meta,
            COMMAND,
            |stream| {
                let erased = stream
                    .iter()
                    .any(|stored| matches!(stored.event, Event::Erased { .. }));
                Ok(if erased {
                    (Vec::new(), Vec::new())
                } else {
                    (
                        vec![Event::Erased { erased_by }],
                        vec![Registration::Erasure],
                    )
                })
            },
        )
        .await?;
    }
    Ok(Erasure {
        user_id,
        account_id,
        access_records_redacted,
    })
}

fn fold(stream: &[StoredEvent]) -> UserState {
    stream
        .iter()
        .map(|stored| &stored.event)
        .fold(UserState::default(), user::evolve)
}

/// Whether the account is a member (active or suspended) of an
/// organization other than `org_id`, whose data it then still is.
async fn is_member_elsewhere(pool: &Pool, org_id: Uuid, account_id: Uuid) -> anyhow::Result<bool> {
    let memberships = store::memberships_of_account(pool, account_id).await?;
    Ok(memberships
        .iter()
        .any(|(membership, _)| membership.org_id != org_id && membership.state != "removed"))
}

/// The texts of `subject`'s personal values in a stream's events, read in
/// clear (before the key goes).
fn texts_of(stream: &[StoredEvent], subject: Subject) -> Vec<String> {
    stream
        .iter()
        .flat_map(|stored| {
            let mut payload = serde_json::to_value(&stored.event).expect("events serialize");
            erasable::personal_texts(&mut payload, stored.stream_id, subject)
        })
        .collect()
}

/// What a URL's query leaves as it is: letters, digits and RFC 3986's other
/// unreserved characters.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Each text as it stands, and as a URL's query carries it (percent-encoded,
/// spaces also as `+`): access records keep the request's path and query.
fn with_encodings(texts: Vec<String>) -> Vec<String> {
    let mut all = Vec::with_capacity(texts.len() * 3);
    for text in texts {
        let encoded = utf8_percent_encode(&text, UNRESERVED).to_string();
        for form in [encoded.replace("%20", "+"), encoded, text] {
            if !all.contains(&form) {
                all.push(form);
            }
        }
    }
    all
}
