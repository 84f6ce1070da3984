//! Addresses that keep presenting bad SCIM tokens get 429 for a while.
//!
//! A client address that presents more than [`BadTokenLimits::attempts`]
//! missing, unknown, expired or revoked tokens within a minute is answered
//! 429 with `Retry-After` for its bad tokens until the block ends, instead of
//! 401; the attempts are counted (`access_refusals`, reason `throttled`), not
//! each logged. A *valid* token from a blocked address is still served:
//! identity providers provision many tenants from the same few addresses
//! (Entra's egress ranges are shared), so one tenant's stale token must not
//! stop another's provisioning. Guessing a 256-bit token is hopeless anyway;
//! the block spares the database and the log a misconfigured client's
//! retry storm. Each API process counts on its own.
//!
//! The admin API's failed logins are counted by a second table of the same
//! kind: there a block refuses every login from the address, since a
//! password, unlike a token, can be guessed, and each failure for a known
//! account is an event in its stream.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many bad tokens an address may present before it is blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadTokenLimits {
    /// Bad tokens allowed within [`WINDOW`]; the next one starts a block.
    pub attempts: u32,
    /// How long a block lasts.
    pub block: Duration,
}

impl Default for BadTokenLimits {
    fn default() -> Self {
        BadTokenLimits {
            attempts: 20,
            block: Duration::from_secs(60),
        }
    }
}

/// The span over which bad tokens are counted.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Addresses tracked at most; past it the oldest windows are forgotten, so a
/// flood from many addresses costs bounded memory.
const MAX_TRACKED: usize = 100_000;

/// The bad tokens seen per address, in this process.
pub struct BadTokens {
    limits: BadTokenLimits,
    table: Mutex<HashMap<IpAddr, Tally>>,
}

#[derive(Debug, Clone, Copy)]
struct Tally {
    window_start: Instant,
    attempts: u32,
    blocked_until: Option<Instant>,
}

impl BadTokens {
    pub fn new(limits: BadTokenLimits) -> BadTokens {
        BadTokens {
            limits,
            table: Mutex::default(),
        }
    }

    /// Counts one bad token from `address` at `now`; answers how long the
    /// address stays blocked when this attempt is past the limit (or falls
    /// inside a block), `None` when it gets its plain 401.
    pub fn note(&self, address: IpAddr, now: Instant) -> Option<Duration> {
        let mut table = self.table.lock().expect("never poisoned");
        if table.len() >= MAX_TRACKED && !table.contains_key(&address) {
            forget_oldest(&mut table);
        }
        let tally = table.entry(address).or_insert(Tally {
            window_start: now,
            attempts: 0,
            blocked_until: None,
        });
        if let Some(until) = tally.blocked_until {
            if now < until {
                return Some(until - now);
            }
            tally.blocked_until = None;
            tally.window_start = now;
            tally.attempts = 0;
        }
        if now.duration_since(tally.window_start) >= WINDOW {
            tally.window_start = now;
            tally.attempts = 0;
        }
        tally.attempts += 1;
        if tally.attempts > self.limits.attempts {
            let until = now + self.limits.block;
            tally.blocked_until = Some(until);
            return Some(self.limits.block);
        }
        None
    }

    /// How long `address` stays blocked at `now`, if it is.
    pub fn blocked(&self, address: IpAddr, now: Instant) -> Option<Duration> {
        let table = self.table.lock().expect("never poisoned");
        let until = table.get(&address)?.blocked_until?;
        (now < until).then(|| until - now)
    }
}

fn forget_oldest(table: &mut HashMap<IpAddr, Tally>) {
    let mut starts: Vec<Instant> = table.values().map(|tally| tally.window_start).collect();
    starts.sort_unstable();
    let cutoff = starts[starts.len() / 2];
    table.retain(|_, tally| tally.window_start > cutoff || tally.blocked_until.is_some());
    if table.len() >= MAX_TRACKED {
        table.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> BadTokenLimits {
        BadTokenLimits {
            attempts: 3,
            block: Duration::from_secs(60),
        }
    }

    #[test]
    fn past_the_limit_an_address_is_blocked_until_the_block_ends() {
        let tokens = BadTokens::new(limits());
        let address: IpAddr = [203, 0, 113, 9].into();
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(tokens.note(address, start), None);
        }
        assert_eq!(tokens.note(address, start), Some(Duration::from_secs(60)));
        let later = start + Duration::from_secs(45);
        assert_eq!(tokens.note(address, later), Some(Duration::from_secs(15)));
        let other: IpAddr = [198, 51, 100, 1].into();
        assert_eq!(
            tokens.note(other, later),
            None,
            "another address is not blocked"
        );
        assert_eq!(
            tokens.blocked(address, later),
            Some(Duration::from_secs(15))
        );
        assert_eq!(tokens.blocked(other, later), None);
        let after = start + Duration::from_secs(61);
        assert_eq!(tokens.blocked(address, after), None);
        assert_eq!(tokens.note(address, after), None, "the block ended");
    }

    #[test]
    fn attempts_spread_over_more_than_a_minute_are_never_blocked() {
        let tokens = BadTokens::new(limits());
        let address: IpAddr = [203, 0, 113, 9].into();
        let start = Instant::now();
        for minute in 0..10 {
            let at = start + Duration::from_secs(61 * minute);
            for _ in 0..3 {
                assert_eq!(tokens.note(address, at), None);
            }
        }
    }
}
