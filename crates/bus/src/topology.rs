//! The exchange and queues, declared in one place.

use domain::partition::{Partition, bucket};
use lapin::options::{
    BasicConsumeOptions, BasicQosOptions, ExchangeBindOptions, ExchangeDeclareOptions,
    ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Connection, ExchangeKind};
use uuid::Uuid;

use crate::{BusError, Consumer};

/// How long a partition's queue outlives its last consumer (`x-expires`):
/// after a new split, the queues of the old one go by themselves. A
/// partition's projector away longer than this folds from the log when it
/// comes back, as it does after any restart.
pub const PARTITION_QUEUE_EXPIRES_MS: i64 = 10 * 60 * 1000;

/// The names every exchange and queue takes from one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Topic exchange the relay publishes every event to (routing key:
    /// `org.<org_id>`, [`routing_key`]).
    pub events_exchange: String,
    /// Headers exchange that takes every message of the events exchange
    /// and routes it by its bucket header ([`bucket_header`]) to the
    /// partitions' queues: a topic pattern cannot hash an organization, and
    /// the routing key stays what consumers bind (docs/asyncapi.yaml).
    pub partitions_exchange: String,
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
            partitions_exchange: format!("{prefix}.partitions"),
            projector_queue: format!("{prefix}.projector.single-active"),
            legacy_projector_queue: format!("{prefix}.projector"),
        }
    }

    /// The queue `partition`'s projector consumes: the projector's queue for
    /// the whole projection, one per partition (`<prefix>.projector.p<index>-of-<count>`)
    /// when it is split.
    pub fn queue_of(&self, partition: Partition) -> String {
        if partition.is_whole() {
            return self.projector_queue.clone();
        }
        format!(
            "{}.p{}-of-{}",
            self.legacy_projector_queue,
            partition.index(),
            partition.count()
        )
    }
}

/// The routing key of an organization's events.
pub fn routing_key(org_id: Uuid) -> String {
    format!("org.{org_id}")
}

/// The header that carries an organization's bucket
/// (`domain::partition::bucket`), and its value for `org_id`.
pub(crate) fn bucket_header(org_id: Uuid) -> (ShortString, AMQPValue) {
    (BUCKET_HEADER.into(), bucket_value(bucket(org_id)))
}

const BUCKET_HEADER: &str = "rollcall-bucket";

/// A bucket as the header and the bindings hold it: the headers exchange
/// compares values with their types, so both sides make it here.
fn bucket_value(bucket: u32) -> AMQPValue {
    AMQPValue::LongString(bucket.to_string().into())
}

/// Declares the exchange and `partition`'s queue with its bindings;
/// idempotent. A partition's queue also unbinds the whole projection's
/// queue, which nobody consumes while the projection is split.
pub async fn declare_topology(
    connection: &Connection,
    topology: &Topology,
    partition: Partition,
) -> Result<(), BusError> {
    let channel = connection.create_channel().await?;
    declare_durable_exchange(&channel, &topology.events_exchange, ExchangeKind::Topic).await?;
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    arguments.insert("x-single-active-consumer".into(), AMQPValue::Boolean(true));
    if !partition.is_whole() {
        arguments.insert(
            "x-expires".into(),
            AMQPValue::LongLongInt(PARTITION_QUEUE_EXPIRES_MS),
        );
    }
    let queue = topology.queue_of(partition);
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions::durable(),
            arguments,
        )
        .await?;
    if partition.is_whole() {
        channel
            .queue_bind(
                queue.as_str().into(),
                topology.events_exchange.as_str().into(),
                "#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    } else {
        declare_partitions_exchange(&channel, topology).await?;
        for bucket in partition.buckets() {
            let mut arguments = FieldTable::default();
            arguments.insert("x-match".into(), AMQPValue::LongString("all".into()));
            arguments.insert(BUCKET_HEADER.into(), bucket_value(bucket));
            channel
                .queue_bind(
                    queue.as_str().into(),
                    topology.partitions_exchange.as_str().into(),
                    "".into(),
                    QueueBindOptions::default(),
                    arguments,
                )
                .await?;
        }
    }
    channel.close(200, "declared".into()).await?;
    unbind_from_everything(connection, topology, &topology.legacy_projector_queue).await;
    if !partition.is_whole() {
        unbind_from_everything(connection, topology, &topology.projector_queue).await;
    }
    Ok(())
}

