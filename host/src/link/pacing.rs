//! Frame sizes and reply deadlines that follow the device's measured compute time per sample.
//!
//! A queue-samples frame of k samples gets its reply only after the device has run all k, so the
//! host allows `k × per-sample bound` on top of the reply timeout. The bound comes from the replies
//! themselves. A stream on a device the host has not timed yet starts with one sample per frame,
//! so that the first frames cannot outlast a deadline built on a guess. Each reply that arrives in
//! time doubles k, up to the samples the maximum payload allows.

use std::time::Duration;

/// Number of most recent replies whose measurements form the bound. The median of five
/// ignores a single stall, such as a server stopped for a moment, and a single reply the host
/// read late, which makes the next frame's measurement too low. A device that stays slower moves
/// the median within three replies.
const WINDOW: usize = 5;

/// Measurements below which the deviation is taken as half the median, because a median
/// deviation of one or two values does not measure the spread.
const MIN_SPREAD_MEASUREMENTS: usize = 3;

/// Factor on the median compute time per sample in the bound, so that a device that becomes up
/// to twice as slow, such as a simulated board on a busy machine, still replies in time.
const MEDIAN_FACTOR: f64 = 2.0;

/// Median deviations added to the bound, as RFC 6298 adds four mean deviations to the smoothed
/// round-trip time of TCP's retransmission timer.
const DEVIATION_FACTOR: f64 = 4.0;

/// Recent compute times per sample of one kind of sample.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct SampleTimer {
    /// Compute time per sample of the last `len` replies in seconds, in a ring.
    recent: [f64; WINDOW],
    /// Measurements in `recent`, at most [`WINDOW`].
    len: usize,
    /// Slot of `recent` the next measurement replaces.
    next: usize,
}

/// Returns the upper median of `values`, which must not be empty.
fn upper_median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

impl SampleTimer {
    /// Adds the measurement of one reply: `work` spent on `samples` samples. Each frame counts
    /// once, whatever its samples.
    pub(crate) fn observe(&mut self, work: Duration, samples: usize) {
        self.recent[self.next] = work.as_secs_f64() / samples.max(1) as f64;
        self.next = (self.next + 1) % WINDOW;
        self.len = (self.len + 1).min(WINDOW);
    }

    /// Returns the time `samples` samples may take on the device: zero before the first
    /// measurement, then `samples × (2 × median + 4 × median deviation)` over the last
    /// [`WINDOW`] measurements, with the deviation set to half the median while fewer than
    /// [`MIN_SPREAD_MEASUREMENTS`] are in.
    pub(crate) fn allowance(&self, samples: usize) -> Duration {
        if self.len == 0 {
            return Duration::ZERO;
        }
        let mut values = self.recent;
        let values = &mut values[..self.len];
        let median = upper_median(values);
        let deviation = if self.len < MIN_SPREAD_MEASUREMENTS {
            median / 2.0
        } else {
            let mut deviations: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
            upper_median(&mut deviations)
        };
        let per_sample = MEDIAN_FACTOR * median + DEVIATION_FACTOR * deviation;
        Duration::try_from_secs_f64(per_sample * samples as f64).unwrap_or(Duration::MAX)
    }
}

/// The timer and the current frame size for one kind of sample: with or without the learn flag,
/// because learning adds the nudged phase and the weight updates to every time step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Pace {
    pub(crate) timer: SampleTimer,
    /// Samples in the next queue-samples frame, before the cap of the maximum payload. Starts at
    /// 1 and doubles on each reply that arrives in time.
    frame_samples: usize,
}

impl Default for Pace {
    fn default() -> Pace {
        Pace {
            timer: SampleTimer::default(),
            frame_samples: 1,
        }
    }
}

impl Pace {
    /// Returns the samples of the next frame: the current size, at most `max_samples` and at
    /// least 1.
    pub(crate) fn frame_samples(&self, max_samples: usize) -> usize {
        self.frame_samples.min(max_samples).max(1)
    }

    /// Doubles the frame size after a reply that arrived in time, up to `max_samples`.
    pub(crate) fn grow(&mut self, max_samples: usize) {
        self.frame_samples = (2 * self.frame_samples).min(max_samples.max(1));
    }

    /// Halves the frame size after a reply missed its deadline, because the device may have
    /// become slower than measured.
    pub(crate) fn shrink(&mut self) {
        self.frame_samples = (self.frame_samples / 2).max(1);
    }
}

