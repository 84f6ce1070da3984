//! Every statement a batch sends, prepared before the batch begins
//! (`prepare_cached`: once per connection, a lookup after that).
//!
//! The phases pipeline their statements: each goes out on its future's
//! first poll, in the order of the phase's join. That holds only for a
//! statement prepared beforehand; one prepared inside its future goes out
//! once its preparation comes back, out of order: a chain head read before
//! the log head's lock (two API processes broke the chain so: e2e
//! scaleout, issue 13), a row written after its savepoint's release, a
//! write sent after the `COMMIT`, outside the transaction.

use deadpool_postgres::ClientWrapper;
use futures::TryFutureExt;
use futures::future::try_join_all;
use tokio_postgres::Statement;

use super::registrations::Statements;
use super::registry_sets::SetStatements;
use crate::StoreError;
use crate::log::append::keys::batch_keys_statement;
use crate::log::append::sets;

const LOCK_LOG_HEAD: &str = "select last_position from log_head where id = 1 for update";

const SAVE_LOG_HEAD: &str = "update log_head set last_position = $1 where id = 1";

/// The statements of a batch's phases, with those of its registry rows.
pub(super) struct Prepared {
    pub registrations: Statements,
    pub sets: SetStatements,
    pub lock_log_head: Statement,
    pub chain_heads: Statement,
    pub create_all_streams: Statement,
    pub create_new_streams: Statement,
    pub extend_streams: Statement,
    pub keys: Statement,
    pub take_all_claims: Statement,
    pub take_free_claims: Statement,
    pub drop_claims: Statement,
    pub insert_events: Statement,
    pub save_chain_heads: Statement,
    pub save_token_positions: Statement,
    pub save_log_head: Statement,
}

impl Prepared {
    pub(super) async fn prepare(client: &ClientWrapper) -> Result<Prepared, StoreError> {
        let keys = batch_keys_statement();
        let texts = [
            LOCK_LOG_HEAD,
            sets::CHAIN_HEADS,
            sets::CREATE_ALL_STREAMS,
            sets::CREATE_NEW_STREAMS,
            sets::EXTEND_STREAMS,
            &keys,
            sets::TAKE_ALL_CLAIMS,
            sets::TAKE_FREE_CLAIMS,
            sets::DROP_CLAIM_STATEMENT,
            sets::INSERT_EVENTS,
            sets::SAVE_CHAIN_HEADS,
            sets::SAVE_TOKEN_POSITIONS,
            SAVE_LOG_HEAD,
        ];
        let (registrations, sets, prepared) = futures::try_join!(
            Statements::prepare(client),
            SetStatements::prepare(client),
            try_join_all(texts.iter().map(|text| client.prepare_cached(text)))
                .map_err(StoreError::from),
        )?;
        let mut prepared = prepared.into_iter();
        let mut next = || prepared.next().expect("one statement per text");
        Ok(Prepared {
            registrations,
            sets,
            lock_log_head: next(),
            chain_heads: next(),
            create_all_streams: next(),
            create_new_streams: next(),
            extend_streams: next(),
            keys: next(),
            take_all_claims: next(),
            take_free_claims: next(),
            drop_claims: next(),
            insert_events: next(),
            save_chain_heads: next(),
            save_token_positions: next(),
            save_log_head: next(),
        })
    }
}
