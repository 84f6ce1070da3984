//! The access log: requests that changed nothing, written in batches.
//!
//! Recording must not slow the read path, so records go through a channel to
//! one writer task. It flushes every few milliseconds, keeps what it could not
//! write and tries again, and flushes everything before it ends: the task
//! ends only when every [`AccessLog`] handle is dropped, so a graceful
//! shutdown that drops the handles and awaits the task loses nothing.

use std::time::Duration;

use domain::RequestMeta;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::{Pool, StoreError};

const MAX_BATCH: usize = 1_000;
const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// One request that changed nothing: a read, a rejection, a refused token.
#[derive(Debug, Clone)]
pub struct AccessRecord {
    pub org_id: Option<Uuid>,
    pub recorded_at: OffsetDateTime,
    pub meta: RequestMeta,
    /// Why it was refused, for rejections; `None` for reads that succeeded.
    pub detail: Option<String>,
}

/// The handle through which requests are recorded.
#[derive(Clone)]
pub struct AccessLog {
    records: mpsc::UnboundedSender<AccessRecord>,
}

impl AccessLog {
    /// Starts the writer; await the handle after dropping every `AccessLog`
    /// to be sure all records are written.
    pub fn start(pool: Pool) -> (AccessLog, JoinHandle<()>) {
        let (records, queue) = mpsc::unbounded_channel();
        (
            AccessLog { records },
            tokio::spawn(write_records(pool, queue)),
        )
    }

    /// Queues one record.
    pub fn record(&self, record: AccessRecord) {
        if self.records.send(record).is_err() {
            tracing::error!("the access log writer has stopped; a request went unrecorded");
        }
    }
}

async fn write_records(pool: Pool, mut queue: mpsc::UnboundedReceiver<AccessRecord>) {
    let mut pending: Vec<AccessRecord> = Vec::new();
    let mut open = true;
    while open || !pending.is_empty() {
        if open {
            let received = if pending.is_empty() {
                queue.recv_many(&mut pending, MAX_BATCH).await
            } else {
                // Wait a little for more, so that records go in batches.
                tokio::time::sleep(FLUSH_EVERY).await;
                let before = pending.len();
                while pending.len() < before + MAX_BATCH {
                    match queue.try_recv() {
                        Ok(record) => pending.push(record),
                        Err(mpsc::error::TryRecvError::Empty) => break,
                        Err(mpsc::error::TryRecvError::Disconnected) => {
                            open = false;
                            break;
                        }
                    }
                }
                pending.len() - before
            };
            if received == 0 && pending.is_empty() {
                open = false;
            }
        }
        if pending.is_empty() {
            continue;
        }
        let take = pending.len().min(MAX_BATCH);
        match insert(&pool, &pending[..take]).await {
            Ok(()) => {
                pending.drain(..take);
            }
            Err(error) => {
                tracing::warn!(%error, waiting = pending.len(), "access records not yet written; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

async fn insert(pool: &Pool, records: &[AccessRecord]) -> Result<(), StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "insert into access_log (org_id, recorded_at, request_id, method, path, token_id, \
             client_addr, user_agent, status, body_sha256, detail) \
             select * from unnest($1::uuid[], $2::timestamptz[], $3::uuid[], $4::text[], $5::text[], \
                                  $6::uuid[], $7::text[], $8::text[], $9::int[], $10::text[], $11::text[])",
        )
        .await?;
    let orgs: Vec<Option<Uuid>> = records.iter().map(|r| r.org_id).collect();
    let times: Vec<OffsetDateTime> = records.iter().map(|r| r.recorded_at).collect();
    let ids: Vec<Uuid> = records.iter().map(|r| r.meta.request_id).collect();
    let methods: Vec<&str> = records.iter().map(|r| r.meta.method.as_str()).collect();
    let paths: Vec<&str> = records.iter().map(|r| r.meta.path.as_str()).collect();
    let tokens: Vec<Option<Uuid>> = records.iter().map(|r| r.meta.token_id).collect();
    let addrs: Vec<Option<&str>> = records
        .iter()
        .map(|r| r.meta.client_addr.as_deref())
        .collect();
    let agents: Vec<Option<&str>> = records
        .iter()
        .map(|r| r.meta.user_agent.as_deref())
        .collect();
    let statuses: Vec<i32> = records.iter().map(|r| i32::from(r.meta.status)).collect();
    let digests: Vec<Option<&str>> = records
        .iter()
        .map(|r| r.meta.body_sha256.as_deref())
        .collect();
    let details: Vec<Option<&str>> = records.iter().map(|r| r.detail.as_deref()).collect();
    client
        .execute(
            &statement,
            &[
                &orgs, &times, &ids, &methods, &paths, &tokens, &addrs, &agents, &statuses,
                &digests, &details,
            ],
        )
        .await?;
    Ok(())
}
