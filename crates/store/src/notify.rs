//! Notifications from other processes' commits (`LISTEN`, V0025): the
//! projector's checkpoint for read-your-writes across processes, the log
//! head for waking the relay. A notification is delivered at the commit
//! that raised it, so whoever hears it can read what it announces.
//!
//! A notification can be lost with its connection (PostgreSQL keeps none
//! for a listener that is not connected), so a [`Listener`] reconnects by
//! itself and tells its caller to look for itself after each reconnect and
//! whenever its fallback interval passes in silence.

use std::time::Duration;

use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, Connection, NoTls};

use crate::{Database, StoreError};

/// What a channel announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// An append committed (once per batch, no payload).
    Appended,
    /// The projector's checkpoint moved; the payload is its new position.
    Projected,
}

impl Channel {
    fn name(self) -> &'static str {
        match self {
            Channel::Appended => "rollcall_appended",
            Channel::Projected => "rollcall_projected",
        }
    }
}

/// What [`Listener::next`] brings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// A notification, with its payload.
    Notified(String),
    /// No notification can be trusted to have come: the connection was
    /// (re)made, is away, or the fallback interval passed. Look yourself.
    Look,
}

/// Follows one channel on a dedicated connection (a pooled one would hand
/// its notifications to whoever borrows it next), reconnecting after a loss.
pub struct Listener {
    database: Database,
    channel: Channel,
    fallback: Duration,
    /// The connection (it closes when dropped) and what it heard.
    heard: Option<(Client, mpsc::UnboundedReceiver<String>)>,
}

impl Listener {
    /// A listener that has not connected yet: its first [`Listener::next`]
    /// connects, then says [`Heard::Look`].
    pub fn new(database: Database, channel: Channel, fallback: Duration) -> Listener {
        Listener {
            database,
            channel,
            fallback,
            heard: None,
        }
    }

    /// Waits for the next notification, at most the fallback interval.
    /// Cancel-safe.
    pub async fn next(&mut self) -> Heard {
        let Some((_, heard)) = &mut self.heard else {
            match listen(&self.database, self.channel).await {
                Ok(heard) => self.heard = Some(heard),
                Err(error) => {
                    tracing::warn!(%error, channel = self.channel.name(), "cannot listen for notifications; looking every {:?} meanwhile", self.fallback);
                    tokio::time::sleep(self.fallback).await;
                }
            }
            return Heard::Look;
        };
        match tokio::time::timeout(self.fallback, heard.recv()).await {
            Ok(Some(payload)) => Heard::Notified(payload),
            Ok(None) => {
                tracing::warn!(
                    channel = self.channel.name(),
                    "the listening connection ended; reconnecting"
                );
                self.heard = None;
                Heard::Look
            }
            Err(_) => Heard::Look,
        }
    }
}

/// Opens a connection that listens on `channel` and forwards each
/// notification's payload; the receiver ends when the connection does.
async fn listen(
    database: &Database,
    channel: Channel,
) -> Result<(Client, mpsc::UnboundedReceiver<String>), StoreError> {
    let config = database.config.clone();
    let unreachable =
        |error: tokio_postgres::Error| StoreError::Unavailable(database.unreachable(&error));
    let (sender, receiver) = mpsc::unbounded_channel();
    let client = match database.tls.clone() {
        None => {
            let (client, connection) = config.connect(NoTls).await.map_err(unreachable)?;
            tokio::spawn(forward(connection, sender));
            client
        }
        Some(tls) => {
            let (client, connection) = config.connect(tls).await.map_err(unreachable)?;
            tokio::spawn(forward(connection, sender));
            client
        }
    };
    client
        .batch_execute(&format!("listen {}", channel.name()))
        .await?;
    Ok((client, receiver))
}

/// Drives the connection and forwards its notifications until it ends or
/// nobody listens any more.
async fn forward<S, T>(mut connection: Connection<S, T>, sender: mpsc::UnboundedSender<String>)
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut messages = futures::stream::poll_fn(move |context| connection.poll_message(context));
    while let Some(message) = messages.next().await {
        match message {
            Ok(AsyncMessage::Notification(notification)) => {
                if sender.send(notification.payload().to_owned()).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "a listening PostgreSQL connection ended");
                return;
            }
        }
    }
}