async fn declare_durable_exchange(
    channel: &lapin::Channel,
    name: &str,
    kind: ExchangeKind,
) -> Result<(), BusError> {
    channel
        .exchange_declare(
            name.into(),
            kind,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

/// The headers exchange, bound to every message of the events exchange.
async fn declare_partitions_exchange(
    channel: &lapin::Channel,
    topology: &Topology,
) -> Result<(), BusError> {
    declare_durable_exchange(
        channel,
        &topology.partitions_exchange,
        ExchangeKind::Headers,
    )
    .await?;
    channel
        .exchange_bind(
            topology.partitions_exchange.as_str().into(),
            topology.events_exchange.as_str().into(),
            "#".into(),
            ExchangeBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

/// Stops a queue nobody consumes from filling up: the legacy queue of older
/// releases (the new queue carries every event from now on), or the whole
/// projection's queue while the projection is split. The projector folds
/// from the log what a queue missed. The queue and what it holds stay for
/// the operator to delete (docs/scaling.md). Nothing to do when it does not
/// exist (the broker then closes the channel).
async fn unbind_from_everything(connection: &Connection, topology: &Topology, queue: &str) {
    let Ok(channel) = connection.create_channel().await else {
        return;
    };
    let unbound = channel
        .queue_unbind(
            queue.into(),
            topology.events_exchange.as_str().into(),
            "#".into(),
            FieldTable::default(),
        )
        .await;
    if unbound.is_ok() {
        let _ = channel.close(200, "unbound".into()).await;
    }
}

/// Removes the exchange and queues, and the queues of a split `split_ways`
/// (tests clean up with this).
pub async fn delete_topology(
    connection: &Connection,
    topology: &Topology,
    split_ways: u32,
) -> Result<(), BusError> {
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
    // Where there are some: a split projection's, the legacy queue of
    // tests that make it.
    let mut queues: Vec<String> = Partition::all(split_ways)
        .unwrap_or_default()
        .into_iter()
        .filter(|partition| !partition.is_whole())
        .map(|partition| topology.queue_of(partition))
        .collect();
    queues.push(topology.legacy_projector_queue.clone());
    for queue in &queues {
        delete_if_present(connection, Deletion::Queue(queue)).await?;
    }
    delete_if_present(
        connection,
        Deletion::Exchange(&topology.partitions_exchange),
    )
    .await
}

/// A queue or an exchange that may not exist.
enum Deletion<'a> {
    Queue(&'a str),
    Exchange(&'a str),
}

/// Deletes it on a channel of its own: a missing one closes only that
/// channel.
async fn delete_if_present(
    connection: &Connection,
    deletion: Deletion<'_>,
) -> Result<(), BusError> {
    let channel = connection.create_channel().await?;
    let deleted = match deletion {
        Deletion::Queue(name) => channel
            .queue_delete(name.into(), QueueDeleteOptions::default())
            .await
            .map(drop),
        Deletion::Exchange(name) => {
            channel
                .exchange_delete(name.into(), ExchangeDeleteOptions::default())
                .await
        }
    };
    if deleted.is_ok() {
        let _ = channel.close(200, "deleted".into()).await;
    }
    Ok(())
}

/// Starts consuming `partition`'s queue with manual acks and at most
/// `prefetch` unacknowledged deliveries.
pub async fn consume(
    connection: &Connection,
    topology: &Topology,
    partition: Partition,
    prefetch: u16,
) -> Result<Consumer, BusError> {
    let channel = connection.create_channel().await?;
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await?;
    let consumer = channel
        .basic_consume(
            topology.queue_of(partition).as_str().into(),
            "rollcall-projector".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    // A partition's queue holds only its organizations' part of a round:
    // the rest is never coming to it.
    Ok(Consumer::new(consumer, channel, partition.is_whole()))
}
