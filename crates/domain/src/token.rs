//! SCIM bearer tokens: how they look, how they are stored, and their life:
//! issued (shown once), at most two live at a time, revoked at once by an
//! owner, warned about before they expire, expired after a year.
//!
//! A token is 32 random bytes, so a plain SHA-256 digest is enough to store
//! it safely (a slow password hash protects low-entropy secrets; it would only
//! cost every request a few milliseconds here).
//!
//! Two live tokens let an owner rotate without an outage (issue the new one,
//! give it to the identity provider, revoke the old one), as WorkOS and AWS
//! IAM Identity Center do; a third would only be forgotten.

use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::refusal::Refusal;
use crate::{Event, StoredEvent};

/// Every SCIM token starts with this, so that secret scanners can find leaks.
pub const TOKEN_PREFIX: &str = "rcs_";

/// The longest (and default) validity of a token, in days.
pub const MAX_VALID_DAYS: i64 = 365;

/// How many tokens of one organization may be live at once.
pub const MAX_LIVE_TOKENS: usize = 2;

/// Days before expiry at which the reaper records a warning, most distant
/// first.
pub const WARNING_DAYS: [i64; 3] = [30, 7, 1];

/// The digest under which a token is stored and looked up.
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// What the log says of one token.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenLife {
    pub token_id: Uuid,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// When an owner revoked it, if one did.
    pub revoked_at: Option<OffsetDateTime>,
    /// Whether its `ScimTokenExpired` is recorded.
    pub expiry_recorded: bool,
    /// The warnings recorded for it (days before expiry).
    pub warned_days: Vec<i64>,
}

impl TokenLife {
    /// A token just issued.
    pub fn issued(token_id: Uuid, issued_at: OffsetDateTime, expires_at: OffsetDateTime) -> Self {
        TokenLife {
            token_id,
            issued_at,
            expires_at,
            revoked_at: None,
            expiry_recorded: false,
            warned_days: Vec::new(),
        }
    }

    /// Whether the token opens SCIM requests at `now`.
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }

    /// What the log says once `event` happened to this token; other events
    /// leave it as it is.
    pub fn evolve(mut self, event: &Event, recorded_at: OffsetDateTime) -> Self {
        match event {
            Event::ScimTokenRevoked { token_id } if *token_id == self.token_id => {
                self.revoked_at.get_or_insert(recorded_at);
            }
            Event::ScimTokenExpired { token_id } if *token_id == self.token_id => {
                self.expiry_recorded = true;
            }
            Event::ScimTokenExpiryWarned {
                token_id,
                days_left,
            } if *token_id == self.token_id => self.warned_days.push(*days_left),
            _ => {}
        }
        self
    }
}

/// The tokens of an organization, folded from its stream's events (the
/// organization stream, where tokens are issued, revoked and expire).
pub fn lives<'a>(events: impl IntoIterator<Item = &'a StoredEvent>) -> Vec<TokenLife> {
    let mut tokens: Vec<TokenLife> = Vec::new();
    for stored in events {
        match &stored.event {
            Event::ScimTokenIssued {
                token_id,
                expires_at,
            } => tokens.push(TokenLife::issued(
                *token_id,
                stored.recorded_at,
                *expires_at,
            )),
            event => {
                tokens = tokens
                    .into_iter()
                    .map(|token| token.evolve(event, stored.recorded_at))
                    .collect();
            }
        }
    }
    tokens
}

/// The event that issues token `token_id` at `now`, valid for
/// `valid_for_days` (default and most [`MAX_VALID_DAYS`]), unless
/// [`MAX_LIVE_TOKENS`] are live already.
pub fn issue(
    tokens: &[TokenLife],
    token_id: Uuid,
    now: OffsetDateTime,
    valid_for_days: Option<i64>,
) -> Result<Event, Refusal> {
    let days = valid_for_days.unwrap_or(MAX_VALID_DAYS);
    if !(1..=MAX_VALID_DAYS).contains(&days) {
        return Err(Refusal::invalid(format!(
            "valid_for_days must be between 1 and {MAX_VALID_DAYS}, not {days}"
        )));
    }
    let mut live: Vec<&TokenLife> = tokens.iter().filter(|token| token.is_live(now)).collect();
    if live.len() >= MAX_LIVE_TOKENS {
        live.sort_by_key(|token| token.expires_at);
        let oldest = live[0];
        return Err(Refusal::conflict(format!(
            "the organization already has {MAX_LIVE_TOKENS} live SCIM tokens; revoke one first \
             (token {} expires soonest, at {})",
            oldest.token_id,
            crate::chain::to_stored_precision(oldest.expires_at)
        )));
    }
    Ok(Event::ScimTokenIssued {
        token_id,
        expires_at: crate::chain::to_stored_precision(now + Duration::days(days)),
    })
}

