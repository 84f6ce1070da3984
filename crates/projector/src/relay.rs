//! The outbox relay: publishes the log past its checkpoint, with confirms.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bus::{Message, Publisher, Round, Topology};
use store::{Checkpoint, Database, OpenedEvent, Pool, RecentAppends};
use tokio::sync::{Notify, watch};
use uuid::Uuid;

use crate::envelope::encode;
use crate::{Batch, Metrics, supervise};

/// How many events one publish round carries at most.
const BATCH: i64 = 1_000;
/// How often the relay looks at the log without being woken: appends in
/// other processes wake it through PostgreSQL (`rollcall_appended`, V0025),
/// and this bounds the wait when a notification is lost with its connection.
const FALLBACK: Duration = Duration::from_secs(1);
/// The advisory lock key that makes one relay publish at a time, across
/// processes: "rollcall relay" in a few bytes.
pub const RELAY_LOCK: i64 = 0x726f_6c6c_7265_6c61;
/// How often a standby relay tries to take the lock: the longest the log
/// waits for a publisher after the active relay's process dies.
const STANDBY_TRY_EVERY: Duration = Duration::from_millis(500);
/// How often the active relay checks that the connection holding its lock
/// still answers; a relay that cannot tell whether it holds it stops.
const LOCK_CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long that check may take.
const LOCK_CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the outbox backlog is measured.
const BACKLOG_EVERY: Duration = Duration::from_secs(1);

/// Publishes every event after its checkpoint to the events exchange.
pub struct Relay {
    pub pool: Pool,
    /// For the dedicated connection that hears other processes' appends.
    pub database: Database,
    pub amqp_url: String,
    pub topology: Topology,
    /// Notified after each append, local or heard of, so that publishing
    /// starts at once.
    pub wake: Arc<Notify>,
    /// Where this process's appender keeps what it commits, opened: a round
    /// found there is published without reading the log. `None` where no
    /// appender of this process keeps them.
    pub recent: Option<RecentAppends>,
    pub metrics: Metrics,
}

/// What one relay step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayOutcome {
    /// Published and checkpointed this many events.
    Published(usize),
    /// Nothing past the checkpoint.
    Idle,
}

impl Relay {
    /// Runs until `stop` turns true, reconnecting after failures.
    pub async fn run(self, stop: watch::Receiver<bool>) {
        let relay = &self;
        let measuring = self.measure_backlog(stop.clone());
        let hearing = self.hear_appends(stop.clone());
        let publishing = supervise("relay", &self.metrics, stop, |mut stop, batch| async move {
            relay.session(&mut stop, &batch).await
        });
        tokio::join!(measuring, hearing, publishing);
    }

