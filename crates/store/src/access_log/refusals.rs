//! Requests refused before they named an organization, counted per minute.
//!
//! A flood of bad tokens must not cost a row each: the gate counts them here
//! by (minute, reason, client address), keeps a few whole requests per minute
//! as samples, and the writer stores one row per count when its minute is
//! over. Distinct addresses per minute are capped too, so that a flood from
//! many addresses (IPv6 makes them cheap) stays bounded: past the cap they are
//! counted together under no address. No I/O here; time is passed in.

use std::collections::HashMap;

use time::{Duration, OffsetDateTime};

/// Length of one counting interval.
pub const INTERVAL: Duration = Duration::MINUTE;
/// Whole refused requests kept per interval as samples in `access_log`.
pub const SAMPLES_PER_INTERVAL: u64 = 20;
/// Distinct (reason, address) counts per interval; further addresses are
/// counted together with no address.
pub const SOURCES_PER_INTERVAL: usize = 256;

/// Why a request was refused before it named an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalReason {
    /// No `Authorization: Bearer` header.
    Missing,
    /// A token that is not a SCIM token of any organization.
    Unknown,
    /// A token past its expiry.
    Expired,
    /// A token an owner revoked.
    Revoked,
    /// A bad token from an address that presented too many, or an admin API
    /// login from an address that failed too often (429).
    Throttled,
    /// The token could not be checked (the database did not answer).
    Unavailable,
    /// The request itself could not be read as HTTP (refused at the front
    /// door, before any token was looked at).
    Malformed,
    /// An admin API request without a live session token (none, unknown,
    /// ended or expired).
    NoSession,
    /// A failed admin API login (an unknown email, or a wrong password:
    /// counted alike; a known account's is also a `CommandRefused` event).
    BadLogin,
}

impl RefusalReason {
    /// Every reason, for metrics that show each from the start.
    pub const ALL: [RefusalReason; 9] = [
        RefusalReason::Missing,
        RefusalReason::Unknown,
        RefusalReason::Expired,
        RefusalReason::Revoked,
        RefusalReason::Throttled,
        RefusalReason::Unavailable,
        RefusalReason::Malformed,
        RefusalReason::NoSession,
        RefusalReason::BadLogin,
    ];

    /// The name stored in `access_refusals.reason` and in metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::Missing => "missing",
            RefusalReason::Unknown => "unknown",
            RefusalReason::Expired => "expired",
            RefusalReason::Revoked => "revoked",
            RefusalReason::Throttled => "throttled",
            RefusalReason::Unavailable => "unavailable",
            RefusalReason::Malformed => "malformed",
            RefusalReason::NoSession => "no_session",
            RefusalReason::BadLogin => "bad_login",
        }
    }
}

/// One stored count: `requests` refused for `reason` from `client_addr`
/// in the interval starting at `interval_start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusalCount {
    pub interval_start: OffsetDateTime,
    pub reason: RefusalReason,
    pub client_addr: Option<String>,
    pub requests: u64,
    pub sampled: u64,
}

#[derive(Debug, Default)]
struct Interval {
    counts: HashMap<(RefusalReason, Option<String>), (u64, u64)>,
    sampled: u64,
}

/// The counts of the intervals not yet handed to the writer.
#[derive(Debug, Default)]
pub struct RefusalTally {
    intervals: HashMap<OffsetDateTime, Interval>,
}

/// Where a counted refusal belongs, to mark it sampled afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    interval_start: OffsetDateTime,
    key: (RefusalReason, Option<String>),
    /// Whether the caller should keep this request whole, as a sample.
    pub take_sample: bool,
}

impl RefusalTally {
    /// Counts one refusal at `at`.
    pub fn count(
        &mut self,
        at: OffsetDateTime,
        reason: RefusalReason,
        client_addr: Option<&str>,
    ) -> Counted {
        let interval_start = interval_start(at);
        let interval = self.intervals.entry(interval_start).or_default();
        let mut key = (reason, client_addr.map(str::to_owned));
        if !interval.counts.contains_key(&key) && interval.counts.len() >= SOURCES_PER_INTERVAL {
            key.1 = None;
        }
        interval.counts.entry(key.clone()).or_default().0 += 1;
        Counted {
            interval_start,
            key,
            take_sample: interval.sampled < SAMPLES_PER_INTERVAL,
        }
    }

