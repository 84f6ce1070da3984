//! SCIM bearer tokens: how they look and how they are stored.
//!
//! A token is 32 random bytes, so a plain SHA-256 digest is enough to store
//! it safely (a slow password hash protects low-entropy secrets; it would only
//! cost every request a few milliseconds here).

use sha2::{Digest, Sha256};

/// Every SCIM token starts with this, so that secret scanners can find leaks.
pub const TOKEN_PREFIX: &str = "rcs_";

/// The digest under which a token is stored and looked up.
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}
