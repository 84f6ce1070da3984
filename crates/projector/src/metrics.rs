//! The relay's and projector's Prometheus metrics.

use prometheus::{
    Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

/// Metrics of the asynchronous path, registered in the caller's registry.
#[derive(Clone)]
pub struct Metrics {
    pub relay_position: IntGauge,
    pub relay_published: IntCounter,
    /// Events the relay took for publishing, by where it found them: kept
    /// by this process's appender, or read from the log.
    pub relay_read: IntCounterVec,
    pub projector_position: IntGauge,
    pub projector_lag: IntGauge,
    pub projector_holes_filled: IntCounter,
    pub projector_lag_seconds: Gauge,
    pub projector_quarantined: IntCounter,
    pub projector_split_batches: IntCounter,
    pub projector_quarantined_orgs: IntGauge,
    pub projector_log_follows: IntCounter,
    pub projector_delivered: IntCounter,
    pub reconnects: IntCounterVec,
    /// Events in the log past the relay's checkpoint, measured every second.
    pub relay_backlog: IntGauge,
    pub relay_confirm_seconds: Histogram,
    pub projector_apply_seconds: Histogram,
    pub projector_redeliveries: IntCounter,
    /// 1 while this process's relay holds the relay lock (publishes), 0
    /// while it is a standby.
    pub relay_active: IntGauge,
    /// 1 while the component holds a RabbitMQ connection, by component.
    pub bus_connected: IntGaugeVec,
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
            relay_read: IntCounterVec::new(
                Opts::new(
                    "rollcall_relay_read_events_total",
                    "Events the relay took for publishing, by where it found them: kept by this process's appender (from=\"appender\") or read from the log (from=\"log\")",
                ),
                &["from"],
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
            projector_split_batches: IntCounter::new(
                "rollcall_projector_split_batches_total",
                "Batches the projector could not fold whole and folded event by event",
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
            relay_backlog: IntGauge::new(
                "rollcall_relay_outbox_backlog_events",
                "Events appended to the log and not yet confirmed by the broker, measured every second",
            )?,
            relay_confirm_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "rollcall_relay_publish_confirm_seconds",
                    "Time from publishing a batch to the broker's confirm of all of it",
                )
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
                ]),
            )?,
            projector_apply_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "rollcall_projector_apply_seconds",
                    "Time to fold one batch of events into the read tables and commit it",
                )
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ]),
            )?,
            projector_redeliveries: IntCounter::new(
                "rollcall_projector_redeliveries_total",
                "Messages RabbitMQ delivered again (after a connection or consumer was lost before the ack)",
            )?,
            relay_active: IntGauge::new(
                "rollcall_relay_active",
                "1 while this process's relay holds the relay lock and publishes, 0 while it is a standby",
            )?,
            bus_connected: IntGaugeVec::new(
                Opts::new(
                    "rollcall_bus_connected",
                    "1 while the component holds a RabbitMQ connection, 0 otherwise",
                ),
                &["component"],
            )?,
        };
        registry.register(Box::new(metrics.relay_backlog.clone()))?;
        registry.register(Box::new(metrics.relay_confirm_seconds.clone()))?;
        registry.register(Box::new(metrics.projector_apply_seconds.clone()))?;
        registry.register(Box::new(metrics.projector_redeliveries.clone()))?;
        registry.register(Box::new(metrics.bus_connected.clone()))?;
        registry.register(Box::new(metrics.relay_active.clone()))?;
        registry.register(Box::new(metrics.relay_position.clone()))?;
        registry.register(Box::new(metrics.relay_published.clone()))?;
        registry.register(Box::new(metrics.relay_read.clone()))?;
        registry.register(Box::new(metrics.projector_position.clone()))?;
        registry.register(Box::new(metrics.projector_lag.clone()))?;
        registry.register(Box::new(metrics.projector_holes_filled.clone()))?;
        registry.register(Box::new(metrics.projector_lag_seconds.clone()))?;
        registry.register(Box::new(metrics.projector_quarantined.clone()))?;
        registry.register(Box::new(metrics.projector_split_batches.clone()))?;
        registry.register(Box::new(metrics.projector_quarantined_orgs.clone()))?;
        registry.register(Box::new(metrics.projector_log_follows.clone()))?;
        registry.register(Box::new(metrics.projector_delivered.clone()))?;
        registry.register(Box::new(metrics.reconnects.clone()))?;
        // Present from the start, so that dashboards and alerts see a zero.
        for component in ["relay", "projector"] {
            metrics.reconnects.with_label_values(&[component]);
            metrics.bus_connected.with_label_values(&[component]).set(0);
        }
        Ok(metrics)
    }

    /// Records whether `component` (`relay`, `projector`) is connected.
    pub fn set_connected(&self, component: &str, connected: bool) {
        self.bus_connected
            .with_label_values(&[component])
            .set(i64::from(connected));
    }

    /// The relay's connection gauge, which its readiness check reads.
    pub fn relay_connected(&self) -> IntGauge {
        self.bus_connected.with_label_values(&["relay"])
    }
}