    /// Refused requests counted and not yet taken.
    pub fn requests(&self) -> u64 {
        self.intervals
            .values()
            .flat_map(|interval| interval.counts.values())
            .map(|(requests, _)| requests)
            .sum()
    }

    /// Records that the counted refusal was kept whole.
    pub fn sampled(&mut self, counted: &Counted) {
        if let Some(interval) = self.intervals.get_mut(&counted.interval_start) {
            interval.sampled += 1;
            if let Some(count) = interval.counts.get_mut(&counted.key) {
                count.1 += 1;
            }
        }
    }

    /// Takes the counts of intervals that ended by `now`, or of all of them
    /// when `everything` (at shutdown).
    pub fn take_closed(&mut self, now: OffsetDateTime, everything: bool) -> Vec<RefusalCount> {
        let closed: Vec<OffsetDateTime> = self
            .intervals
            .keys()
            .copied()
            .filter(|start| everything || *start + INTERVAL <= now)
            .collect();
        let mut taken = Vec::new();
        for start in closed {
            let interval = self.intervals.remove(&start).expect("a listed interval");
            taken.extend(interval.counts.into_iter().map(
                |((reason, client_addr), (requests, sampled))| RefusalCount {
                    interval_start: start,
                    reason,
                    client_addr,
                    requests,
                    sampled,
                },
            ));
        }
        taken.sort_by(|a, b| {
            (a.interval_start, a.reason.as_str(), &a.client_addr).cmp(&(
                b.interval_start,
                b.reason.as_str(),
                &b.client_addr,
            ))
        });
        taken
    }
}

fn interval_start(at: OffsetDateTime) -> OffsetDateTime {
    let seconds = at.unix_timestamp();
    let length = INTERVAL.whole_seconds();
    OffsetDateTime::from_unix_timestamp(seconds - seconds.rem_euclid(length))
        .expect("a minute boundary is a valid time")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_flood_from_one_address_is_one_count_per_minute_with_a_few_samples() {
        let mut tally = RefusalTally::default();
        let start = datetime!(2026-11-30 10:00:00 UTC);
        let mut samples = 0;
        for i in 0..10_000i64 {
            let at = start + Duration::milliseconds(i * 12); // two minutes
            let counted = tally.count(at, RefusalReason::Unknown, Some("203.0.113.9"));
            if counted.take_sample {
                tally.sampled(&counted);
                samples += 1;
            }
        }
        assert_eq!(samples, 2 * SAMPLES_PER_INTERVAL);
        let first = tally.take_closed(start + Duration::MINUTE, false);
        assert_eq!(first.len(), 1, "only the first minute is over");
        let rest = tally.take_closed(start + Duration::MINUTE, true);
        assert_eq!(rest.len(), 1);
        let total: u64 = first.iter().chain(&rest).map(|count| count.requests).sum();
        assert_eq!(total, 10_000);
        assert_eq!(first[0].interval_start, start);
        assert_eq!(first[0].sampled, SAMPLES_PER_INTERVAL);
        assert!(tally.take_closed(start + Duration::HOUR, true).is_empty());
    }

    #[test]
    fn addresses_past_the_cap_are_counted_together() {
        let mut tally = RefusalTally::default();
        let at = datetime!(2026-11-30 10:00:30 UTC);
        for i in 0..(SOURCES_PER_INTERVAL + 1_000) {
            tally.count(
                at,
                RefusalReason::Missing,
                Some(&format!("2001:db8::{i:x}")),
            );
        }
        let counts = tally.take_closed(at + Duration::MINUTE, false);
        assert_eq!(counts.len(), SOURCES_PER_INTERVAL + 1);
        let others = counts
            .iter()
            .find(|count| count.client_addr.is_none())
            .expect("one count for the rest");
        assert_eq!(others.requests, 1_000);
        assert_eq!(others.interval_start, datetime!(2026-11-30 10:00:00 UTC));
    }
}
