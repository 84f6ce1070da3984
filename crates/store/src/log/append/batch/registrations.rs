//! The registry rows a batch writes beside its events (organizations, SCIM
//! tokens, verified domains, accounts, memberships, sessions, ...): their
//! statements, prepared once per connection, how each `Registration` is
//! written, and how a refused request's are given back.

use deadpool_postgres::ClientWrapper;
use domain::account::ACCOUNTS;
use futures::future::{BoxFuture, try_join_all};
use time::OffsetDateTime;
use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;

use crate::StoreError;
use crate::log::append::{AppendRequest, Registration};

/// A statement's future, boxed so that different statements can be
/// pipelined together on the transaction's connection.
pub(super) type Pending<'a> = BoxFuture<'a, Result<u64, tokio_postgres::Error>>;

/// Runs a prepared statement as a pipelinable future that owns its parameters.
fn run<'a>(
    client: &'a ClientWrapper,
    statement: &'a Statement,
    params: Vec<&'a (dyn ToSql + Sync)>,
) -> Pending<'a> {
    Box::pin(async move { client.execute(statement, &params).await })
}

/// The per-request statements a batch may need, prepared once per connection.
pub(super) struct Statements {
    revert_stream: Statement,
    drop_stream: Statement,
    register_organization: Statement,
    unregister_organization: Statement,
    register_token: Statement,
    revoke_token: Statement,
    record_token_expiry: Statement,
    switch_scim: Statement,
    verify_domain: Statement,
    drop_domain: Statement,
    start_session: Statement,
    end_session: Statement,
    keep_role_groups: Statement,
    add_role_groups: Statement,
    destroy_key: Statement,
    drop_stream_claims: Statement,
    drop_account: Statement,
    drop_account_locks: Statement,
}

impl Statements {
    pub(super) async fn prepare(client: &ClientWrapper) -> Result<Statements, StoreError> {
        let texts = [
            "update streams set version = $3 where org_id = $1 and stream_id = $2",
            "delete from streams where org_id = $1 and stream_id = $2",
            "insert into organizations (org_id, name, created_at) values ($1, $2, $3) on conflict do nothing",
            "delete from organizations where org_id = $1",
            "insert into scim_tokens (org_id, token_id, token_sha256, issued_at, expires_at) \
             values ($1, $2, $3, $4, $5) on conflict do nothing",
            "update scim_tokens set revoked_at = $3 \
             where org_id = $1 and token_id = $2 and revoked_at is null",
            "update scim_tokens set expiry_recorded_at = $3 \
             where org_id = $1 and token_id = $2 and expiry_recorded_at is null",
            "update organizations set scim_enabled = $2, scim_changed_at = $3 where org_id = $1",
            "insert into verified_domains (org_id, domain, domain_id, verified_at) \
             values ($1, $2, $3, $4) on conflict do nothing",
            "delete from verified_domains where org_id = $1 and domain = $2",
            "insert into sessions (session_id, account_id, sha256, started_at, expires_at) \
             values ($1, $2, $3, $4, $5) on conflict do nothing",
            "update sessions set ended_at = $3 \
             where session_id = $1 and account_id = $2 and ended_at is null",
            "delete from role_groups where org_id = $1 and role = $2 and group_id <> all($3)",
            "insert into role_groups (org_id, role, group_id) \
             select $1, $2, group_id from unnest($3::uuid[]) as group_id on conflict do nothing",
            "insert into personal_keys (org_id, subject_id, key, erased_at) values ($1, $2, null, $3) \
             on conflict (org_id, subject_id) do update set key = null, \
             erased_at = coalesce(personal_keys.erased_at, excluded.erased_at)",
            "delete from unique_claims where org_id = $1 and owner = $2",
            "delete from accounts where account_id = $1",
            "delete from account_locks where account_id = $1",
        ];
        let prepared = try_join_all(texts.iter().map(|text| client.prepare_cached(text))).await?;
        let mut prepared = prepared.into_iter();
        let mut next = || prepared.next().expect("one statement per text");
        Ok(Statements {
            revert_stream: next(),
            drop_stream: next(),
            register_organization: next(),
            unregister_organization: next(),
            register_token: next(),
            revoke_token: next(),
            record_token_expiry: next(),
            switch_scim: next(),
            verify_domain: next(),
            drop_domain: next(),
            start_session: next(),
            end_session: next(),
            keep_role_groups: next(),
            add_role_groups: next(),
            destroy_key: next(),
            drop_stream_claims: next(),
            drop_account: next(),
            drop_account_locks: next(),
        })
    }
}

