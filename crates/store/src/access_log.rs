//! The access log: requests that changed nothing, written in batches.
//!
//! Recording must not slow the read path, so records go through a channel to
//! one writer task. It flushes every few milliseconds, keeps what it could not
//! write and tries again, and flushes everything before it ends: the task
//! ends only when every [`AccessLog`] handle is dropped, so a graceful
//! shutdown that drops the handles and awaits the task loses nothing.
//!
//! Nothing here grows with what clients send. The channel is bounded
//! ([`QUEUE_CAPACITY`] records, each of bounded size: `domain::bounded`).
//! A request of an organization waits for room, at most [`RECORD_WAIT`];
//! past it [`AccessLog::record`] says so and the caller refuses the request
//! rather than answer it unrecorded. A request refused before it named an
//! organization (no token, a bad one) is only counted
//! ([`refusals::RefusalTally`]), a few per minute are kept whole as samples,
//! and a sample that finds the queue full is dropped, never waited for: a
//! flood of bad tokens can neither fill the table nor hold a worker.
//!
//! `access_log` and `access_refusals` are partitioned by month; the writer
//! creates the partitions it needs (`access_log_ensure_partitions`, V0007),
//! and [`retention`] drops old ones.

pub mod lookup;
pub mod refusals;
pub mod retention;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::RequestMeta;
use domain::bounded::{MAX_DETAIL_BYTES, bound_owned};
use prometheus::IntCounterVec;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use crate::{Pool, StoreError};
use refusals::{RefusalCount, RefusalReason, RefusalTally};

const MAX_BATCH: usize = 1_000;
const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// How often the writer looks for refusal counts whose minute is over.
const COUNT_EVERY: Duration = Duration::from_secs(1);
/// Records waiting for the writer, at most.
pub const QUEUE_CAPACITY: usize = 4_096;
/// How long a request of an organization waits for room in the queue.
pub const RECORD_WAIT: Duration = Duration::from_secs(5);
/// Months of partitions created ahead of the current one.
const MONTHS_AHEAD: i32 = 2;

/// One request that changed nothing: a read, a rejection, a refused token.
#[derive(Debug, Clone)]
pub struct AccessRecord {
    pub org_id: Option<Uuid>,
    pub recorded_at: OffsetDateTime,
    pub meta: RequestMeta,
    /// Why it was refused, for rejections; `None` for reads that succeeded.
    /// Bounded to `domain::bounded::MAX_DETAIL_BYTES` when queued.
    pub detail: Option<String>,
}

/// A record that could not be queued within [`RECORD_WAIT`]: the writer
/// is far behind. Refuse the request (503) rather than answer it unrecorded.
#[derive(Debug, thiserror::Error)]
#[error("the access log is {QUEUE_CAPACITY} records behind; the request was not recorded")]
pub struct Unrecorded;

/// Counters the access log keeps, registered by the caller.
#[derive(Clone)]
pub struct AccessLogMetrics {
    /// Refused requests before authentication, by `reason`.
    pub refusals: IntCounterVec,
    /// Records not written, by `kind`: `request` (the request was refused
    /// with 503 instead) or `sample` (a refusal's sample; its count stays).
    pub unrecorded: IntCounterVec,
}

/// How many records may wait for the writer, and how long a request of an
/// organization waits for room.
#[derive(Debug, Clone, Copy)]
pub struct QueueLimits {
    pub capacity: usize,
    pub record_wait: Duration,
}

impl Default for QueueLimits {
    fn default() -> Self {
        QueueLimits {
            capacity: QUEUE_CAPACITY,
            record_wait: RECORD_WAIT,
        }
    }
}

/// What the writer wrote after the last [`AccessLog`] handle dropped: the
/// records a graceful shutdown saved, which a stop reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    pub records: usize,
}

/// The handle through which requests are recorded.
#[derive(Clone)]
pub struct AccessLog {
    records: mpsc::Sender<AccessRecord>,
    refusals: Arc<Mutex<RefusalTally>>,
    metrics: AccessLogMetrics,
    record_wait: Duration,
}

