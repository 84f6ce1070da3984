//! The `rollcall` command and the wiring it shares with the tests: starting
//! the whole stack in one process ([`stack`]), the owners' administration
//! verbs (whose operations are the `admin` crate's), the auditors' [`verify`],
//! the read tables' [`rebuild`], the access log's [`retention`], and the load
//! generator ([`bench`]).

pub mod bench;
pub mod config;
pub mod rebuild;
pub mod retention;
pub mod stack;
pub mod verify;
pub mod verify_organization;

pub use config::Config;
pub use stack::{RunningStack, Stack};
