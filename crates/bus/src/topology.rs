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
    /// The projector's durable quorum queue, bound to every event.
    pub projector_queue: String,
}

impl Topology {
    /// The topology for names under `prefix` (`ROLLCALL_BUS_PREFIX`).
    pub fn new(prefix: &str) -> Topology {
        Topology {
            events_exchange: format!("{prefix}.events"),
            projector_queue: format!("{prefix}.projector"),
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
    Ok(())
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