impl AccessLog {
    /// Starts the writer; await the handle after dropping every `AccessLog`
    /// to be sure all records and counts are written (it says how many
    /// records it wrote after the last handle dropped).
    pub fn start(pool: Pool, metrics: AccessLogMetrics) -> (AccessLog, JoinHandle<Drained>) {
        AccessLog::start_with(pool, metrics, QueueLimits::default())
    }

    /// [`AccessLog::start`] with other limits than the defaults.
    pub fn start_with(
        pool: Pool,
        metrics: AccessLogMetrics,
        limits: QueueLimits,
    ) -> (AccessLog, JoinHandle<Drained>) {
        let (records, queue) = mpsc::channel(limits.capacity);
        let refusals = Arc::new(Mutex::new(RefusalTally::default()));
        let writer = Writer {
            pool,
            refusals: refusals.clone(),
            batch: MAX_BATCH.min(limits.capacity).max(1),
        };
        (
            AccessLog {
                records,
                refusals,
                metrics,
                record_wait: limits.record_wait,
            },
            tokio::spawn(writer.run(queue)),
        )
    }

    /// Queues the record of a request of an organization, waiting at most
    /// [`QueueLimits::record_wait`] for room.
    pub async fn record(&self, record: AccessRecord) -> Result<(), Unrecorded> {
        let record = bound_detail(record);
        match tokio::time::timeout(self.record_wait, self.records.send(record)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => {
                tracing::error!("the access log writer has stopped; a request went unrecorded");
                self.metrics
                    .unrecorded
                    .with_label_values(&["request"])
                    .inc();
                Err(Unrecorded)
            }
            Err(_) => {
                tracing::error!("the access log is full; a request is refused unrecorded");
                self.metrics
                    .unrecorded
                    .with_label_values(&["request"])
                    .inc();
                Err(Unrecorded)
            }
        }
    }

    /// Records waiting for the writer.
    pub fn queued(&self) -> usize {
        self.records.max_capacity() - self.records.capacity()
    }

    /// This tally's counts of refused requests so far, not yet written.
    pub fn counted_refusals(&self) -> u64 {
        self.refusals.lock().expect("refusal tally lock").requests()
    }

    /// Counts a request refused before it named an organization, and keeps
    /// it whole (`sample()`) when this minute's samples are not used up and
    /// the queue has room. Never waits.
    pub fn refuse(
        &self,
        at: OffsetDateTime,
        reason: RefusalReason,
        client_addr: Option<&str>,
        sample: impl FnOnce() -> AccessRecord,
    ) {
        self.metrics
            .refusals
            .with_label_values(&[reason.as_str()])
            .inc();
        let mut tally = self.refusals.lock().expect("refusal tally lock");
        let counted = tally.count(at, reason, client_addr);
        if !counted.take_sample {
            return;
        }
        match self.records.try_send(bound_detail(sample())) {
            Ok(()) => tally.sampled(&counted),
            Err(_) => self.metrics.unrecorded.with_label_values(&["sample"]).inc(),
        }
    }
}

fn bound_detail(mut record: AccessRecord) -> AccessRecord {
    record.detail = record
        .detail
        .map(|detail| bound_owned(detail, MAX_DETAIL_BYTES));
    record
}

struct Writer {
    pool: Pool,
    refusals: Arc<Mutex<RefusalTally>>,
    /// Records written at once, and held at most while the database does
    /// not take them: with the queue, twice the capacity in all.
    batch: usize,
}

