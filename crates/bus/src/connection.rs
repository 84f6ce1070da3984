//! Connecting to the broker.

use lapin::{Connection, ConnectionProperties};

use crate::BusError;

/// Opens a connection to `url` (an `amqp://` URL).
pub async fn connect(url: &str) -> Result<Connection, BusError> {
    let properties = ConnectionProperties::default().with_connection_name("rollcall".into());
    Ok(Connection::connect(url, properties).await?)
}
