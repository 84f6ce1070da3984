//! Connecting to the broker.

use std::time::Duration;

use lapin::uri::{AMQPScheme, AMQPUri};
use lapin::{Connection, ConnectionProperties};

use crate::BusError;

/// Seconds between heartbeats unless the URL sets `?heartbeat=`: a
/// connection that dies without closing (a cut network) is noticed within
/// about two of them, not after RabbitMQ's default of a minute.
const HEARTBEAT_SECONDS: u16 = 10;

/// The longest a connection attempt may take: a broker (or a network) that
/// accepts the TCP connection and then says nothing must not hold a
/// reconnecting component for ever.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens a connection to `url` (`amqp://`, or `amqps://` for TLS checked
/// against the system's CAs), within [`CONNECT_TIMEOUT`].
pub async fn connect(url: &str) -> Result<Connection, BusError> {
    let properties = ConnectionProperties::default().with_connection_name("rollcall".into());
    let mut uri: AMQPUri = url.parse().map_err(BusError::BadUrl)?;
    uri.query.heartbeat.get_or_insert(HEARTBEAT_SECONDS);
    let tls = uri.scheme == AMQPScheme::AMQPS;
    let address = format!("{}:{}", uri.authority.host, uri.authority.port);
    match tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect_uri(uri, properties))
        .await
        .map_err(|_| BusError::TimedOut(CONNECT_TIMEOUT))?
    {
        Ok(connection) => Ok(connection),
        // lapin reports a failed handshake as an I/O error like any other:
        // say that TLS was asked for, which is what an operator checks first.
        Err(error) if tls => Err(BusError::Tls {
            address,
            cause: error.to_string(),
        }),
        Err(error) => Err(error.into()),
    }
}

/// How often [`lost`] looks at a connection.
const LIVENESS_EVERY: Duration = Duration::from_millis(500);

/// Resolves once `connection` is no longer open. lapin does not always fail
/// the futures that wait on a connection that died: under a storm of cuts
/// the projector once waited for ever on one (for a delivery, or for an
/// acknowledgement to be written), with no consumer left at the broker. A
/// session races its work against this, so a dead connection always ends it.
pub async fn lost(connection: &Connection) -> BusError {
    loop {
        tokio::time::sleep(LIVENESS_EVERY).await;
        if !connection.status().connected() {
            return BusError::Lost;
        }
    }
}
