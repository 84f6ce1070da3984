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
//! change what history means. And time is always passed in, never read.

pub mod bounded;
pub mod chain;
pub mod event;
pub mod group;
pub mod metadata;
pub mod organization;
pub mod read_model;
pub mod rejection;
pub mod resource;
pub mod token;
pub mod user;

pub use event::{Event, StoredEvent};
pub use metadata::RequestMeta;
pub use rejection::Rejection;

/// Old path of the users half of [`read_model`], kept while other branches
/// still name it.
pub mod projection {
    pub use crate::read_model::{
        UserRow, UserRowChange, UserTable, fold_user_event as fold_event, fold_users,
        user_row_change,
    };
}

/// Old path of the groups half of [`read_model`], kept while other branches
/// still name it.
pub mod group_projection {
    pub use crate::read_model::{
        GroupModel, GroupRow, GroupRowChange, GroupTable, MemberTable, MembershipChange,
        fold_group_event, group_row_change, members_at, membership_change,
    };
}
