//! Admin API sessions: an account's owner logs in with email and password
//! and gets a bearer token for `/api/v1`, valid [`LIFETIME`] unless ended
//! first (logout, or the reaper once the account's membership is suspended
//! or removed).
//!
//! A session's token is made like a SCIM token (32 random bytes, a prefix
//! secret scanners know) and stored, like one, only as its SHA-256 digest:
//! its entropy makes a slow hash pointless. The events live in the
//! account's stream (keyspace [`crate::account::ACCOUNTS`]).
//!
//! A login that fails says the same whatever was wrong (no such account,
//! no password set, a wrong password), and costs the same: an unknown email
//! is checked against [`DUMMY_PASSWORD_HASH`], an argon2id string made with
//! the parameters real passwords get.

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::refusal::Refusal;
use crate::{Event, StoredEvent};

/// Every session token starts with this (SCIM tokens with `rcs_`).
pub const TOKEN_PREFIX: &str = "rcsess_";

/// How long a session lasts from login.
pub const LIFETIME: Duration = Duration::hours(12);

/// What every failed login is told.
pub const BAD_CREDENTIALS: &str = "the email or the password is wrong (an account without a password gets one from \
     `rollcall account set-password`)";

/// An argon2id PHC string with the `argon2` crate's default parameters
/// (those [`crate::password::phc`] uses) and a made-up hash that no known
/// password produces: a login
/// for an email without an account (or without a password) is checked
/// against it, so that it takes as long as a wrong password.
pub const DUMMY_PASSWORD_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$gWPVgHt8Ty9NDHzdTSHojo8SPE8Vve7Ha/oWJUJ5Ozk";

/// The digest under which a session token is stored and looked up.
pub fn digest(token: &str) -> [u8; 32] {
    crate::token::digest(token)
}

/// What an account's stream says of logging in: its password, and its
/// sessions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Logins {
    /// The account exists.
    pub exists: bool,
    /// The PHC string of the account's password, if one is set.
    pub password_hash: Option<String>,
    pub sessions: Vec<SessionLife>,
}

/// One session as the log tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionLife {
    pub session_id: Uuid,
    pub started_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// Why it ended, if it did before expiring.
    pub ended: Option<String>,
}

impl SessionLife {
    /// Whether the session opens admin API requests at `now`.
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.ended.is_none() && now < self.expires_at
    }
}

impl Logins {
    /// The account's logins after `event` (recorded at `recorded_at`).
    pub fn evolve(mut self, event: &Event, recorded_at: OffsetDateTime) -> Logins {
        match event {
            Event::AccountCreated { .. } => self.exists = true,
            Event::AccountPasswordSet { password_hash } => {
                self.password_hash = Some(password_hash.clone());
            }
            Event::SessionStarted {
                session_id,
                expires_at,
            } => self.sessions.push(SessionLife {
                session_id: *session_id,
                started_at: recorded_at,
                expires_at: *expires_at,
                ended: None,
            }),
            Event::SessionEnded { session_id, reason } => {
                if let Some(session) = self
                    .sessions
                    .iter_mut()
                    .find(|session| session.session_id == *session_id)
                {
                    session.ended.get_or_insert_with(|| reason.clone());
                }
            }
            _ => {}
        }
        self
    }
}

/// The logins of an account, folded from its stream.
pub fn logins<'a>(stream: impl IntoIterator<Item = &'a StoredEvent>) -> Logins {
    stream
        .into_iter()
        .fold(Logins::default(), |logins, stored| {
            logins.evolve(&stored.event, stored.recorded_at)
        })
}

/// A password checked against the hash an account had. Checking is slow on
/// purpose (argon2), so the caller does it apart from deciding (off its
/// async workers) and [`start`] makes sure the hash is still the account's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordCheck {
    /// The hash checked against (`None`: no account, or no password set).
    pub hash: Option<String>,
    pub opens: bool,
}

/// Checks `password` against `hash` (`None`: no account, or none set).
/// Always runs one argon2 verification, so that every answer takes as long.
pub fn check_password(password: &str, hash: Option<&str>) -> PasswordCheck {
    let opens = match hash {
        Some(hash) => crate::password::matches(password, hash),
        None => {
            // Spent for the time it takes; no password produces this hash.
            let _ = crate::password::matches(password, DUMMY_PASSWORD_HASH);
            false
        }
    };
    PasswordCheck {
        hash: hash.map(str::to_owned),
        opens,
    }
}