impl Writer {
    async fn run(self, mut queue: mpsc::Receiver<AccessRecord>) -> Drained {
        if let Err(error) = ensure_partitions(&self.pool, OffsetDateTime::now_utc()).await {
            tracing::warn!(%error, "could not create this month's access log partitions yet");
        }
        let mut pending: Vec<AccessRecord> = Vec::with_capacity(self.batch);
        let mut counts: Vec<RefusalCount> = Vec::new();
        let mut open = true;
        let mut drained = Drained::default();
        let mut tick = tokio::time::interval(COUNT_EVERY);
        loop {
            if open {
                if pending.is_empty() && counts.is_empty() {
                    tokio::select! {
                        received = queue.recv_many(&mut pending, self.batch) => {
                            open = received > 0;
                        }
                        _ = tick.tick() => {}
                    }
                } else {
                    // Wait a little for more, so that records go in batches.
                    tokio::time::sleep(FLUSH_EVERY).await;
                    while pending.len() < self.batch {
                        match queue.try_recv() {
                            Ok(record) => pending.push(record),
                            Err(mpsc::error::TryRecvError::Empty) => break,
                            Err(mpsc::error::TryRecvError::Disconnected) => {
                                open = false;
                                break;
                            }
                        }
                    }
                }
            }
            counts.extend(
                self.refusals
                    .lock()
                    .expect("refusal tally lock")
                    .take_closed(OffsetDateTime::now_utc(), !open),
            );
            if pending.is_empty() && counts.is_empty() {
                if open {
                    continue;
                }
                return drained;
            }
            let before = pending.len();
            let written = self.write(&mut pending, &mut counts).await;
            if !open {
                drained.records += before - pending.len();
            }
            if let Err(error) = written {
                tracing::warn!(
                    %error,
                    records = pending.len(),
                    counts = counts.len(),
                    "access records not yet written; retrying"
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }

    /// Writes one batch of records and every pending count, creating a
    /// missing month's partitions once.
    async fn write(
        &self,
        pending: &mut Vec<AccessRecord>,
        counts: &mut Vec<RefusalCount>,
    ) -> Result<(), StoreError> {
        let take = pending.len().min(self.batch);
        if take > 0 {
            let batch = &pending[..take];
            retry_in_new_month(&self.pool, batch.iter().map(|r| r.recorded_at), || {
                insert(&self.pool, batch)
            })
            .await?;
            pending.drain(..take);
        }
        if !counts.is_empty() {
            retry_in_new_month(&self.pool, counts.iter().map(|c| c.interval_start), || {
                insert_counts(&self.pool, counts)
            })
            .await?;
            counts.clear();
        }
        Ok(())
    }
}

/// Runs `write`; when PostgreSQL finds no partition for a row, creates the
/// partitions of the rows' months and runs it once more.
async fn retry_in_new_month<F, Fut>(
    pool: &Pool,
    times: impl Iterator<Item = OffsetDateTime>,
    write: F,
) -> Result<(), StoreError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), StoreError>>,
{
    match write().await {
        Ok(()) => Ok(()),
        Err(StoreError::Refused { code, .. }) if code == SqlState::CHECK_VIOLATION.code() => {
            let mut months: Vec<(i32, time::Month)> =
                times.map(|at| (at.year(), at.month())).collect();
            months.dedup();
            for (year, month) in months {
                let first = time::Date::from_calendar_date(year, month, 1)
                    .expect("the first of a month")
                    .midnight()
                    .assume_utc();
                ensure_partitions(pool, first).await?;
            }
            write().await
        }
        Err(error) => Err(error),
    }
}

/// Creates the partitions of the month of `at` and of the months after it.
pub async fn ensure_partitions(pool: &Pool, at: OffsetDateTime) -> Result<(), StoreError> {
    let client = pool.get().await?;
    client
        .execute(
            "select access_log_ensure_partitions($1, $2)",
            &[&at, &MONTHS_AHEAD],
        )
        .await?;
    Ok(())
}

async fn insert_counts(pool: &Pool, counts: &[RefusalCount]) -> Result<(), StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "insert into access_refusals (interval_start, reason, client_addr, requests, sampled) \
             select * from unnest($1::timestamptz[], $2::text[], $3::text[], $4::int8[], $5::int8[])",
        )
        .await?;
    let starts: Vec<OffsetDateTime> = counts.iter().map(|c| c.interval_start).collect();
    let reasons: Vec<&str> = counts.iter().map(|c| c.reason.as_str()).collect();
    let addrs: Vec<Option<&str>> = counts.iter().map(|c| c.client_addr.as_deref()).collect();
    let requests: Vec<i64> = counts.iter().map(|c| saturating_i64(c.requests)).collect();
    let sampled: Vec<i64> = counts.iter().map(|c| saturating_i64(c.sampled)).collect();
    client
        .execute(
            &statement,
            &[&starts, &reasons, &addrs, &requests, &sampled],
        )
        .await?;
    Ok(())
}

