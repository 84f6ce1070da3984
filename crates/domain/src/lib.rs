//! rollcall's business core: events, aggregates and the rules, with no I/O.
//!
//! Everything that changes an organisation is an [`Event`] in a stream. Rules
//! live in `decide(&state, command) -> Result<Vec<Event>, Rejection>`; state is
//! rebuilt by `evolve(state, &event)`, which cannot fail. The API's write path,
//! the projector and the auditors' `verify` all fold with the same `evolve`,
//! so history and current state cannot disagree.
//!
//! Two decisions shaped this crate. Events that change a SCIM resource carry
//! the whole resulting resource (and, for PATCH, the operations as sent): a
//! replay never re-runs the PATCH engine, so an improved engine can never
//! change what history means. And time and new ids are always passed in,
//! never read or made here: the caller owns the clock and the id generator.

pub mod bounded;
pub mod chain;
pub mod domains;
pub mod event;
pub mod group;
pub mod group_projection;
pub mod metadata;
pub mod organization;
pub mod projection;
pub mod refusal;
pub mod rejection;
pub mod token;
pub mod unique;
pub mod user;

pub use event::{Event, StoredEvent};
pub use metadata::RequestMeta;
pub use refusal::{Refusal, RefusalCode};
pub use rejection::Rejection;
