//! Admin API sessions: log in with an account's email and password (a
//! session token, shown once), authenticate a request's token, log out;
//! decided by `domain::session` on the account's stream.
//!
//! A failed login is one refusal whatever was wrong. When the email has an
//! account, the refusal is recorded in its stream (`CommandRefused`, so the
//! account's owner and auditors see the attempts); an unknown email has no
//! stream to record it in, so the caller counts it (the admin API counts it
//! with the access log's refused requests, by minute and client address).

use anyhow::Context;
use base64::Engine;
use domain::account::ACCOUNTS;
use domain::session::{self, PasswordCheck};
use domain::{Event, Refusal, RequestMeta};
use store::{Appender, Pool, Registration};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::accounts;
use crate::organization_stream::decide_on_stream;

/// A session just started: its token is shown this once.
#[derive(Debug, Clone)]
pub struct StartedSession {
    pub token: String,
    pub session_id: Uuid,
    pub account_id: Uuid,
    pub expires_at: OffsetDateTime,
}

/// Who a live session's token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub account_id: Uuid,
    pub session_id: Uuid,
}

/// Starts a session at `now` for the account with `email` when `password`
/// is its password. Refused (a [`Refusal`], `unauthorized`) alike, and in
/// about the same time, for an unknown email, an account without a
/// password and a wrong password.
pub async fn start(
    pool: &Pool,
    appender: &Appender,
    meta: &RequestMeta,
    email: &str,
    password: &str,
    now: OffsetDateTime,
) -> anyhow::Result<StartedSession> {
    let Some(account_id) = accounts::find_by_email(pool, email).await? else {
        check_password(password, None).await?;
        return Err(Refusal::unauthorized(session::BAD_CREDENTIALS).into());
    };
    let stream = store::read_stream(pool, ACCOUNTS, account_id).await?;
    let check = check_password(password, session::logins(&stream).password_hash).await?;
    let token = format!(
        "{}{}",
        session::TOKEN_PREFIX,
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
    );
    let sha256 = session::digest(&token).to_vec();
    let session_id = Uuid::now_v7();
    let events = decide_on_stream(
        pool,
        appender,
        ACCOUNTS,
        account_id,
        meta,
        "session start",
        |stream| {
            let event = session::start(&session::logins(stream), session_id, now, &check)?;
            let Event::SessionStarted { expires_at, .. } = event else {
                unreachable!("session::start makes a SessionStarted event")
            };
            let registration = Registration::Session {
                session_id,
                sha256: sha256.clone(),
                expires_at,
            };
            Ok((vec![event], vec![registration]))
        },
    )
    .await?;
    let Some(Event::SessionStarted { expires_at, .. }) = events.first() else {
        unreachable!("session::start makes a SessionStarted event")
    };
    Ok(StartedSession {
        token,
        session_id,
        account_id,
        expires_at: *expires_at,
    })
}

/// Checks a password on a blocking thread: argon2 takes tens of
/// milliseconds on purpose, which would stall the requests sharing an
/// async worker.
async fn check_password(password: &str, hash: Option<String>) -> anyhow::Result<PasswordCheck> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || session::check_password(&password, hash.as_deref()))
        .await
        .context("checking a password")
}

/// The session `token` opens at `now`, if it is live (issued, not ended,
/// not expired).
pub async fn authenticate(
    pool: &Pool,
    token: &str,
    now: OffsetDateTime,
) -> anyhow::Result<Option<Principal>> {
    if !token.starts_with(session::TOKEN_PREFIX) {
        return Ok(None);
    }
    let found = store::find_live_session(pool, &session::digest(token), now).await?;
    Ok(found.map(|record| Principal {
        account_id: record.account_id,
        session_id: record.session_id,
    }))
}

/// Ends `session_id` of `account_id` for `reason` (`logout`, `suspended`,
/// `removed`, ...): its token is refused from the commit on.
pub async fn end(
    pool: &Pool,
    appender: &Appender,
    meta: &RequestMeta,
    account_id: Uuid,
    session_id: Uuid,
    reason: &str,
) -> anyhow::Result<()> {
    decide_on_stream(
        pool,
        appender,
        ACCOUNTS,
        account_id,
        meta,
        "session end",
        |stream| {
            let event = session::end(&session::logins(stream), session_id, reason)?;
            Ok((vec![event], vec![Registration::SessionEnded { session_id }]))
        },
    )
    .await?;
    Ok(())
}

/// Ends every session of `account_id` that started before `before` and is
/// still live at `now`, for `reason` (a membership suspended or removed at
/// `before`): the person logs in again, and their new session no longer
/// opens that organization. Ends nothing twice.
pub async fn end_sessions_started_before(
    pool: &Pool,
    appender: &Appender,
    meta: &RequestMeta,
    account_id: Uuid,
    before: OffsetDateTime,
    now: OffsetDateTime,
    reason: &str,
) -> anyhow::Result<usize> {
    let live = store::live_sessions_started_before(pool, account_id, before, now).await?;
    if live.is_empty() {
        return Ok(0);
    }
    let ended = decide_on_stream(
        pool,
        appender,
        ACCOUNTS,
        account_id,
        meta,
        "session end",
        |stream| {
            let logins = session::logins(stream);
            let open = |session_id: Uuid| {
                logins
                    .sessions
                    .iter()
                    .any(|life| life.session_id == session_id && life.ended.is_none())
            };
            let (events, registrations) = live
                .iter()
                .filter(|record| open(record.session_id))
                .map(|record| {
                    (
                        Event::SessionEnded {
                            session_id: record.session_id,
                            reason: reason.to_owned(),
                        },
                        Registration::SessionEnded {
                            session_id: record.session_id,
                        },
                    )
                })
                .unzip();
            Ok((events, registrations))
        },
    )
    .await?;
    Ok(ended.len())
}
