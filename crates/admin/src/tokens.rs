//! SCIM tokens: issue (the token shown once), list, revoke, decided by
//! `domain::token` on the organization's own stream.

use anyhow::Context;
use base64::Engine;
use domain::token::{self, TokenLife};
use domain::{Event, RequestMeta};
use serde::Serialize;
use store::{Appender, Pool, Registration};

use crate::decide_on_organization;
use time::OffsetDateTime;
use uuid::Uuid;

/// A token, shown once: the caller prints it and forgets it.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub token_id: Uuid,
    pub expires_at: OffsetDateTime,
}

/// One token as `rollcall token list` shows it: never a secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenListing {
    pub id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// When it last opened a SCIM request (to a minute); never, `null`.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// `live`, `revoked` or `expired`.
    pub state: &'static str,
}

/// The organization named `name`, or an error that says how to make one.
pub async fn organization_named(pool: &Pool, name: &str) -> anyhow::Result<Uuid> {
    store::find_organization(pool, name)
        .await?
        .with_context(|| {
            format!("no organization named {name:?}; create it with `rollcall org create`")
        })
}

/// Issues a SCIM token for `org_id` at `now`, valid `valid_for_days` (365
/// when `None`); refused while two are live. `meta` says who asked.
pub async fn issue(
    pool: &Pool,
    appender: &Appender,
    org_id: Uuid,
    meta: &RequestMeta,
    now: OffsetDateTime,
    valid_for_days: Option<i64>,
) -> anyhow::Result<IssuedToken> {
    let token = format!(
        "{}{}",
        token::TOKEN_PREFIX,
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
    );
    let token_id = Uuid::now_v7();
    let sha256 = token::digest(&token).to_vec();
    let events = decide_on_organization(pool, appender, org_id, meta, "token issue", |stream| {
        let event = token::issue(&token::lives(stream), token_id, now, valid_for_days)?;
        let Event::ScimTokenIssued { expires_at, .. } = event else {
            unreachable!("token::issue makes a ScimTokenIssued event")
        };
        let registration = Registration::Token {
            token_id,
            sha256: sha256.clone(),
            expires_at,
        };
        Ok((vec![event], vec![registration]))
    })
    .await?;
    let Some(Event::ScimTokenIssued { expires_at, .. }) = events.first() else {
        unreachable!("token::issue makes a ScimTokenIssued event")
    };
    Ok(IssuedToken {
        token,
        token_id,
        expires_at: *expires_at,
    })
}

/// Revokes `token_id` of `org_id`: SCIM requests with it are refused once
/// the API has seen the revocation (at once in the process that revoked it,
/// within a second in the others).
pub async fn revoke(
    pool: &Pool,
    appender: &Appender,
    org_id: Uuid,
    meta: &RequestMeta,
    token_id: Uuid,
) -> anyhow::Result<()> {
    decide_on_organization(pool, appender, org_id, meta, "token revoke", |stream| {
        let event = token::revoke(&token::lives(stream), token_id)?;
        Ok((vec![event], vec![Registration::TokenRevoked { token_id }]))
    })
    .await?;
    Ok(())
}

/// Every token of `org_id`, oldest first, as of `now`.
pub async fn list(
    pool: &Pool,
    org_id: Uuid,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<TokenListing>> {
    let stream = store::read_stream(pool, org_id, org_id).await?;
    let registered = store::list_tokens(pool, org_id).await?;
    let last_used = |token_id: Uuid| {
        registered
            .iter()
            .find(|record| record.token_id == token_id)
            .and_then(|record| record.last_used_at)
    };
    Ok(token::lives(&stream)
        .iter()
        .map(|life| TokenListing {
            id: life.token_id,
            created_at: life.issued_at,
            expires_at: life.expires_at,
            last_used_at: last_used(life.token_id),
            state: state(life, now),
        })
        .collect())
}

fn state(life: &TokenLife, now: OffsetDateTime) -> &'static str {
    if life.revoked_at.is_some() {
        "revoked"
    } else if life.is_live(now) {
        "live"
    } else {
        "expired"
    }
}