/// Writes one registry row; 1 row when its unique value was free.
pub(super) fn register<'a>(
    client: &'a ClientWrapper,
    statements: &'a Statements,
    request: &'a AppendRequest,
    registration: &'a Registration,
    recorded_at: &'a OffsetDateTime,
) -> Pending<'a> {
    match registration {
        Registration::Organization { name } => run(
            client,
            &statements.register_organization,
            vec![&request.org_id, name, recorded_at],
        ),
        Registration::Token {
            token_id,
            sha256,
            expires_at,
        } => run(
            client,
            &statements.register_token,
            vec![&request.org_id, token_id, sha256, recorded_at, expires_at],
        ),
        Registration::TokenRevoked { token_id } => run(
            client,
            &statements.revoke_token,
            vec![&request.org_id, token_id, recorded_at],
        ),
        Registration::TokenExpired { token_id } => run(
            client,
            &statements.record_token_expiry,
            vec![&request.org_id, token_id, recorded_at],
        ),
        Registration::ScimSwitched { enabled } => run(
            client,
            &statements.switch_scim,
            vec![&request.org_id, enabled, recorded_at],
        ),
        Registration::DomainVerified { domain_id, domain } => run(
            client,
            &statements.verify_domain,
            vec![&request.org_id, domain, domain_id, recorded_at],
        ),
        Registration::DomainDropped { domain } => run(
            client,
            &statements.drop_domain,
            vec![&request.org_id, domain],
        ),
        Registration::Session {
            session_id,
            sha256,
            expires_at,
        } => run(
            client,
            &statements.start_session,
            vec![
                session_id,
                &request.stream_id,
                sha256,
                recorded_at,
                expires_at,
            ],
        ),
        Registration::SessionEnded { session_id } => run(
            client,
            &statements.end_session,
            vec![session_id, &request.stream_id, recorded_at],
        ),
        Registration::Account { .. }
        | Registration::AccountLocks { .. }
        | Registration::Membership { .. } => {
            unreachable!("written with the batch's others of its kind (registry_sets)")
        }
        // Two statements that commute: one drops the groups no longer
        // mapped, the other adds the new ones.
        Registration::RoleGroups { role, group_ids } => Box::pin(async move {
            let params: [&(dyn ToSql + Sync); 3] = [&request.org_id, role, group_ids];
            let kept = client
                .execute(&statements.keep_role_groups, &params)
                .await?;
            let added = client.execute(&statements.add_role_groups, &params).await?;
            Ok(kept + added)
        }),
        Registration::Erasure => Box::pin(async move {
            let stream: [&(dyn ToSql + Sync); 2] = [&request.org_id, &request.stream_id];
            let mut changed = client
                .execute(
                    &statements.destroy_key,
                    &[stream[0], stream[1], recorded_at],
                )
                .await?;
            changed += client
                .execute(&statements.drop_stream_claims, &stream)
                .await?;
            if request.org_id == ACCOUNTS {
                let account = [stream[1]];
                changed += client.execute(&statements.drop_account, &account).await?;
                changed += client
                    .execute(&statements.drop_account_locks, &account)
                    .await?;
            }
            Ok(changed)
        }),
    }
}

/// Gives back the stream version and organization name a refused request
/// took (its claims are dropped with the batch's releases); `base` is the
/// version its events were to follow.
pub(super) fn undo<'a>(
    client: &'a ClientWrapper,
    statements: &'a Statements,
    request: &'a AppendRequest,
    base: Option<&'a i64>,
    registered_organization: bool,
) -> Vec<Pending<'a>> {
    let mut pending = Vec::new();
    if registered_organization {
        pending.push(run(
            client,
            &statements.unregister_organization,
            vec![&request.org_id],
        ));
    }
    match base {
        None => {}
        Some(0) => pending.push(run(
            client,
            &statements.drop_stream,
            vec![&request.org_id, &request.stream_id],
        )),
        Some(base) => pending.push(run(
            client,
            &statements.revert_stream,
            vec![&request.org_id, &request.stream_id, base],
        )),
    }
    pending
}