/// The event that starts session `session_id` at `now` for an account
/// whose logins are `logins`, when `check` says the password opened the
/// hash the account still has (one changed since is refused alike).
pub fn start(
    logins: &Logins,
    session_id: Uuid,
    now: OffsetDateTime,
    check: &PasswordCheck,
) -> Result<Event, Refusal> {
    let current = logins.password_hash.as_ref().filter(|_| logins.exists);
    if !check.opens || check.hash.as_ref() != current {
        return Err(Refusal::unauthorized(BAD_CREDENTIALS));
    }
    Ok(Event::SessionStarted {
        session_id,
        expires_at: crate::chain::to_stored_precision(now + LIFETIME),
    })
}

/// The event that ends `session_id` for `reason`, unless it has ended
/// already.
pub fn end(logins: &Logins, session_id: Uuid, reason: &str) -> Result<Event, Refusal> {
    match logins
        .sessions
        .iter()
        .find(|session| session.session_id == session_id)
    {
        None => Err(Refusal::not_found(format!(
            "the account has no session {session_id}"
        ))),
        Some(session) if session.ended.is_some() => Err(Refusal::conflict(format!(
            "session {session_id} has ended already; log in again for a new one"
        ))),
        Some(_) => Ok(Event::SessionEnded {
            session_id,
            reason: reason.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::refusal::RefusalCode;

    const SECRET: &str = "a long enough secret";

    fn at(hour: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::hours(hour)
    }

    fn with_password(password: &str) -> Logins {
        Logins::default()
            .evolve(&crate::account::create("ana@contoso.test").unwrap(), at(0))
            .evolve(
                &Event::AccountPasswordSet {
                    password_hash: crate::password::phc(password, &[7; 16]).unwrap(),
                },
                at(0),
            )
    }

    fn login(logins: &Logins, id: u128, hour: i64, password: &str) -> Result<Event, Refusal> {
        let check = check_password(password, logins.password_hash.as_deref());
        start(logins, Uuid::from_u128(id), at(hour), &check)
    }

    #[test]
    fn the_right_password_starts_a_session_of_twelve_hours() {
        let logins = with_password(SECRET);
        let event = login(&logins, 1, 1, SECRET).unwrap();
        assert_eq!(
            event,
            Event::SessionStarted {
                session_id: Uuid::from_u128(1),
                expires_at: at(13)
            }
        );
        let logins = logins.evolve(&event, at(1));
        assert!(logins.sessions[0].is_live(at(12)));
        assert!(!logins.sessions[0].is_live(at(13)));
    }

    #[test]
    fn a_wrong_password_no_password_and_no_account_are_refused_alike() {
        let wrong = login(&with_password(SECRET), 1, 1, "guess").unwrap_err();
        let no_password =
            Logins::default().evolve(&crate::account::create("ana@contoso.test").unwrap(), at(0));
        let unset = login(&no_password, 1, 1, "guess").unwrap_err();
        let nobody = login(&Logins::default(), 1, 1, "guess").unwrap_err();
        assert_eq!(wrong.code, RefusalCode::Unauthorized);
        assert_eq!(wrong, unset);
        assert_eq!(wrong, nobody);
    }

    #[test]
    fn a_password_changed_after_the_check_is_refused() {
        let before = with_password(SECRET);
        let check = check_password(SECRET, before.password_hash.as_deref());
        assert!(check.opens);
        let after = before.evolve(
            &Event::AccountPasswordSet {
                password_hash: crate::password::phc("another long secret", &[8; 16]).unwrap(),
            },
            at(1),
        );
        assert_eq!(
            start(&after, Uuid::nil(), at(1), &check).unwrap_err().code,
            RefusalCode::Unauthorized
        );
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        // Same algorithm and parameters as a real password's hash, so that
        // checking against it takes as long.
        let real = crate::password::phc("anything at all", &[1; 16]).unwrap();
        let params = |phc: &str| phc.rsplitn(3, '$').nth(2).unwrap().to_owned();
        assert_eq!(params(DUMMY_PASSWORD_HASH), params(&real));
        assert!(argon2::PasswordHash::new(DUMMY_PASSWORD_HASH).is_ok());
        assert!(!check_password("", None).opens);
    }

    #[test]
    fn a_session_ends_once() {
        let logins = with_password(SECRET);
        let started = login(&logins, 1, 1, SECRET).unwrap();
        let logins = logins.evolve(&started, at(1));
        let ended = end(&logins, Uuid::from_u128(1), "logout").unwrap();
        let logins = logins.evolve(&ended, at(2));
        assert_eq!(logins.sessions[0].ended.as_deref(), Some("logout"));
        assert!(!logins.sessions[0].is_live(at(2)));
        assert_eq!(
            end(&logins, Uuid::from_u128(1), "logout").unwrap_err().code,
            RefusalCode::Conflict
        );
        assert_eq!(
            end(&logins, Uuid::from_u128(2), "logout").unwrap_err().code,
            RefusalCode::NotFound
        );
    }
}
