//! rollcall's business core: events, aggregates and the rules, with no I/O.
//!
//! Everything that changes an organization is an [`Event`] in a stream. Rules
//! live in `decide(&state, command) -> Result<Vec<Event>, Rejection>`; an
//! aggregate's state is rebuilt by `evolve(state, &event)`, which cannot fail.
//! Only the API's write path folds with `evolve`, to get the state a decision
//! needs. The read tables come from a second fold, the [`read_model`]: it maps
//! each event to the row changes it makes, which the projector runs as SQL
//! and `rollcall verify` applies in memory to compare with the tables. Both
//! folds take a resource from the event that carries it whole, so they agree
//! on what a resource is; `verify` proves that the tables agree with the log.
//!
//! Two decisions shaped this crate. Events that change a SCIM resource carry
//! the whole resulting resource (and, for PATCH, the operations as sent): a
//! replay never re-runs the PATCH engine, so an improved engine can never
//! change what history means. And time and new ids are always passed in,
//! never read or made here: the caller owns the clock and the id generator.

pub mod account;
pub mod bounded;
pub mod chain;
pub mod checkpoint;
pub mod domains;
pub mod erasable;
pub mod event;
pub mod group;
pub mod history;
pub mod linking;
pub mod membership;
pub mod metadata;
pub mod organization;
pub mod partition;
pub mod password;
pub mod provisioning;
pub mod read_model;
pub mod recorded_request;
pub mod redaction;
pub mod refusal;
pub mod rejection;
pub mod resource;
pub mod session;
pub mod token;
pub mod unique;
pub mod user;

pub use event::{Event, StoredEvent};
pub use metadata::RequestMeta;
pub use refusal::{Refusal, RefusalCode};
pub use rejection::Rejection;
