//! `rollcall_scim_dialect_forms_total{org,form}`: which of Entra's and
//! Okta's PATCH forms each organization sends. The `org` label is the
//! organization's name, for the first [`Settings::metrics_max_orgs`]
//! organizations this process sees; the others count as `org="other"`, so
//! that the series stay bounded whatever the number of tenants.
//!
//! [`Settings::metrics_max_orgs`]: crate::Settings::metrics_max_orgs

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use prometheus::{IntCounter, IntCounterVec, Opts, Registry};
use scim::patch::{DialectForm, dialect_forms};
use serde_json::Value;
use store::Pool;
use uuid::Uuid;

/// Organizations labelled by name unless `ROLLCALL_METRICS_MAX_ORGS` says.
pub const DEFAULT_MAX_ORGS: usize = 100;

/// The `org` label of organizations past the cap.
const OTHER: &str = "other";

/// One organization's counters, one per form in [`DialectForm::ALL`]'s order.
type FormCounters = Arc<[IntCounter; 5]>;

/// Counts the dialect forms of PATCH requests, per organization.
pub struct DialectMetrics {
    forms: IntCounterVec,
    pool: Pool,
    max_orgs: usize,
    other: FormCounters,
    /// Resolved once per organization: a request then counts without a
    /// label lookup or a query.
    orgs: RwLock<HashMap<Uuid, FormCounters>>,
}

impl DialectMetrics {
    /// Registers the counter in `registry`; names are read through `pool`.
    pub fn register(
        registry: &Registry,
        pool: Pool,
        max_orgs: usize,
    ) -> prometheus::Result<DialectMetrics> {
        let forms = IntCounterVec::new(
            Opts::new(
                "rollcall_scim_dialect_forms_total",
                "PATCH requests (and bulk PATCH operations) that used each Entra/Okta form, \
                 by organization name (capped; the rest as org=\"other\")",
            ),
            &["org", "form"],
        )?;
        registry.register(Box::new(forms.clone()))?;
        Ok(DialectMetrics {
            other: counters(&forms, OTHER),
            forms,
            pool,
            max_orgs,
            orgs: RwLock::default(),
        })
    }

    /// Counts the forms a PATCH of `org_id` used (its query string and body).
    pub async fn count(&self, org_id: Uuid, query: &str, body: &Value) {
        let used = dialect_forms(query, body);
        if used.is_empty() {
            return;
        }
        let counters = self.counters_of(org_id).await;
        for form in used {
            let index = DialectForm::ALL
                .iter()
                .position(|known| *known == form)
                .expect("every form is in ALL");
            counters[index].inc();
        }
    }

    async fn counters_of(&self, org_id: Uuid) -> FormCounters {
        if let Some(found) = self.orgs.read().expect("dialect labels").get(&org_id) {
            return found.clone();
        }
        let name = match store::organization_name(&self.pool, org_id).await {
            Ok(Some(name)) => name,
            // Counted, not labelled: the next request tries the name again.
            Ok(None) | Err(_) => return self.other.clone(),
        };
        let mut orgs = self.orgs.write().expect("dialect labels");
        let labelled = if orgs.len() < self.max_orgs {
            counters(&self.forms, &name)
        } else {
            self.other.clone()
        };
        orgs.entry(org_id).or_insert(labelled).clone()
    }
}

fn counters(forms: &IntCounterVec, org: &str) -> FormCounters {
    Arc::new(DialectForm::ALL.map(|form| forms.with_label_values(&[org, form.label()])))
}
