//! Consuming with manual acknowledgement: a consumer settles each delivery
//! itself, after its own commit, through [`Delivery`].

use std::time::Duration;

use futures::{FutureExt, StreamExt};
use lapin::options::{BasicAckOptions, BasicNackOptions};

use crate::BusError;
use crate::round::{Round, last_round_complete};

/// How often a consumer waiting for a delivery looks at its channel itself.
/// lapin does not always wake a waiting consumer when its connection dies:
/// a cut during a storm of cuts left the projector waiting for ever on a
/// dead connection, with no consumer at the broker (seen in
/// `twenty_broker_cuts_under_load...`, about one run in a dozen).
const LIVENESS_EVERY: Duration = Duration::from_millis(500);

/// How long a consumer that gathers rounds waits for the rest of a round it
/// holds part of. The relay publishes a round's messages back to back, so
/// the rest is normally a moment behind; a round cut short (the relay died
/// mid-publish and will publish it again, grouped anew) is not waited for
/// longer than this, and its hole is read from the log.
const ROUND_WAIT: Duration = Duration::from_millis(200);

/// A consumer of one queue, started by [`crate::consume`].
pub struct Consumer {
    inner: lapin::Consumer,
    channel: lapin::Channel,
    /// Set for a queue of every organization: wait for the rest of a round
    /// ([`Round`]).
    gathers_rounds: bool,
}

/// One message taken from the queue and not yet settled: the broker hands
/// it out again if the channel closes before it is acknowledged.
pub struct Delivery {
    inner: lapin::message::Delivery,
}

impl Consumer {
    pub(crate) fn new(
        inner: lapin::Consumer,
        channel: lapin::Channel,
        gathers_rounds: bool,
    ) -> Consumer {
        Consumer {
            inner,
            channel,
            gathers_rounds,
        }
    }

    /// Waits for a delivery, then takes those that have already arrived
    /// behind it, `max` in all at most; a consumer that gathers rounds then
    /// takes the rest of the last round it holds part of, waiting for it up
    /// to [`ROUND_WAIT`] (and while it holds fewer than `max`: with `max`
    /// the prefetch, the broker sends no more while they are open). Fails once the channel is no longer open, whether
    /// or not lapin says so to the consumer. Cancelled while it gathers, the
    /// deliveries it held stay unsettled, and the broker hands them out
    /// again when the channel closes.
    pub async fn next_batch(&mut self, max: usize) -> Result<Vec<Delivery>, BusError> {
        let first = loop {
            tokio::select! {
                next = self.inner.next() => break next.ok_or(BusError::Cancelled)??,
                _ = tokio::time::sleep(LIVENESS_EVERY) => {
                    if !self.channel.status().connected() {
                        return Err(BusError::Lost);
                    }
                }
            }
        };
        let mut batch = vec![Delivery { inner: first }];
        self.take_arrived(&mut batch, max)?;
        while self.gathers_rounds
            && batch.len() < max
            && !last_round_complete(rounds_from_last(&batch))
        {
            match tokio::time::timeout(ROUND_WAIT, self.inner.next()).await {
                Ok(Some(delivery)) => batch.push(Delivery { inner: delivery? }),
                Ok(None) | Err(_) => break,
            }
            self.take_arrived(&mut batch, max)?;
        }
        Ok(batch)
    }

    /// Takes the deliveries that have arrived already, up to `max` in hand.
    fn take_arrived(&mut self, batch: &mut Vec<Delivery>, max: usize) -> Result<(), BusError> {
        while batch.len() < max {
            match self.inner.next().now_or_never() {
                Some(Some(delivery)) => batch.push(Delivery { inner: delivery? }),
                _ => break,
            }
        }
        Ok(())
    }
}

/// The rounds the deliveries name, from the last one back, read as asked.
fn rounds_from_last(batch: &[Delivery]) -> impl Iterator<Item = Option<Round>> + '_ {
    batch
        .iter()
        .rev()
        .map(|delivery| Round::read(delivery.inner.properties.headers().as_ref()))
}

impl Delivery {
    /// The message body.
    pub fn body(&self) -> &[u8] {
        &self.inner.data
    }

    /// Whether the broker delivered this message before, to a consumer that
    /// did not acknowledge it (a lost connection or channel).
    pub fn is_redelivered(&self) -> bool {
        self.inner.redelivered
    }

    /// Acknowledges this delivery and every earlier one on its channel that
    /// is not settled yet: a batch costs one round trip. Does nothing if this
    /// delivery is settled already (acknowledge the last one still open).
    pub async fn ack_up_to(&self) -> Result<(), BusError> {
        self.inner.ack(BasicAckOptions { multiple: true }).await?;
        Ok(())
    }

    /// Refuses this delivery without putting it back: the broker drops it
    /// (or dead-letters it, where a policy says so). For a message the
    /// consumer can never read, which redelivery would only repeat.
    pub async fn reject(&self) -> Result<(), BusError> {
        self.inner.nack(BasicNackOptions::default()).await?;
        Ok(())
    }
}
