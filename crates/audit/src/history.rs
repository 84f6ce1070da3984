//! The organization's history: its state at an instant, one user's
//! timeline, who was in a group then, what changed between two instants,
//! and joiners and leavers with what followed each request.
//!
//! Each question reads the organization's events through `store` in pages,
//! in position order, and folds them once in memory with `domain::history`
//! (the state with the read model's own fold); a timeline reads the user's
//! stream alone. An instant is the organization's last event recorded at
//! or before it, found by a binary search over positions
//! (`store::organization_position_at`).

pub mod diff;
pub mod instant;
pub mod movers;
mod read;
pub mod state;
pub mod timeline;

pub use instant::{At, parse_instant};
