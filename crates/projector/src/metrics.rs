//! The relay's and projector's Prometheus metrics.

use prometheus::{Gauge, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// Metrics of the asynchronous path, registered in the caller's registry.
#[derive(Clone)]
pub struct Metrics {
    pub relay_position: IntGauge,
    pub relay_published: IntCounter,
    pub projector_position: IntGauge,
    pub projector_lag: IntGauge,
    pub projector_holes_filled: IntCounter,
    pub projector_lag_seconds: Gauge,
    pub projector_quarantined: IntCounter,
    pub projector_quarantined_orgs: IntGauge,
    pub projector_log_follows: IntCounter,
    pub projector_delivered: IntCounter,
    pub reconnects: IntCounterVec,
}

impl Metrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Metrics> {
        let metrics = Metrics {
            relay_position: IntGauge::new(
                "rollcall_relay_published_position",
                "Last log position the broker confirmed",
            )?,
            relay_published: IntCounter::new(
                "rollcall_relay_published_events_total",
                "Events published to RabbitMQ with a confirm",
            )?,
            projector_position: IntGauge::new(
                "rollcall_projector_applied_position",
                "Last log position folded into the read tables",
            )?,
            projector_lag: IntGauge::new(
                "rollcall_projector_lag_events",
                "Log head minus the projector's checkpoint, measured every second",
            )?,
            projector_holes_filled: IntCounter::new(
                "rollcall_projector_holes_filled_total",
                "Times the projector read missing events from the log",
            )?,
            projector_lag_seconds: Gauge::new(
                "rollcall_projector_lag_seconds",
                "Age of the oldest event not yet folded into the read tables (0 when none waits)",
            )?,
            projector_quarantined: IntCounter::new(
                "rollcall_projector_quarantined_events_total",
                "Events the projector could not fold, each holding its organization back",
            )?,
            projector_quarantined_orgs: IntGauge::new(
                "rollcall_projector_quarantined_organizations",
                "Organizations whose read tables are held back after an event could not be folded",
            )?,
            projector_log_follows: IntCounter::new(
                "rollcall_projector_log_follows_total",
                "Times the projector folded from the log because the queue had stalled",
            )?,
            projector_delivered: IntCounter::new(
                "rollcall_projector_delivered_events_total",
                "Events in RabbitMQ deliveries the projector settled: folded, or skipped as folded already, then acknowledged",
            )?,
            reconnects: IntCounterVec::new(
                Opts::new(
                    "rollcall_bus_reconnects_total",
                    "Reconnections to RabbitMQ after a failure",
                ),
                &["component"],
            )?,
        };
        registry.register(Box::new(metrics.relay_position.clone()))?;
        registry.register(Box::new(metrics.relay_published.clone()))?;
        registry.register(Box::new(metrics.projector_position.clone()))?;
        registry.register(Box::new(metrics.projector_lag.clone()))?;
        registry.register(Box::new(metrics.projector_holes_filled.clone()))?;
        registry.register(Box::new(metrics.projector_lag_seconds.clone()))?;
        registry.register(Box::new(metrics.projector_quarantined.clone()))?;
        registry.register(Box::new(metrics.projector_quarantined_orgs.clone()))?;
        registry.register(Box::new(metrics.projector_log_follows.clone()))?;
        registry.register(Box::new(metrics.projector_delivered.clone()))?;
        registry.register(Box::new(metrics.reconnects.clone()))?;
        // Present from the start, so that dashboards and alerts see a zero.
        for component in ["relay", "projector"] {
            metrics.reconnects.with_label_values(&[component]);
        }
        Ok(metrics)
    }
}
