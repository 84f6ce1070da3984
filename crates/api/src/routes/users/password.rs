//! Hashing the write-only `password` a User request sets
//! ([`domain::password`]: argon2id, a PHC string). Hashing is deliberately
//! slow, so it runs on
//! the blocking pool, never on the async workers. The clear password lives
//! only in this request's memory: it is not logged, recorded or stored.

use std::sync::LazyLock;

use scim::schema::Password;

use crate::ApiError;

/// Hashes running at once: each takes ~19 MiB and a core for tens of
/// milliseconds, so a burst of password writes queues here instead of
/// filling the blocking pool (512 threads) and the memory.
static HASHING: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    tokio::sync::Semaphore::new(cores)
});

/// The PHC string of `password`, if there is one.
pub(crate) async fn hash(password: Option<Password>) -> Result<Option<String>, ApiError> {
    let Some(password) = password else {
        return Ok(None);
    };
    let _permit = HASHING
        .acquire()
        .await
        .map_err(|_| ApiError::Internal("the password hasher was closed".into()))?;
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|error| ApiError::Internal(format!("the password hasher failed: {error}")))?
        .map(Some)
}

fn hash_now(password: &Password) -> Result<String, ApiError> {
    domain::password::phc(password.expose(), &rand::random()).map_err(ApiError::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn a_password_becomes_a_salted_argon2id_phc_string() {
        let mut body = json!({"userName": "a", "password": "Hunter2"});
        let password = scim::schema::take_password(&mut body).unwrap();
        let first = hash(password.clone()).await.unwrap().unwrap();
        let second = hash(password).await.unwrap().unwrap();
        assert!(first.starts_with("$argon2id$"), "{first}");
        assert!(!first.contains("Hunter2"));
        assert_ne!(first, second, "each hash has its own salt");
        assert!(domain::password::matches("Hunter2", &first));
        assert_eq!(hash(None).await.unwrap(), None);
    }
}
