//! The organization's history as auditors ask about it: the state at any
//! position ([`state`]), one user's timeline ([`timeline`]), what changed
//! between two instants ([`diff`]), and joiners and leavers with what
//! followed each request ([`movers`]).
//!
//! Everything here folds events the caller has read, in position order;
//! the state is folded with the read model's own fold, so an instant's
//! users and groups are what the read tables held then. Changes are shown
//! attribute by attribute ([`attributes`]).

pub mod attributes;
pub mod diff;
pub mod movers;
pub mod state;
pub mod timeline;

use crate::{RequestMeta, StoredEvent};

/// An event with the request that caused it, as the log holds them.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub stored: StoredEvent,
    pub request: RequestMeta,
}

#[cfg(test)]
mod tests;
