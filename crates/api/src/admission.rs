//! How many requests one client address and one token may have in flight.
//!
//! A request holds its connection, a file descriptor and memory until it is
//! answered; one that sends its body slowly holds them for as long as it
//! likes. Without a bound per caller, one token holder (or one address) with
//! thousands of slow requests exhausts the process for every tenant. Past
//! its bound a caller gets 429 with `Retry-After` (which Entra ID honours);
//! the bounds are far above what a provisioning client needs (Entra runs a
//! handful of requests at once per tenant), and per address they are higher
//! still, since many tenants' provisioning can share an address.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use prometheus::IntGauge;
use scim::ScimError;
use uuid::Uuid;

use crate::ApiError;

/// The bounds of one process: per client address and per token.
pub struct Admission {
    clients: InFlight<IpAddr>,
    tokens: InFlight<Uuid>,
    in_flight: IntGauge,
}

/// The slots one request holds; given back when this drops.
pub struct Slots {
    _client: Option<Admitted<IpAddr>>,
    _token: Admitted<Uuid>,
    in_flight: IntGauge,
}

impl Drop for Slots {
    fn drop(&mut self) {
        self.in_flight.dec();
    }
}

impl Admission {
    /// At most `per_client` requests in flight per client address and
    /// `per_token` per token; `in_flight` counts the admitted ones.
    pub fn new(per_client: usize, per_token: usize, in_flight: IntGauge) -> Admission {
        Admission {
            clients: InFlight::new(per_client),
            tokens: InFlight::new(per_token),
            in_flight,
        }
    }

    /// Takes a slot for the request's address and one for its token.
    pub fn admit(&self, client: Option<SocketAddr>, token_id: Uuid) -> Result<Slots, ApiError> {
        let client = client
            .map(|address| self.clients.admit(address.ip(), "client address"))
            .transpose()?;
        let token = self.tokens.admit(token_id, "token")?;
        self.in_flight.inc();
        Ok(Slots {
            _client: client,
            _token: token,
            in_flight: self.in_flight.clone(),
        })
    }
}

/// Requests in flight per key, bounded.
pub struct InFlight<Key: Eq + Hash + Clone> {
    limit: usize,
    counts: Arc<Mutex<HashMap<Key, usize>>>,
}

/// One admitted request; its slot is given back when this drops.
pub struct Admitted<Key: Eq + Hash + Clone> {
    key: Key,
    counts: Arc<Mutex<HashMap<Key, usize>>>,
}

impl<Key: Eq + Hash + Clone> InFlight<Key> {
    /// A bound of `limit` requests in flight per key.
    pub fn new(limit: usize) -> Self {
        InFlight {
            limit,
            counts: Arc::default(),
        }
    }

    /// Takes a slot for `key`, or refuses with 429 naming `who`.
    pub fn admit(&self, key: Key, who: &str) -> Result<Admitted<Key>, ApiError> {
        let mut counts = self.counts.lock().expect("never poisoned");
        let count = counts.entry(key.clone()).or_insert(0);
        if *count >= self.limit {
            return Err(ApiError::Scim(ScimError {
                status: 429,
                scim_type: None,
                detail: format!(
                    "this {who} has {} requests in progress, the most rollcall serves at once; \
                     retry after the ones in progress are answered",
                    self.limit
                ),
            }));
        }
        *count += 1;
        Ok(Admitted {
            key,
            counts: self.counts.clone(),
        })
    }
}

impl<Key: Eq + Hash + Clone> Drop for Admitted<Key> {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().expect("never poisoned");
        if let Some(count) = counts.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_past_its_bound_is_refused_until_a_slot_is_given_back() {
        let in_flight = InFlight::new(2);
        let first = in_flight.admit("a", "token").unwrap();
        let _second = in_flight.admit("a", "token").unwrap();
        let refused = in_flight.admit("a", "token").err().expect("refused");
        assert_eq!(refused.to_scim().status, 429);
        let _other = in_flight.admit("b", "token").expect("another key is free");
        drop(first);
        let _third = in_flight.admit("a", "token").expect("a slot came back");
    }

    #[test]
    fn keys_with_nothing_in_flight_are_forgotten() {
        let in_flight = InFlight::new(1);
        drop(in_flight.admit(1, "token").unwrap());
        assert!(in_flight.counts.lock().unwrap().is_empty());
    }
}
