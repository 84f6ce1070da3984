//! Accounts, found and made by email, and their passwords. Account streams
//! live in the log's accounts keyspace (`domain::account::ACCOUNTS`).

use anyhow::{Context, bail};
use domain::RequestMeta;
use domain::account::{self, ACCOUNTS, AccountState, EMAIL_CLAIM};
use store::{AppendError, AppendRequest, Appender, Pool};
use uuid::Uuid;

use crate::organization_stream::decide_on_stream;

/// The account whose email folds like `email`, if there is one.
pub async fn find_by_email(pool: &Pool, email: &str) -> anyhow::Result<Option<Uuid>> {
    let key = account::email_key(email);
    Ok(store::claim_owner(pool, ACCOUNTS, EMAIL_CLAIM, &key.key).await?)
}

/// The account for `email`, made (recorded as `AccountCreated`) when none
/// exists yet. Two callers racing for one email get the same account.
pub async fn ensure(
    pool: &Pool,
    appender: &Appender,
    email: &str,
    meta: &RequestMeta,
) -> anyhow::Result<Uuid> {
    if let Some(account_id) = find_by_email(pool, email).await? {
        return Ok(account_id);
    }
    let event = account::create(email)?;
    let account_id = Uuid::now_v7();
    let appended = appender
        .append(AppendRequest {
            org_id: ACCOUNTS,
            stream_id: account_id,
            expected_version: 0,
            commutes: false,
            events: vec![event],
            claims: vec![account::email_key(email)],
            releases: Vec::new(),
            registrations: Vec::new(),
            meta: meta.clone(),
        })
        .await;
    match appended {
        Ok(_) => Ok(account_id),
        // Made by another caller a moment ago.
        Err(AppendError::Taken(_)) => find_by_email(pool, email)
            .await?
            .context("an account's email was taken, then not found"),
        Err(error) => Err(error).context("recording the new account"),
    }
}

/// Sets the password of the account with `email` (decided on the account's
/// stream and appended at its version; a refusal is recorded and returned).
/// `meta` says who asked.
pub async fn set_password(
    pool: &Pool,
    appender: &Appender,
    meta: &RequestMeta,
    email: &str,
    password: &str,
) -> anyhow::Result<()> {
    let Some(account_id) = find_by_email(pool, email).await? else {
        bail!(
            "no account has the email {email:?}; an owner adds members, or `rollcall org create` makes an owner's account"
        );
    };
    let command = "account set-password";
    decide_on_stream(
        pool,
        appender,
        ACCOUNTS,
        account_id,
        meta,
        command,
        |stream| {
            let state = stream
                .iter()
                .fold(AccountState::default(), |state, stored| {
                    state.evolve(&stored.event)
                });
            let event = account::set_password(&state, password, &rand::random())?;
            Ok((vec![event], Vec::new()))
        },
    )
    .await?;
    Ok(())
}

/// A password for a first start: 24 characters of URL-safe base64 from 18
/// random bytes, shown once.
pub fn one_time_password() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 18]>())
}
