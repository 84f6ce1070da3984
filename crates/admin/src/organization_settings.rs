//! An organization's settings (SCIM on or off, the default role, custom
//! roles) and name, as the fold of its own stream: read now, or kept by the
//! linker without reading and opening that stream each time.
//!
//! The linker asks for them two or three times for every user it links, and
//! the stream grows with every token, domain and refusal recorded on it.
//! [`KeptSettings`] holds each fold with the head it folded (the last
//! event's version and hash), and a read costs one look at the head: the
//! same head is the same stream (the hash covers every earlier event of the
//! organization), so a kept fold is returned only when a fresh one would
//! equal it. The log stays the source of truth; nothing is persisted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use domain::Event;
use domain::provisioning::Provisioning;
use store::Pool;
use uuid::Uuid;

/// The most organizations kept: a bound on memory however many there are.
const KEPT_ORGANIZATIONS: usize = 4096;

/// What an organization's stream says of it now.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct OrganizationSettings {
    pub provisioning: Provisioning,
    /// The name it was created with, for messages.
    pub name: String,
}

/// What messages call an organization whose stream names none.
const UNNAMED: &str = "this organization";

/// A fold, with the head (version, hash) of the stream it folded.
type Kept = ((i64, Vec<u8>), Arc<OrganizationSettings>);

/// The folds one linker keeps, by organization.
#[derive(Default)]
pub struct KeptSettings {
    kept: Mutex<HashMap<Uuid, Kept>>,
}

impl KeptSettings {
    /// `org_id`'s settings and name now.
    pub(crate) async fn read(
        &self,
        pool: &Pool,
        org_id: Uuid,
    ) -> anyhow::Result<Arc<OrganizationSettings>> {
        let head = store::stream_head(pool, org_id, org_id).await?;
        self.read_at(pool, org_id, head.as_ref()).await
    }

    /// `org_id`'s settings and name as of `head`, its stream's head read a
    /// moment ago (`None`: the stream had no events then), or as of a newer
    /// head this linker read since: as fresh, or fresher.
    pub(crate) async fn read_at(
        &self,
        pool: &Pool,
        org_id: Uuid,
        head: Option<&(i64, Vec<u8>)>,
    ) -> anyhow::Result<Arc<OrganizationSettings>> {
        let Some(head) = head else {
            return Ok(Arc::new(fold(std::iter::empty())));
        };
        if let Some((kept_head, kept)) = self.kept.lock().expect("never poisoned").get(&org_id)
            && (kept_head == head || kept_head.0 > head.0)
        {
            return Ok(kept.clone());
        }
        // The stream may have grown since its head was read: fold up to that
        // head only, so the fold is kept under the head it is the fold of.
        let stream = store::read_stream(pool, org_id, org_id).await?;
        let folded = Arc::new(fold(
            stream
                .iter()
                .take_while(|stored| stored.stream_version <= head.0)
                .map(|stored| &stored.event),
        ));
        let mut kept = self.kept.lock().expect("never poisoned");
        // Past the bound, forgetting every fold costs one read of each
        // organization's stream again, and no bookkeeping of which is oldest.
        if kept.len() >= KEPT_ORGANIZATIONS && !kept.contains_key(&org_id) {
            kept.clear();
        }
        // Of two readers, the one that read an older head keeps nothing.
        let newer_kept = kept
            .get(&org_id)
            .is_some_and(|((version, _), _)| *version > head.0);
        if !newer_kept {
            kept.insert(org_id, (head.clone(), folded.clone()));
        }
        Ok(folded)
    }
}

/// `org_id`'s settings and name now, folded from its whole stream (for the
/// owners' operations, which are rare).
pub(crate) async fn read_now(pool: &Pool, org_id: Uuid) -> anyhow::Result<OrganizationSettings> {
    let stream = store::read_stream(pool, org_id, org_id).await?;
    Ok(fold(stream.iter().map(|stored| &stored.event)))
}

/// The settings and name an organization's events leave.
fn fold<'e>(events: impl Iterator<Item = &'e Event>) -> OrganizationSettings {
    let mut name = None;
    let provisioning = events.fold(Provisioning::default(), |state, event| {
        if let Event::OrganizationCreated { name: created } = event {
            name.get_or_insert_with(|| created.clone());
        }
        state.evolve(event)
    });
    OrganizationSettings {
        provisioning,
        name: name.unwrap_or_else(|| UNNAMED.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fold_is_the_settings_fold_with_the_first_name() {
        let events = [
            Event::OrganizationCreated {
                name: "Contoso".into(),
            },
            Event::ScimEnabled {
                default_role: "member".into(),
            },
            Event::RoleAdded {
                role: "support".into(),
            },
            Event::DefaultRoleChanged {
                role: "support".into(),
            },
        ];
        let folded = fold(events.iter());
        assert_eq!(folded.name, "Contoso");
        assert_eq!(
            folded.provisioning,
            events
                .iter()
                .fold(Provisioning::default(), |state, event| state.evolve(event))
        );
        assert!(folded.provisioning.scim_enabled);
        assert_eq!(folded.provisioning.default_role, "support");
        assert_eq!(fold(std::iter::empty()).name, UNNAMED);
    }
}
