//! The projector's statements for groups and memberships.

use deadpool_postgres::Transaction;
use domain::StoredEvent;
use domain::erasable::ERASED;
use domain::read_model::{GroupRowChange, MembershipChange};
use tokio_postgres::Statement;
use uuid::Uuid;

use super::fold_keys;
use crate::StoreError;

/// The statements that change group rows and memberships.
pub(super) struct GroupStatements {
    insert: Statement,
    update: Statement,
    touch: Statement,
    delete: Statement,
    add_members: Statement,
    remove_members: Statement,
    vanish: Statement,
    erase_displays: Statement,
}

impl GroupStatements {
    pub(super) async fn prepare(
        transaction: &Transaction<'_>,
    ) -> Result<GroupStatements, StoreError> {
        let (insert, update, touch, delete, add_members, remove_members, vanish, erase_displays) = futures::try_join!(
            transaction.prepare_cached(
                "insert into scim_groups (org_id, group_id, display_name, external_id, resource, \
                 doc, version, created_at, updated_at, display_name_folded) \
                 values ($1, $2, $3, $4, $5::text::json, $6::text::jsonb, $7, $8, $9, $10)",
            ),
            transaction.prepare_cached(
                "update scim_groups set display_name = $3, external_id = $4, \
                 resource = $5::text::json, doc = $6::text::jsonb, version = $7, updated_at = $8, \
                 display_name_folded = $9 \
                 where org_id = $1 and group_id = $2",
            ),
            transaction.prepare_cached(
                "update scim_groups set version = $3, updated_at = $4 \
                 where org_id = $1 and group_id = $2",
            ),
            transaction
                .prepare_cached("delete from scim_groups where org_id = $1 and group_id = $2"),
            // Only into a group that exists, and only members that still do
            // (one may have been deleted after the add was decided): the same
            // rule as domain::read_model::fold_group_event.
            transaction.prepare_cached(
                "insert into scim_group_members (org_id, group_id, member_id, member_type, display) \
                 select $1, $2, m.id, m.kind, m.display \
                   from unnest($3::uuid[], $4::text[], $5::text[]) as m(id, kind, display) \
                  where exists (select 1 from scim_groups g where g.org_id = $1 and g.group_id = $2) \
                    and case m.kind \
                        when 'User' then exists (select 1 from scim_users u \
                                                  where u.org_id = $1 and u.user_id = m.id) \
                        else exists (select 1 from scim_groups g \
                                      where g.org_id = $1 and g.group_id = m.id) end \
                 on conflict do nothing",
            ),
            transaction.prepare_cached(
                "delete from scim_group_members \
                 where org_id = $1 and group_id = $2 and member_id = any($3)",
            ),
            transaction.prepare_cached(
                "delete from scim_group_members \
                 where org_id = $1 and (group_id = $2 or member_id = $2)",
            ),
            transaction.prepare_cached(
                "update scim_group_members set display = $3 \
                 where org_id = $1 and member_id = $2 and display is not null",
            ),
        )?;
        Ok(GroupStatements {
            insert,
            update,
            touch,
            delete,
            add_members,
            remove_members,
            vanish,
            erase_displays,
        })
    }
}

/// A group row change with its parameters owned, ready to be pipelined.
pub(super) struct GroupParams {
    org_id: Uuid,
    group_id: Uuid,
    change: GroupRowChange,
    resource: String,
    doc: String,
    /// `scim::fold_case` of the displayName (V0008).
    display_name_folded: String,
}

impl GroupParams {
    pub(super) fn new(stored: &StoredEvent, change: GroupRowChange) -> GroupParams {
        let (resource, doc, display_name_folded) = match &change {
            GroupRowChange::Insert(row) | GroupRowChange::Update(row) => (
                serde_json::to_string(&row.resource).expect("a resource serializes"),
                serde_json::to_string(&fold_keys(&row.resource)).expect("a resource serializes"),
                scim::fold_case(&row.display_name),
            ),
            _ => Default::default(),
        };
        GroupParams {
            org_id: stored.org_id,
            group_id: stored.stream_id,
            change,
            resource,
            doc,
            display_name_folded,
        }
    }

    /// Whether the change must find exactly one row. A member event may
    /// follow its group's deletion (member changes commute, so one decided
    /// before the delete can land after it); its touch then finds none.
    pub(super) fn must_change_one(&self) -> bool {
        !matches!(self.change, GroupRowChange::Touch { .. })
    }

    pub(super) async fn execute(
        &self,
        transaction: &Transaction<'_>,
        statements: &GroupStatements,
    ) -> Result<u64, StoreError> {
        let (org, group) = (&self.org_id, &self.group_id);
        Ok(match &self.change {
            GroupRowChange::Insert(row) => {
                transaction
                    .execute(
                        &statements.insert,
                        &[
                            org,
                            group,
                            &row.display_name,
                            &row.external_id,
                            &self.resource,
                            &self.doc,
                            &row.version,
                            &row.created_at,
                            &row.updated_at,
                            &self.display_name_folded,
                        ],
                    )
                    .await?
            }
            GroupRowChange::Update(row) => {
                transaction
                    .execute(
                        &statements.update,
                        &[
                            org,
                            group,
                            &row.display_name,
                            &row.external_id,
                            &self.resource,
                            &self.doc,
                            &row.version,
                            &row.updated_at,
                            &self.display_name_folded,
                        ],
                    )
                    .await?
            }
            GroupRowChange::Touch {
                version,
                updated_at,
            } => {
                transaction
                    .execute(&statements.touch, &[org, group, version, updated_at])
                    .await?
            }
            GroupRowChange::Delete => {
                transaction
                    .execute(&statements.delete, &[org, group])
                    .await?
            }
        })
    }
}

/// A membership change with its parameters owned.
pub(super) struct MembershipParams {
    org_id: Uuid,
    stream_id: Uuid,
    change: MembershipChange,
}

impl MembershipParams {
    pub(super) fn new(stored: &StoredEvent, change: MembershipChange) -> MembershipParams {
        MembershipParams {
            org_id: stored.org_id,
            stream_id: stored.stream_id,
            change,
        }
    }

    pub(super) async fn execute(
        &self,
        transaction: &Transaction<'_>,
        statements: &GroupStatements,
    ) -> Result<u64, StoreError> {
        let (org, stream) = (&self.org_id, &self.stream_id);
        Ok(match &self.change {
            MembershipChange::Add(members) => {
                let ids: Vec<Uuid> = members.iter().map(|member| member.value).collect();
                let kinds: Vec<&str> = members.iter().map(|member| member.kind.as_str()).collect();
                let displays: Vec<Option<&str>> = members
                    .iter()
                    .map(|member| member.display.as_deref())
                    .collect();
                transaction
                    .execute(
                        &statements.add_members,
                        &[org, stream, &ids, &kinds, &displays],
                    )
                    .await?
            }
            MembershipChange::Remove(ids) => {
                transaction
                    .execute(&statements.remove_members, &[org, stream, ids])
                    .await?
            }
            MembershipChange::Vanish => {
                transaction
                    .execute(&statements.vanish, &[org, stream])
                    .await?
            }
            MembershipChange::EraseDisplays => {
                transaction
                    .execute(&statements.erase_displays, &[org, stream, &ERASED])
                    .await?
            }
        })
    }
}
