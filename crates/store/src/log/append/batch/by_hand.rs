//! A batch's transaction, begun and ended by hand rather than with
//! tokio-postgres's `Transaction`, whose `BEGIN` and `COMMIT` are each a
//! round trip of their own: here `BEGIN` goes out with phase 1 and
//! `COMMIT` with phase 3, pipelined behind their statements, two round
//! trips fewer on the appender's serial path.
//!
//! What `Transaction` did besides is kept: a connection goes back to the
//! pool only once its transaction is over.

use deadpool_postgres::{ClientWrapper, Object};

pub(super) const BEGIN: &str = "begin";
pub(super) const COMMIT: &str = "commit";

/// A pooled connection with a batch's transaction on it.
pub(super) struct BatchConnection {
    /// `None` once the transaction is over.
    client: Option<Object>,
}

impl BatchConnection {
    pub(super) fn new(client: Object) -> BatchConnection {
        BatchConnection {
            client: Some(client),
        }
    }

    pub(super) fn client(&self) -> &ClientWrapper {
        self.client
            .as_ref()
            .expect("a batch's connection is used only while its transaction is open")
    }

    /// The commit went through: the connection goes back to the pool.
    pub(super) fn committed(mut self) {
        self.client.take();
    }

    /// After a failure: rolls back whatever is still open and gives the
    /// connection back to the pool. A commit sent with phase 3 may have
    /// ended the transaction already (a failed statement makes PostgreSQL
    /// roll back at the `COMMIT`); a `ROLLBACK` then only draws a warning.
    /// A connection that cannot even roll back is closed.
    pub(super) async fn roll_back(mut self) {
        if let Some(client) = self.client.take()
            && let Err(error) = client.batch_execute("rollback").await
        {
            tracing::warn!(%error, "an append batch's connection could not roll back; closing it");
            drop(Object::take(client));
        }
    }
}

impl Drop for BatchConnection {
    /// Dropped with its transaction open (its batch's future was dropped
    /// mid-way): the connection is closed rather than pooled, and
    /// PostgreSQL rolls back what it left open.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            drop(Object::take(client));
        }
    }
}