    /// Measures the outbox backlog (log head − the relay's checkpoint)
    /// every [`BACKLOG_EVERY`] until `stop`, connected or not: a relay that
    /// cannot reach the broker must still show what waits for it. A standby
    /// shows 0: nothing waits for it.
    async fn measure_backlog(&self, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            if self.metrics.relay_active.get() == 0 {
                self.metrics.relay_backlog.set(0);
            } else {
                self.measure_backlog_once().await;
            }
            tokio::select! {
                _ = tokio::time::sleep(BACKLOG_EVERY) => {}
                _ = stop.changed() => {}
            }
        }
    }

    async fn measure_backlog_once(&self) {
        {
            match store::relay_backlog(&self.pool).await {
                Ok(backlog) => self.metrics.relay_backlog.set(backlog),
                Err(error) => tracing::debug!(%error, "could not measure the outbox backlog"),
            }
        }
    }

    /// Wakes the relay when another process's append commits, until `stop`.
    async fn hear_appends(&self, mut stop: watch::Receiver<bool>) {
        let mut listener =
            store::Listener::new(self.database.clone(), store::Channel::Appended, FALLBACK);
        while !*stop.borrow() {
            tokio::select! {
                _ = listener.next() => self.wake.notify_one(),
                _ = stop.changed() => {}
            }
        }
    }

    /// Publishes while this process holds [`RELAY_LOCK`]; waits as a
    /// standby while another holds it. The lock lives on a connection of its
    /// own, and goes with it: with the process that dies, or with this
    /// session when it ends.
    async fn session(&self, stop: &mut watch::Receiver<bool>, batch: &Batch) -> anyhow::Result<()> {
        let lock = self.take_lock().await?;
        self.metrics.relay_active.set(1);
        tracing::info!("relay active: it holds the relay lock and publishes");
        let outcome = tokio::select! {
            outcome = self.publish(stop, batch) => outcome,
            lost = lock_lost(&lock) => Err(lost),
        };
        self.metrics.relay_active.set(0);
        outcome
    }

    /// Waits until this process holds [`RELAY_LOCK`], on a connection of
    /// its own that the caller keeps for as long as it publishes.
    async fn take_lock(&self) -> anyhow::Result<store::DedicatedClient> {
        let client = self.database.connect_one().await?;
        let mut told = false;
        while !store::try_advisory_lock(&client, RELAY_LOCK).await? {
            if !told {
                tracing::info!(
                    "relay standby: another process's relay holds the relay lock; this one takes over when it goes"
                );
                told = true;
            }
            tokio::time::sleep(STANDBY_TRY_EVERY).await;
        }
        Ok(client)
    }

    async fn publish(&self, stop: &mut watch::Receiver<bool>, batch: &Batch) -> anyhow::Result<()> {
        let connection = bus::connect(&self.amqp_url).await?;
        // Every partition's queue, before the first publish: a projector
        // that starts later finds in it what was published meanwhile.
        for (partition, _) in store::projection_split(&self.pool).await? {
            bus::declare_topology(&connection, &self.topology, partition).await?;
        }
        let publisher = Publisher::open(&connection, &self.topology).await?;
        tracing::info!(exchange = %self.topology.events_exchange, "relay connected");
        self.metrics.set_connected("relay", true);
        let mut published = store::read_checkpoint(&self.pool, Checkpoint::Relay).await?;
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let outcome = {
                let _batch = batch.begin().await;
                self.run_once(&publisher, &mut published).await?
            };
            if outcome == RelayOutcome::Idle {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(FALLBACK) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }

    /// Publishes one batch past `published` and moves the checkpoint (kept in
    /// memory while connected, read from the database on each connect).
    pub async fn run_once(
        &self,
        publisher: &Publisher,
        published: &mut i64,
    ) -> anyhow::Result<RelayOutcome> {
        let events = self.round_after(*published).await?;
        let Some(last) = events.last().map(|event| event.position) else {
            return Ok(RelayOutcome::Idle);
        };
        let messages = messages(&events);
        let publishing = std::time::Instant::now();
        publisher.publish_confirmed(&messages).await?;
        self.metrics
            .relay_confirm_seconds
            .observe(publishing.elapsed().as_secs_f64());
        store::set_checkpoint(&self.pool, Checkpoint::Relay, last).await?;
        *published = last;
        self.metrics.relay_position.set(last);
        self.metrics.relay_published.inc_by(events.len() as u64);
        Ok(RelayOutcome::Published(events.len()))
    }

    /// The next round after `published`: from what this process's appender
    /// kept when it holds the position that follows and no one whose values
    /// it holds in clear was erased since, else from the log, as every
    /// reader sees it now. This process's erasures empty the store; another
    /// process's (`rollcall erase`, a second API) are found by looking: a
    /// relay that was behind, or a standby for a moment, would otherwise
    /// publish values an erasure had taken back.
    async fn round_after(&self, published: i64) -> anyhow::Result<Vec<Arc<OpenedEvent>>> {
        if let Some(recent) = &self.recent {
            let kept = recent.take_after(published, BATCH as usize).await;
            if !kept.is_empty()
                && store::still_in_clear(&self.pool, kept.iter().map(Arc::as_ref)).await?
            {
                self.metrics
                    .relay_read
                    .with_label_values(&["appender"])
                    .inc_by(kept.len() as u64);
                return Ok(kept);
            }
        }
        let rows = store::read_after(&self.pool, published, BATCH).await?;
        self.metrics
            .relay_read
            .with_label_values(&["log"])
            .inc_by(rows.len() as u64);
        Ok(rows
            .iter()
            .map(|row| Arc::new(OpenedEvent::from_row(row)))
            .collect())
    }
}

