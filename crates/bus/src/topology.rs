//! The exchange and queues, declared in one place.

use lapin::options::{
    BasicConsumeOptions, BasicQosOptions, ExchangeDeclareOptions, ExchangeDeleteOptions,
    QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, ExchangeKind};

use crate::{BusError, Consumer};

/// The names every exchange and queue takes from one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Topic exchange the relay publishes every event to (routing key:
    /// `org.<org_id>`, so consumers may later partition by organization).
    pub events_exchange: String,
    /// The projector's durable quorum queue, bound to every event, with a
    /// single active consumer: a second projector waits as a standby.
    pub projector_queue: String,
    /// The queue of releases before `x-single-active-consumer` (a queue's
    /// arguments cannot change in place). Unbound at declaration, so that it
    /// stops filling up; docs/scaling.md says when to delete it.
    pub legacy_projector_queue: String,
}

impl Topology {
    /// The topology for names under `prefix` (`ROLLCALL_BUS_PREFIX`).
    pub fn new(prefix: &str) -> Topology {
        Topology {
            events_exchange: format!("{prefix}.events"),
            projector_queue: format!("{prefix}.projector.single-active"),
            legacy_projector_queue: format!("{prefix}.projector"),
        }
    }
}

/// Declares the exchange, the projector's queue and their binding; idempotent.
pub async fn declare_topology(
    connection: &Connection,
    topology: &Topology,
) -> Result<(), BusError> {
    let channel = connection.create_channel().await?;
    channel
        .exchange_declare(
            topology.events_exchange.as_str().into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    arguments.insert("x-single-active-consumer".into(), AMQPValue::Boolean(true));
    channel
        .queue_declare(
            topology.projector_queue.as_str().into(),
            QueueDeclareOptions::durable(),
            arguments,
        )
        .await?;
    channel
        .queue_bind(
            topology.projector_queue.as_str().into(),
            topology.events_exchange.as_str().into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    channel.close(200, "declared".into()).await?;
    unbind_legacy_queue(connection, topology).await;
    Ok(())
}

/// Stops the queue of older releases from filling up: the new queue carries
/// every event from now on, and the projector folds from the log what it
/// missed. The queue and what it holds stay for the operator to delete.
/// Nothing to do when it does not exist (the broker then closes the channel).
async fn unbind_legacy_queue(connection: &Connection, topology: &Topology) {
    let Ok(channel) = connection.create_channel().await else {
        return;
    };
    let unbound = channel
        .queue_unbind(
            topology.legacy_projector_queue.as_str().into(),
            topology.events_exchange.as_str().into(),
            "#".into(),
            FieldTable::default(),
        )
        .await;
    if unbound.is_ok() {
        let _ = channel.close(200, "unbound".into()).await;
    }
}

/// Removes the exchange and queue (tests clean up with this).
pub async fn delete_topology(connection: &Connection, topology: &Topology) -> Result<(), BusError> {
    let channel = connection.create_channel().await?;
    channel
        .queue_delete(
            topology.projector_queue.as_str().into(),
            QueueDeleteOptions::default(),
        )
        .await?;
    channel
        .exchange_delete(
            topology.events_exchange.as_str().into(),
            ExchangeDeleteOptions::default(),
        )
        .await?;
    channel.close(200, "deleted".into()).await?;
    // Where there is one (tests that make it); a missing one closes only
    // this channel.
    let legacy = connection.create_channel().await?;
    if legacy
        .queue_delete(
            topology.legacy_projector_queue.as_str().into(),
            QueueDeleteOptions::default(),
        )
        .await
        .is_ok()
    {
        let _ = legacy.close(200, "deleted".into()).await;
    }
    Ok(())
}

/// Starts consuming the projector's queue with manual acks and at most
/// `prefetch` unacknowledged deliveries.
pub async fn consume(
    connection: &Connection,
    topology: &Topology,
    prefetch: u16,
) -> Result<Consumer, BusError> {
    let channel = connection.create_channel().await?;
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await?;
    let consumer = channel
        .basic_consume(
            topology.projector_queue.as_str().into(),
            "rollcall-projector".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(Consumer::new(consumer, channel))
}
