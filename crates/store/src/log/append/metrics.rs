//! What the appender shows operators: batch sizes, commit latency and the
//! events appended by type, observed once per batch on the writer task.

use std::collections::HashMap;

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry};

/// The appender's metrics; [`AppendMetrics::register`] for a process's
/// registry, [`AppendMetrics::unregistered`] where nobody scrapes them.
#[derive(Clone)]
pub struct AppendMetrics {
    batch_sizes: Histogram,
    commit_seconds: Histogram,
    events_appended: IntCounterVec,
}

impl AppendMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<AppendMetrics> {
        let metrics = AppendMetrics::unregistered()?;
        registry.register(Box::new(metrics.batch_sizes.clone()))?;
        registry.register(Box::new(metrics.commit_seconds.clone()))?;
        registry.register(Box::new(metrics.events_appended.clone()))?;
        Ok(metrics)
    }

    /// The metrics, in no registry (a command-line verb's appender).
    pub fn unregistered() -> prometheus::Result<AppendMetrics> {
        Ok(AppendMetrics {
            batch_sizes: Histogram::with_opts(
                HistogramOpts::new(
                    "rollcall_store_append_batch_size",
                    "Appends committed together in one transaction (group commit)",
                )
                .buckets(vec![
                    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0,
                ]),
            )?,
            commit_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "rollcall_store_append_commit_seconds",
                    "Time from an append batch's first statement to its commit",
                )
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ]),
            )?,
            events_appended: IntCounterVec::new(
                Opts::new(
                    "rollcall_store_events_appended_total",
                    "Events committed to the log, by event type",
                ),
                &["type"],
            )?,
        })
    }

    pub(super) fn batch_sizes(&self) -> &Histogram {
        &self.batch_sizes
    }

    pub(super) fn commit_seconds(&self) -> &Histogram {
        &self.commit_seconds
    }
}

/// The writer task's counters by event type, resolved once per type: a
/// batch then counts its events without a label lookup in the registry.
pub(super) struct EventCounters {
    by_type: HashMap<&'static str, IntCounter>,
    vec: IntCounterVec,
}

impl EventCounters {
    pub(super) fn new(metrics: &AppendMetrics) -> EventCounters {
        EventCounters {
            by_type: HashMap::new(),
            vec: metrics.events_appended.clone(),
        }
    }

    /// Counts one committed event of type `type_name`.
    pub(super) fn count(&mut self, type_name: &'static str) {
        self.by_type
            .entry(type_name)
            .or_insert_with(|| self.vec.with_label_values(&[type_name]))
            .inc();
    }
}
