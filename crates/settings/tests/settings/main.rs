//! The settings crate's tests: how a file's values are found and refused,
//! and that docs/configuration.md and the example file agree with the code.

mod docs;
mod layering;
