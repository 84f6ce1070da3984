//! `/readyz`: named checks run together, each bounded in time.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, join_all};
use serde_json::{Map, Value, json};

/// The longest one check may take; past it, it counts as failed.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

type Probe = dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync;

/// One readiness condition: a name for the answer and a probe that says
/// what is wrong when it fails.
#[derive(Clone)]
pub struct Check {
    name: &'static str,
    probe: Arc<Probe>,
}

impl Check {
    /// A check named `name` that runs `probe` each time `/readyz` is asked.
    pub fn new<F, Fut>(name: &'static str, probe: F) -> Check
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        Check {
            name,
            probe: Arc::new(move || Box::pin(probe())),
        }
    }
}

/// The checks a process must pass to take traffic.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<Check>,
}

/// The outcome of every check, in the order they were added.
#[derive(Debug, Clone)]
pub struct Report {
    pub outcomes: Vec<(&'static str, Result<(), String>)>,
}

impl Readiness {
    /// No checks yet: ready.
    pub fn new() -> Readiness {
        Readiness::default()
    }

    /// These checks and `check`.
    pub fn with(mut self, check: Check) -> Readiness {
        self.checks.push(check);
        self
    }

    /// Runs every check at once, each bounded by [`CHECK_TIMEOUT`].
    pub async fn report(&self) -> Report {
        let outcomes = join_all(self.checks.iter().map(|check| async move {
            let outcome = match tokio::time::timeout(CHECK_TIMEOUT, (check.probe)()).await {
                Ok(outcome) => outcome,
                Err(_) => Err(format!(
                    "did not answer within {} s",
                    CHECK_TIMEOUT.as_secs()
                )),
            };
            (check.name, outcome)
        }))
        .await;
        Report { outcomes }
    }
}

impl Report {
    /// Whether every check passed.
    pub fn is_ready(&self) -> bool {
        self.outcomes.iter().all(|(_, outcome)| outcome.is_ok())
    }

    /// `{"status":"ready"|"unready","unready":[names],"checks":{name:"ok"|reason}}`.
    pub fn to_json(&self) -> Value {
        let mut checks = Map::new();
        let mut unready = Vec::new();
        for (name, outcome) in &self.outcomes {
            let value = match outcome {
                Ok(()) => Value::from("ok"),
                Err(reason) => {
                    unready.push(Value::from(*name));
                    Value::from(reason.as_str())
                }
            };
            checks.insert((*name).to_owned(), value);
        }
        json!({
            "status": if unready.is_empty() { "ready" } else { "unready" },
            "unready": unready,
            "checks": checks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failing_check_is_named_with_its_reason_and_the_others_pass() {
        let readiness = Readiness::new()
            .with(Check::new("database", || async { Ok(()) }))
            .with(Check::new("projector", || async {
                Err("the projector is behind".to_owned())
            }));
        let report = readiness.report().await;
        assert!(!report.is_ready());
        assert_eq!(
            report.to_json(),
            json!({
                "status": "unready",
                "unready": ["projector"],
                "checks": {"database": "ok", "projector": "the projector is behind"},
            })
        );
    }

    #[tokio::test]
    async fn no_checks_is_ready() {
        assert!(Readiness::new().report().await.is_ready());
    }
}
