//! Bearer-token authentication: the token alone names the organization.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use store::{Pool, RefusalReason, TokenRecord};
use time::OffsetDateTime;

use crate::ApiError;
use scim::ScimError;

/// How long a looked-up token is trusted without asking the database again.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(30);

/// How often an API process reads which tokens were revoked.
pub const REVOCATION_POLL: Duration = Duration::from_secs(1);

/// How stale a token's `last_used_at` may be: the API notes a token's use
/// at most this often, off the request's path.
pub const LAST_USE_PRECISION: Duration = Duration::from_secs(60);

/// Token records by digest, with the moment they were looked up.
type TokenCache = HashMap<[u8; 32], (TokenRecord, Instant)>;

/// Verifies bearer tokens, with a short-lived cache of digests.
#[derive(Clone)]
pub struct Tokens {
    pool: Pool,
    cache: Arc<Mutex<TokenCache>>,
    /// When this process last noted each token's use.
    noted: Arc<Mutex<HashMap<uuid::Uuid, Instant>>>,
}

impl Tokens {
    /// A verifier that reads `scim_tokens` through `pool`.
    pub fn new(pool: Pool) -> Tokens {
        Tokens {
            pool,
            cache: Arc::default(),
            noted: Arc::default(),
        }
    }

    /// The token record for an `Authorization` header value, or why not.
    pub async fn verify(
        &self,
        authorization: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<TokenRecord, Refused> {
        let token = authorization.and_then(bearer).ok_or_else(|| {
            Refused::unauthorized(
                RefusalReason::Missing,
                "send the SCIM token as 'Authorization: Bearer <token>'",
            )
        })?;
        let digest = domain::token::digest(token);
        let record = match self.cached(&digest) {
            Some(record) => record,
            None => {
                let record = store::find_token(&self.pool, &digest)
                    .await
                    .map_err(|error| Refused {
                        reason: RefusalReason::Unavailable,
                        error: error.into(),
                    })?
                    .ok_or_else(|| {
                        Refused::unauthorized(
                            RefusalReason::Unknown,
                            "the bearer token is not a valid SCIM token",
                        )
                    })?;
                self.cache
                    .lock()
                    .expect("token cache lock")
                    .insert(digest, (record, Instant::now()));
                record
            }
        };
        if record.revoked_at.is_some() {
            return Err(Refused::unauthorized(
                RefusalReason::Revoked,
                "the SCIM token was revoked; an owner must issue a new one",
            ));
        }
        if record.expires_at <= now {
            return Err(Refused::unauthorized(
                RefusalReason::Expired,
                "the SCIM token has expired; an owner must issue a new one",
            ));
        }
        self.note_use(&record, now);
        Ok(record)
    }

    /// Notes, at most once per [`LAST_USE_PRECISION`], that the token
    /// opened a request, for owners' token lists; in the background, so
    /// that no request waits for it (a note lost to a failure only leaves
    /// `last_used_at` older).
    fn note_use(&self, record: &TokenRecord, now: OffsetDateTime) {
        {
            let mut noted = self.noted.lock().expect("token use lock");
            if noted
                .get(&record.token_id)
                .is_some_and(|at| at.elapsed() < LAST_USE_PRECISION)
            {
                return;
            }
            if noted.len() >= 10_000 {
                noted.retain(|_, at| at.elapsed() < LAST_USE_PRECISION);
            }
            noted.insert(record.token_id, Instant::now());
        }
        let (pool, token_id) = (self.pool.clone(), record.token_id);
        tokio::spawn(async move {
            if let Err(error) = store::note_token_used(&pool, token_id, now).await {
                tracing::debug!(%error, %token_id, "could not note a token's use");
            }
        });
    }

    /// Follows revocations and SCIM switches in the database and forgets the
    /// tokens they touch, so that a token revoked (or an organization's SCIM
    /// turned off) anywhere is refused here within [`REVOCATION_POLL`]
    /// rather than after [`TOKEN_CACHE_TTL`]. Ends with the last clone of
    /// this verifier.
    pub fn follow_revocations(&self) {
        let pool = self.pool.clone();
        let cache = Arc::downgrade(&self.cache);
        tokio::spawn(async move {
            // Revocations before this process cached anything do not matter.
            let mut after = OffsetDateTime::now_utc() - time::Duration::minutes(1);
            while cache.strong_count() > 0 {
                // Looking a little further back evicts again what a request
                // that read the row just before the revocation cached again.
                let overlap = after - time::Duration::seconds(2);
                match store::token_changes_after(&pool, overlap).await {
                    Ok(changes) => {
                        if let Some(cache) = cache.upgrade() {
                            let mut cache = cache.lock().expect("token cache lock");
                            for digest in &changes.revoked {
                                cache.remove(digest);
                            }
                            cache.retain(|_, (record, _)| {
                                !changes.switched.contains(&record.org_id)
                            });
                        }
                        after = changes.latest.unwrap_or(after);
                    }
                    Err(error) => tracing::debug!(%error, "could not read revocations"),
                }
                tokio::time::sleep(REVOCATION_POLL).await;
            }
        });
    }

    /// Forgets the cached record of `token_id` (revoked in this process):
    /// its next request reads it afresh.
    pub fn forget(&self, token_id: uuid::Uuid) {
        self.cache
            .lock()
            .expect("token cache lock")
            .retain(|_, (record, _)| record.token_id != token_id);
    }

    /// Forgets the cached tokens of `org_id` (its SCIM switched in this
    /// process): their next requests read them afresh.
    pub fn forget_organization(&self, org_id: uuid::Uuid) {
        self.cache
            .lock()
            .expect("token cache lock")
            .retain(|_, (record, _)| record.org_id != org_id);
    }

    fn cached(&self, digest: &[u8; 32]) -> Option<TokenRecord> {
        let mut cache = self.cache.lock().expect("token cache lock");
        match cache.get(digest) {
            Some((record, at)) if at.elapsed() < TOKEN_CACHE_TTL => Some(*record),
            Some(_) => {
                cache.remove(digest);
                None
            }
            None => None,
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header value.
pub(crate) fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A request the gate turned away before it named an organization.
#[derive(Debug)]
pub struct Refused {
    /// Why, as counted in `access_refusals` and the metrics.
    pub reason: RefusalReason,
    /// The answer: 401, or 503 when the token could not be checked.
    pub error: ApiError,
}

impl Refused {
    /// A bad token from an address blocked for `wait` more (429).
    pub fn throttled(wait: Duration) -> Refused {
        Refused {
            reason: RefusalReason::Throttled,
            error: ApiError::Scim(ScimError {
                status: 429,
                scim_type: None,
                detail: format!(
                    "this address presented too many bad SCIM tokens; retry in {} s with a \
                     valid token (valid tokens are served meanwhile)",
                    wait.as_secs().max(1)
                ),
            }),
        }
    }

    fn unauthorized(reason: RefusalReason, detail: &str) -> Refused {
        Refused {
            reason,
            error: ApiError::Scim(ScimError::unauthorized(detail)),
        }
    }
}