/// The event that revokes `token_id` at once.
pub fn revoke(tokens: &[TokenLife], token_id: Uuid) -> Result<Event, Refusal> {
    match tokens.iter().find(|token| token.token_id == token_id) {
        None => Err(Refusal::not_found(format!(
            "the organization has no SCIM token {token_id}"
        ))),
        Some(token) if token.revoked_at.is_some() => Err(Refusal::conflict(format!(
            "SCIM token {token_id} is revoked already"
        ))),
        Some(_) => Ok(Event::ScimTokenRevoked { token_id }),
    }
}

/// What the reaper records for `token` at `now`: its expiry once it has
/// passed, else the nearest warning it has reached and not yet recorded (a
/// reaper that was down for weeks records the 7-day warning, not the 30-day
/// one too). Revoked tokens need neither.
pub fn due(token: &TokenLife, now: OffsetDateTime) -> Option<Event> {
    if token.revoked_at.is_some() || token.expiry_recorded {
        return None;
    }
    if now >= token.expires_at {
        return Some(Event::ScimTokenExpired {
            token_id: token.token_id,
        });
    }
    let reached = WARNING_DAYS
        .into_iter()
        .filter(|days| now >= token.expires_at - Duration::days(*days))
        .min()?;
    let nearer_recorded = token.warned_days.iter().any(|days| *days <= reached);
    (!nearer_recorded).then_some(Event::ScimTokenExpiryWarned {
        token_id: token.token_id,
        days_left: reached,
    })
}

