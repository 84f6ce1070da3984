//! The time the appender stamps on events: the system's, or, for tests that
//! script a history over months, the system's moved forward on demand.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;

/// The system clock, plus an offset that only moves forward (so events keep
/// the order of their positions in time).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_micros: Arc<AtomicI64>,
}

impl Clock {
    /// The system's clock, unmoved.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// Now, as this clock tells it.
    pub fn now(&self) -> OffsetDateTime {
        let offset = self.offset_micros.load(Ordering::Relaxed);
        OffsetDateTime::now_utc() + time::Duration::microseconds(offset)
    }

    /// Moves this clock (and every copy of it) forward by `by`.
    pub fn advance(&self, by: time::Duration) {
        let micros = i64::try_from(by.whole_microseconds()).unwrap_or(i64::MAX);
        self.offset_micros
            .fetch_add(micros.max(0), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advanced_clock_moves_every_copy_forward() {
        let clock = Clock::system();
        let copy = clock.clone();
        clock.advance(time::Duration::days(30));
        let moved = copy.now() - OffsetDateTime::now_utc();
        assert!(moved >= time::Duration::days(30) - time::Duration::seconds(1));
        assert!(moved <= time::Duration::days(30) + time::Duration::seconds(1));
    }
}