/// The paces of samples without and with the learn flag.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Pacing {
    evaluate: Pace,
    learn: Pace,
}

impl Pacing {
    pub(crate) fn get(&self, learn: bool) -> &Pace {
        if learn {
            &self.learn
        } else {
            &self.evaluate
        }
    }

    pub(crate) fn get_mut(&mut self, learn: bool) -> &mut Pace {
        if learn {
            &mut self.learn
        } else {
            &mut self.evaluate
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_timer_first_measurement_bound() {
        let mut timer = SampleTimer::default();
        assert_eq!(timer.allowance(100), Duration::ZERO);

        // 10 samples in 100 ms: 10 ms each, deviation taken as 5 ms, bound 2 × 10 + 4 × 5 = 40 ms.
        timer.observe(Duration::from_millis(100), 10);
        let bound = timer.allowance(1).as_secs_f64();
        assert!((bound - 0.040).abs() < 1e-9, "{bound}");
        let ten = timer.allowance(10).as_secs_f64();
        assert!((ten - 0.400).abs() < 1e-9, "{ten}");
    }

    #[test]
    fn sample_timer_converges_to_steady_rate() {
        let mut timer = SampleTimer::default();
        // A first frame of one sample measures mostly fixed latency: 50 ms.
        timer.observe(Duration::from_millis(50), 1);
        for _ in 0..3 {
            timer.observe(Duration::from_millis(2000), 200);
        }
        // Steady 10 ms per sample: three of four measurements agree, so the bound is 2 × 10 ms.
        let bound = timer.allowance(1).as_secs_f64();
        assert!((bound - 0.020).abs() < 1e-9, "{bound}");
    }

    #[test]
    fn sample_timer_ignores_one_stall() {
        let mut timer = SampleTimer::default();
        // Slow start: a one-sample frame stalls 250 ms, then frames run at 2 ms per sample.
        timer.observe(Duration::from_millis(250), 1);
        timer.observe(Duration::from_millis(2), 1);
        timer.observe(Duration::from_millis(4), 2);
        // Median 2 ms, median deviation 0: 4 ms per sample, not a bound built on the stall.
        let bound = timer.allowance(64);
        assert!(bound < Duration::from_millis(64 * 5), "{bound:?}");
        assert!(bound >= Duration::from_millis(64 * 4), "{bound:?}");
    }

    #[test]
    fn sample_timer_follows_a_device_that_stays_slower() {
        let mut timer = SampleTimer::default();
        for _ in 0..WINDOW {
            timer.observe(Duration::from_millis(10), 1);
        }
        let before = timer.allowance(1);
        timer.observe(Duration::from_millis(30), 1);
        timer.observe(Duration::from_millis(30), 1);
        // Two slower replies of five: still the old median.
        assert_eq!(timer.allowance(1), before);
        timer.observe(Duration::from_millis(30), 1);
        // Three of five: median 30 ms, median deviation 0, so 60 ms.
        assert_eq!(before, Duration::from_millis(20));
        let after = timer.allowance(1).as_secs_f64();
        assert!((after - 0.060).abs() < 1e-9, "{after}");
    }

    #[test]
    fn pace_doubles_to_cap_and_halves() {
        let mut pace = Pace::default();
        let mut sizes = vec![pace.frame_samples(20)];
        for _ in 0..6 {
            pace.grow(20);
            sizes.push(pace.frame_samples(20));
        }
        assert_eq!(sizes, vec![1, 2, 4, 8, 16, 20, 20]);
        pace.shrink();
        assert_eq!(pace.frame_samples(20), 10);
        // A smaller cap for the next stream applies at once.
        assert_eq!(pace.frame_samples(6), 6);
        for _ in 0..10 {
            pace.shrink();
        }
        assert_eq!(pace.frame_samples(20), 1);
    }

    #[test]
    fn pacing_keeps_kinds_apart() {
        let mut pacing = Pacing::default();
        pacing
            .get_mut(true)
            .timer
            .observe(Duration::from_millis(5), 1);
        pacing.get_mut(true).grow(8);
        assert!(pacing.get(true).timer.allowance(1) > Duration::ZERO);
        assert_eq!(pacing.get(false).timer.allowance(1), Duration::ZERO);
        assert_eq!(pacing.get(true).frame_samples(8), 2);
        assert_eq!(pacing.get(false).frame_samples(8), 1);
    }
}