/// Returns once the connection holding the relay lock no longer answers:
/// the lock may be gone with it, and another relay may hold it by now.
async fn lock_lost(lock: &store::DedicatedClient) -> anyhow::Error {
    loop {
        tokio::time::sleep(LOCK_CHECK_EVERY).await;
        match tokio::time::timeout(LOCK_CHECK_TIMEOUT, store::still_answers(lock)).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                return anyhow::anyhow!("the connection holding the relay lock failed: {error}");
            }
            Err(_) => {
                return anyhow::anyhow!(
                    "the connection holding the relay lock did not answer within {LOCK_CHECK_TIMEOUT:?}"
                );
            }
        }
    }
}

/// One message per organization with events in the round, in the order of
/// their first events, each carrying that organization's events in position
/// order, routed by organization and named by the positions it carries.
/// Grouping by organization rather than by run of consecutive events makes a
/// round of interleaved organizations (a SCIM create, then the linker's
/// account and membership events) a few messages instead of one per run: the
/// broker's cost is per message. Every message names the round
/// ([`Round`]), so that a consumer of every organization can wait for the
/// rest of it rather than see holes.
pub fn messages(round: &[Arc<OpenedEvent>]) -> Vec<Message> {
    let (Some(first), Some(last)) = (round.first(), round.last()) else {
        return Vec::new();
    };
    let mut slot_of: HashMap<Uuid, usize> = HashMap::new();
    let mut by_org: Vec<Vec<&OpenedEvent>> = Vec::new();
    for event in round.iter().map(Arc::as_ref) {
        let slot = *slot_of.entry(event.org_id).or_insert_with(|| {
            by_org.push(Vec::new());
            by_org.len() - 1
        });
        by_org[slot].push(event);
    }
    let round = Round {
        id: positions(first, last),
        parts: by_org.len(),
    };
    by_org
        .into_iter()
        .map(|events| {
            let (first, last) = (events[0], events[events.len() - 1]);
            Message {
                org_id: first.org_id,
                message_id: positions(first, last),
                body: encode(&events),
                round: Some(round.clone()),
            }
        })
        .collect()
}

/// `<first position>-<last position>`: how a message and a round are named.
fn positions(first: &OpenedEvent, last: &OpenedEvent) -> String {
    format!("{}-{}", first.position, last.position)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::decode;

    fn row(position: i64, org_id: Uuid) -> Arc<OpenedEvent> {
        Arc::new(OpenedEvent::from_row(&store::LogRow {
            position,
            org_id,
            stream_id: Uuid::from_u128(7),
            stream_version: position,
            event_type: "UserDeleted".into(),
            schema_version: 1,
            payload: r#"{"type":"UserDeleted"}"#.into(),
            metadata: "{}".into(),
            recorded_at: time::OffsetDateTime::UNIX_EPOCH,
            prev_hash: Vec::new(),
            hash: Vec::new(),
            keys: Default::default(),
        }))
    }

    #[test]
    fn a_round_is_one_message_per_organization_in_the_order_of_their_first_events() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let rows = [row(1, a), row(2, b), row(3, b), row(4, a), row(5, c)];
        let messages = messages(&rows);
        let carried: Vec<(Uuid, String, Vec<i64>)> = messages
            .iter()
            .map(|message| {
                let positions = decode(&message.body)
                    .unwrap()
                    .iter()
                    .map(|event| event.position)
                    .collect();
                (message.org_id, message.message_id.clone(), positions)
            })
            .collect();
        assert_eq!(
            carried,
            [
                (a, "1-4".to_owned(), vec![1, 4]),
                (b, "2-3".to_owned(), vec![2, 3]),
                (c, "5-5".to_owned(), vec![5]),
            ]
        );
        let round = Round {
            id: "1-5".into(),
            parts: 3,
        };
        assert!(
            messages
                .iter()
                .all(|message| message.round.as_ref() == Some(&round))
        );
        assert!(super::messages(&[]).is_empty());
    }
}