fn saturating_i64(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

async fn insert(pool: &Pool, records: &[AccessRecord]) -> Result<(), StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "insert into access_log (org_id, recorded_at, request_id, method, path, token_id, \
             client_addr, user_agent, status, body_sha256, detail, headers) \
             select o, t, r, m, p, k, a, u, s, b, d, h::json \
             from unnest($1::uuid[], $2::timestamptz[], $3::uuid[], $4::text[], $5::text[], \
                         $6::uuid[], $7::text[], $8::text[], $9::int[], $10::text[], $11::text[], \
                         $12::text[]) as x(o, t, r, m, p, k, a, u, s, b, d, h)",
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
    let headers: Vec<Option<String>> = records
        .iter()
        .map(|r| {
            (!r.meta.headers.is_empty())
                .then(|| serde_json::to_string(&r.meta.headers).expect("headers serialize"))
        })
        .collect();
    client
        .execute(
            &statement,
            &[
                &orgs, &times, &ids, &methods, &paths, &tokens, &addrs, &agents, &statuses,
                &digests, &details, &headers,
            ],
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::Opts;

    fn metrics() -> AccessLogMetrics {
        AccessLogMetrics {
            refusals: IntCounterVec::new(Opts::new("refusals", "test"), &["reason"]).unwrap(),
            unrecorded: IntCounterVec::new(Opts::new("unrecorded", "test"), &["kind"]).unwrap(),
        }
    }

    fn record() -> AccessRecord {
        AccessRecord {
            org_id: Some(Uuid::nil()),
            recorded_at: OffsetDateTime::now_utc(),
            meta: RequestMeta::default(),
            detail: Some("x".repeat(60_000)),
        }
    }

    /// A database that never answers: the writer cannot write anything.
    fn unreachable() -> Pool {
        let database = crate::Database::parse("postgres://postgres@127.0.0.1:1/none").unwrap();
        crate::connect(&database, 1).unwrap()
    }

    #[tokio::test]
    async fn a_writer_that_cannot_keep_up_holds_a_bounded_queue_and_says_so() {
        let metrics = metrics();
        let limits = QueueLimits {
            capacity: 8,
            record_wait: Duration::from_millis(20),
        };
        let (log, _writer) = AccessLog::start_with(unreachable(), metrics.clone(), limits);
        let mut refused = 0;
        for _ in 0..100 {
            if log.record(record()).await.is_err() {
                refused += 1;
            }
        }
        // The writer holds a batch it cannot write; the queue holds the rest.
        assert!(log.queued() <= limits.capacity);
        assert!(refused >= 100 - 2 * limits.capacity, "{refused} refused");
        assert_eq!(
            metrics.unrecorded.with_label_values(&["request"]).get(),
            refused as u64
        );
        // Refusals never wait and never queue past the bound.
        for _ in 0..10_000 {
            log.refuse(
                OffsetDateTime::now_utc(),
                RefusalReason::Unknown,
                Some("203.0.113.9"),
                record,
            );
        }
        assert!(log.queued() <= limits.capacity);
        assert_eq!(log.counted_refusals(), 10_000);
        assert_eq!(
            metrics.refusals.with_label_values(&["unknown"]).get(),
            10_000
        );
    }

    #[test]
    fn details_are_bounded_when_queued() {
        let bounded = bound_detail(record());
        assert!(bounded.detail.unwrap().len() <= MAX_DETAIL_BYTES);
    }
}
