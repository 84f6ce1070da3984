//! Passwords become argon2id PHC strings (`$argon2id$v=19$m=...`) with the
//! `argon2` crate's default parameters, for SCIM users and accounts alike.
//! The salt comes from the caller (this crate makes no randomness), and the
//! clear password is never part of an event.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// The PHC string of `password` with `salt` (16 random bytes).
pub fn phc(password: &str, salt: &[u8; 16]) -> Result<String, String> {
    let salt = SaltString::encode_b64(salt).map_err(|error| error.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| format!("cannot hash a password: {error}"))
}

/// Whether `password` is the one `phc` was made from.
pub fn matches(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_becomes_a_salted_argon2id_string_that_verifies() {
        let first = phc("correct horse", &[1; 16]).unwrap();
        let second = phc("correct horse", &[2; 16]).unwrap();
        assert!(first.starts_with("$argon2id$"), "{first}");
        assert!(!first.contains("correct horse"));
        assert_ne!(first, second, "salted");
        assert!(matches("correct horse", &first));
        assert!(!matches("Correct horse", &first));
        assert!(!matches("correct horse", "not a phc string"));
    }
}