/// Whole days from `now` until the soonest expiry among the live `tokens`
/// (negative never; `None` when none is live): what operators graph.
pub fn days_to_soonest_expiry(tokens: &[TokenLife], now: OffsetDateTime) -> Option<f64> {
    tokens
        .iter()
        .filter(|token| token.is_live(now))
        .map(|token| (token.expires_at - now).as_seconds_f64() / 86_400.0)
        .reduce(f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::days(day)
    }

    fn token(n: u128, issued_day: i64) -> TokenLife {
        TokenLife::issued(Uuid::from_u128(n), at(issued_day), at(issued_day + 365))
    }

    #[test]
    fn a_token_is_valid_for_a_year_unless_asked_for_less() {
        let Ok(Event::ScimTokenIssued { expires_at, .. }) = issue(&[], Uuid::nil(), at(0), None)
        else {
            panic!("a token")
        };
        assert_eq!(expires_at, at(365));
        let Ok(Event::ScimTokenIssued { expires_at, .. }) =
            issue(&[], Uuid::nil(), at(0), Some(30))
        else {
            panic!("a token")
        };
        assert_eq!(expires_at, at(30));
        for days in [0, -1, 366] {
            let refused = issue(&[], Uuid::nil(), at(0), Some(days)).unwrap_err();
            assert_eq!(refused.code, crate::refusal::RefusalCode::Invalid, "{days}");
        }
    }

    #[test]
    fn a_third_live_token_is_refused_naming_the_one_to_revoke() {
        let tokens = [token(1, 10), token(2, 0)];
        let refused = issue(&tokens, Uuid::from_u128(3), at(20), None).unwrap_err();
        assert_eq!(refused.code, crate::refusal::RefusalCode::Conflict);
        assert!(
            refused.message.contains(&Uuid::from_u128(2).to_string()),
            "{}",
            refused.message
        );
        // A revoked or expired one does not count.
        let mut revoked = tokens.clone();
        revoked[0].revoked_at = Some(at(15));
        assert!(issue(&revoked, Uuid::from_u128(3), at(20), None).is_ok());
        assert!(issue(&tokens, Uuid::from_u128(3), at(365), None).is_ok());
    }

    #[test]
    fn a_token_works_on_day_364_and_not_on_day_365() {
        let token = token(1, 0);
        assert!(token.is_live(at(364)));
        assert!(!token.is_live(at(365)));
        assert_eq!(
            due(&token, at(364)).unwrap().type_name(),
            "ScimTokenExpiryWarned"
        );
        assert_eq!(
            due(&token, at(365)),
            Some(Event::ScimTokenExpired {
                token_id: token.token_id
            })
        );
    }

    #[test]
    fn warnings_come_at_30_7_and_1_days_and_once_each() {
        let mut life = token(1, 0);
        assert_eq!(due(&life, at(334) - Duration::seconds(1)), None);
        let mut recorded = Vec::new();
        for day in 334..=365 {
            if let Some(event) = due(&life, at(day)) {
                life = life.evolve(&event, at(day));
                recorded.push((day, event));
            }
        }
        let warned: Vec<(i64, i64)> = recorded
            .iter()
            .filter_map(|(day, event)| match event {
                Event::ScimTokenExpiryWarned { days_left, .. } => Some((*day, *days_left)),
                _ => None,
            })
            .collect();
        assert_eq!(warned, [(335, 30), (358, 7), (364, 1)]);
        assert_eq!(recorded.last().unwrap().0, 365);
        assert_eq!(due(&life, at(400)), None, "expiry is recorded once");
    }

    #[test]
    fn a_late_reaper_records_only_the_nearest_warning() {
        let life = token(1, 0);
        assert_eq!(
            due(&life, at(360)),
            Some(Event::ScimTokenExpiryWarned {
                token_id: life.token_id,
                days_left: 7
            })
        );
    }

    #[test]
    fn a_revoked_token_is_refused_at_once_and_never_warned_about() {
        let tokens = [token(1, 0)];
        let event = revoke(&tokens, tokens[0].token_id).unwrap();
        let life = tokens[0].clone().evolve(&event, at(5));
        assert!(!life.is_live(at(5)));
        assert_eq!(due(&life, at(364)), None);
        assert_eq!(
            revoke(&[life], tokens[0].token_id).unwrap_err().code,
            crate::refusal::RefusalCode::Conflict
        );
        assert_eq!(
            revoke(&tokens, Uuid::from_u128(9)).unwrap_err().code,
            crate::refusal::RefusalCode::NotFound
        );
    }

    #[test]
    fn the_log_of_an_organization_folds_into_its_tokens() {
        let stored = |version: i64, day: i64, event: Event| StoredEvent {
            position: version,
            org_id: Uuid::nil(),
            stream_id: Uuid::nil(),
            stream_version: version,
            recorded_at: at(day),
            event,
        };
        let (one, two) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let events = [
            stored(
                1,
                0,
                Event::OrganizationCreated {
                    name: "Acme".into(),
                },
            ),
            stored(
                2,
                0,
                Event::ScimTokenIssued {
                    token_id: one,
                    expires_at: at(365),
                },
            ),
            stored(
                3,
                10,
                Event::ScimTokenIssued {
                    token_id: two,
                    expires_at: at(375),
                },
            ),
            stored(4, 11, Event::ScimTokenRevoked { token_id: one }),
            stored(
                5,
                345,
                Event::ScimTokenExpiryWarned {
                    token_id: two,
                    days_left: 30,
                },
            ),
        ];
        let tokens = lives(&events);
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens[0].revoked_at, Some(at(11)));
        assert_eq!(tokens[1].issued_at, at(10));
        assert_eq!(tokens[1].warned_days, [30]);
        assert_eq!(due(&tokens[1], at(346)), None);
    }

    #[test]
    fn operators_see_the_days_to_the_soonest_live_expiry() {
        let tokens = [token(1, 0), token(2, 100)];
        assert_eq!(days_to_soonest_expiry(&tokens, at(300)), Some(65.0));
        assert_eq!(days_to_soonest_expiry(&tokens, at(500)), None);
    }
}
