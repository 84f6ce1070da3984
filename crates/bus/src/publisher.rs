//! Publishing with confirms.

use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection};
use uuid::Uuid;

use crate::round::Round;
use crate::topology::{bucket_header, routing_key};
use crate::{BusError, Topology};

/// Longest wait for the broker to take and confirm one batch. Past it the
/// publisher gives up and the caller reconnects: a connection can die without
/// closing (heartbeats notice only after a minute), and a broker under a
/// resource alarm blocks publishers without an error.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);

/// Delivery mode 2: the broker writes the message to disk.
const PERSISTENT: u8 = 2;

/// One message for the events exchange, about one organization: routed by
/// it (`org.<org_id>`), with its bucket in a header for the partitions'
/// queues ([`crate::Topology::partitions_exchange`]).
#[derive(Debug, Clone)]
pub struct Message {
    pub org_id: Uuid,
    /// Unique id of the message (the event's position), for deduplication.
    pub message_id: String,
    pub body: Vec<u8>,
    /// The publish round it is part of, if the relay published it in one
    /// (`rollcall-round` headers).
    pub round: Option<Round>,
}

/// A channel in confirm mode on the events exchange.
pub struct Publisher {
    channel: Channel,
    exchange: String,
}

impl Publisher {
    /// Opens a confirm-mode channel.
    pub async fn open(connection: &Connection, topology: &Topology) -> Result<Publisher, BusError> {
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Publisher {
            channel,
            exchange: topology.events_exchange.clone(),
        })
    }

    /// Publishes persistent messages and returns once the broker has
    /// confirmed every one of them.
    pub async fn publish_confirmed(&self, messages: &[Message]) -> Result<(), BusError> {
        tokio::time::timeout(CONFIRM_TIMEOUT, self.publish_and_wait(messages))
            .await
            .map_err(|_| BusError::TimedOut(CONFIRM_TIMEOUT))?
    }

    async fn publish_and_wait(&self, messages: &[Message]) -> Result<(), BusError> {
        let mut confirms = Vec::with_capacity(messages.len());
        for message in messages {
            let mut headers = FieldTable::default();
            let (name, bucket) = bucket_header(message.org_id);
            headers.insert(name, bucket);
            if let Some(round) = &message.round {
                round.write(&mut headers);
            }
            let properties = BasicProperties::default()
                .with_delivery_mode(PERSISTENT)
                .with_headers(headers)
                .with_content_type("application/json".into())
                .with_message_id(message.message_id.as_str().into());
            confirms.push(
                self.channel
                    .basic_publish(
                        self.exchange.as_str().into(),
                        routing_key(message.org_id).as_str().into(),
                        BasicPublishOptions::default(),
                        &message.body,
                        properties,
                    )
                    .await?,
            );
        }
        for confirm in confirms {
            if !confirm.await?.is_ack() {
                return Err(BusError::Refused);
            }
        }
        Ok(())
    }
}
