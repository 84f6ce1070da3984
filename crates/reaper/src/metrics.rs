//! What operators see of the reaper: rounds, actions, failures, durations,
//! and the days left on each organization's soonest-expiring SCIM token.

use std::time::Duration;

use prometheus::{
    GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};
use time::OffsetDateTime;
use uuid::Uuid;

/// Organizations listed by `rollcall_scim_token_expiry_days`, soonest first:
/// a bound on the metric's series whatever the number of organizations.
pub const MAX_ORGANIZATIONS_LABELLED: usize = 1_000;

/// The reaper's metrics, registered once per process.
#[derive(Clone)]
pub struct ReaperMetrics {
    runs: IntCounterVec,
    actions: IntCounterVec,
    duration: HistogramVec,
    pub skipped_rounds: IntCounter,
    token_expiry_days: GaugeVec,
    /// Events the linker has followed (read past), of every type.
    pub linker_events: IntCounter,
    /// Events the linker could never follow and passed (logged at error).
    pub linker_unfollowable: IntCounter,
    /// Events between the linker's checkpoint and the log's head, as of
    /// its last pass.
    pub linker_lag: IntGauge,
    /// The positions the linker's passes went through, by where it found
    /// their events: kept by this process's appender, or read from the log.
    pub linker_passed: IntCounterVec,
}

impl ReaperMetrics {
    /// The metrics, registered in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<ReaperMetrics> {
        let metrics = ReaperMetrics {
            runs: IntCounterVec::new(
                Opts::new(
                    "rollcall_reaper_job_runs_total",
                    "Reaper job runs, by job and outcome (ok or failed).",
                ),
                &["job", "outcome"],
            )?,
            actions: IntCounterVec::new(
                Opts::new(
                    "rollcall_reaper_actions_total",
                    "Events the reaper recorded, by job and event type.",
                ),
                &["job", "event"],
            )?,
            duration: HistogramVec::new(
                HistogramOpts::new(
                    "rollcall_reaper_job_duration_seconds",
                    "How long one run of a reaper job took.",
                ),
                &["job"],
            )?,
            skipped_rounds: IntCounter::new(
                "rollcall_reaper_skipped_rounds_total",
                "Rounds this replica skipped because another held the reaper lock.",
            )?,
            token_expiry_days: GaugeVec::new(
                Opts::new(
                    "rollcall_scim_token_expiry_days",
                    "Days until the organization's soonest live SCIM token expires \
                     (at most 1,000 organizations, soonest first).",
                ),
                &["org"],
            )?,
            linker_events: IntCounter::new(
                "rollcall_linker_events_total",
                "Events the linker has followed past (of every type).",
            )?,
            linker_unfollowable: IntCounter::new(
                "rollcall_linker_unfollowable_events_total",
                "Events the linker could never follow and passed; each is logged at error.",
            )?,
            linker_lag: IntGauge::new(
                "rollcall_linker_lag_events",
                "Events between the linker's checkpoint and the log's head: SCIM entries \
                 not yet members, locks not yet converged.",
            )?,
            linker_passed: IntCounterVec::new(
                Opts::new(
                    "rollcall_linker_passed_events_total",
                    "Positions the linker's passes went through, by where it found their events: \
                     kept by this process's appender (from=\"appender\") or read from the log \
                     (from=\"log\").",
                ),
                &["from"],
            )?,
        };
        registry.register(Box::new(metrics.runs.clone()))?;
        registry.register(Box::new(metrics.actions.clone()))?;
        registry.register(Box::new(metrics.duration.clone()))?;
        registry.register(Box::new(metrics.skipped_rounds.clone()))?;
        registry.register(Box::new(metrics.token_expiry_days.clone()))?;
        registry.register(Box::new(metrics.linker_events.clone()))?;
        registry.register(Box::new(metrics.linker_unfollowable.clone()))?;
        registry.register(Box::new(metrics.linker_lag.clone()))?;
        registry.register(Box::new(metrics.linker_passed.clone()))?;
        // Present from the start, so that dashboards and alerts see a zero.
        for job in ["token_expiry", "checkpoints"] {
            for outcome in ["ok", "failed"] {
                metrics.runs.with_label_values(&[job, outcome]);
            }
        }
        for (job, event) in [
            ("token_expiry", "ScimTokenExpired"),
            ("token_expiry", "ScimTokenExpiryWarned"),
            ("checkpoints", "SignedCheckpoint"),
        ] {
            metrics.actions.with_label_values(&[job, event]);
        }
        Ok(metrics)
    }

    /// Counts one run of `job`.
    pub fn observe_job<T, E>(&self, job: &str, took: Duration, result: &Result<T, E>) {
        let outcome = if result.is_ok() { "ok" } else { "failed" };
        self.runs.with_label_values(&[job, outcome]).inc();
        self.duration
            .with_label_values(&[job])
            .observe(took.as_secs_f64());
    }

    /// Counts one event recorded by `job`.
    pub fn action(&self, job: &str, event: &str) {
        self.actions.with_label_values(&[job, event]).inc();
    }

    /// Replaces the expiry gauge with `soonest` (organization, soonest live
    /// token's expiry), soonest first.
    pub fn set_token_expiries(&self, soonest: &[(Uuid, OffsetDateTime)], now: OffsetDateTime) {
        self.token_expiry_days.reset();
        let mut soonest = soonest.to_vec();
        soonest.sort_by_key(|(_, expires_at)| *expires_at);
        for (org_id, expires_at) in soonest.into_iter().take(MAX_ORGANIZATIONS_LABELLED) {
            let days = (expires_at - now).as_seconds_f64() / 86_400.0;
            self.token_expiry_days
                .with_label_values(&[&org_id.to_string()])
                .set(days);
        }
    }
}
