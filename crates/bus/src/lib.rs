//! RabbitMQ adapter: where rollcall's events travel from the outbox relay to
//! the projector.
//!
//! All names derive from one prefix ([`Topology`]), so that tests and several
//! deployments can share a broker. Publishing always waits for the broker's
//! confirms on persistent messages; consuming is manual-ack, after the
//! consumer's own commit. The broker is not the source of truth (the log is),
//! so nothing here retries forever: callers reconnect and resume from their
//! checkpoint.

mod connection;
mod consumer;
mod publisher;
mod round;
mod topology;

pub use connection::{connect, lost};
pub use consumer::{Consumer, Delivery};
pub use lapin::Connection;
pub use publisher::{Message, Publisher};
pub use round::Round;
pub use topology::{
    PARTITION_QUEUE_EXPIRES_MS, Topology, consume, declare_topology, delete_topology, routing_key,
};

/// A failure of the broker or of the connection to it.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The broker is unreachable or closed the channel: reconnect with back-off.
    #[error("RabbitMQ is unavailable: {0}")]
    Unavailable(#[from] lapin::Error),
    /// The broker refused to take a message (negative confirm): publish again.
    #[error("RabbitMQ refused a message (nack)")]
    Refused,
    /// The broker did not confirm in time (a connection that died without
    /// closing, or a broker blocking publishers): reconnect and publish again.
    #[error("RabbitMQ did not confirm within {0:?}")]
    TimedOut(std::time::Duration),
    /// An `amqps://` connection failed: the broker has no TLS listener at
    /// that port, or its certificate does not chain to the system's CAs.
    /// Fix the URL or the broker; retrying as is rarely helps.
    #[error(
        "RabbitMQ over TLS (amqps://) failed at {address}: {cause}. Is a TLS listener there \
         (RabbitMQ's is on port 5671 when configured), and is its certificate signed by a CA \
         this system trusts?"
    )]
    Tls { address: String, cause: String },
    /// The AMQP URL does not parse: fix `AMQP_URL` / `--amqp-url`.
    #[error("the AMQP URL is not valid: {0}")]
    BadUrl(String),
    /// The broker cancelled the consumer (its queue was deleted, or the node
    /// holding it went away): reconnect and consume again.
    #[error("the broker cancelled the consumer")]
    Cancelled,
    /// The connection or channel closed without failing what waited on it:
    /// reconnect.
    #[error("the connection to RabbitMQ closed under a waiting session")]
    Lost,
}
