//! Frame sizes and reply deadlines that follow the device's measured compute time per sample.
//!
//! A queue-samples frame of k samples gets its reply only after the device has run all k, so the
//! host allows `k × per-sample bound` on top of the reply timeout. The bound comes from the replies
//! themselves. A stream on a device the host has not timed yet starts with one sample per frame,
//! so that the first frames cannot outlast a deadline built on a guess. Each reply that arrives in
//! time doubles k, up to the samples the maximum payload allows.

use std::time::Duration;

/// Weight of a new measurement in the smoothed compute time per sample: 1/8, as TCP's
/// retransmission timer (RFC 6298) weights a new round-trip time.
const MEAN_GAIN: f64 = 1.0 / 8.0;

/// Weight of a new deviation in the smoothed mean deviation: 1/4, as in RFC 6298.
const DEVIATION_GAIN: f64 = 1.0 / 4.0;

/// Factor on the smoothed compute time per sample in the bound, so that a device that becomes up
/// to twice as slow, such as a simulated board on a busy machine, still replies in time.
const MEAN_FACTOR: f64 = 2.0;

/// Mean deviations added to the bound, as RFC 6298 adds four to the smoothed round-trip time.
const DEVIATION_FACTOR: f64 = 4.0;

/// Smoothed compute time per sample of one kind of sample.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct SampleTimer {
    /// Smoothed compute time per sample in seconds, or `None` before the first measurement.
    mean: Option<f64>,
    /// Smoothed mean deviation of the measurements from `mean`, in seconds.
    deviation: f64,
}

impl SampleTimer {
    /// Adds the measurement of one reply: `work` spent on `samples` samples.
    ///
    /// NOTE: each frame counts once, so a stall measured on a one-sample frame of slow start
    /// sets the bound of the full frames after it for dozens of replies, and a device that dies
    /// then gets minutes to hours before the host gives up. Weighting frames by their samples
    /// fails, because a reply read late makes the next frame's measurement too low.
    pub(crate) fn observe(&mut self, work: Duration, samples: usize) {
        let per_sample = work.as_secs_f64() / samples.max(1) as f64;
        match self.mean {
            None => {
                self.mean = Some(per_sample);
                self.deviation = per_sample / 2.0;
            }
            Some(mean) => {
                self.deviation += DEVIATION_GAIN * ((mean - per_sample).abs() - self.deviation);
                self.mean = Some(mean + MEAN_GAIN * (per_sample - mean));
            }
        }
    }

    /// Returns the time `samples` samples may take on the device: zero before the first
    /// measurement, then `samples × (2 × mean + 4 × mean deviation)`.
    pub(crate) fn allowance(&self, samples: usize) -> Duration {
        let Some(mean) = self.mean else {
            return Duration::ZERO;
        };
        let per_sample = MEAN_FACTOR * mean + DEVIATION_FACTOR * self.deviation;
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

        // 10 samples in 100 ms: 10 ms each, deviation 5 ms, bound 2 × 10 + 4 × 5 = 40 ms.
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
        for _ in 0..60 {
            timer.observe(Duration::from_millis(2000), 200);
        }
        // Steady 10 ms per sample: the bound approaches 2 × 10 ms as the deviation decays.
        let bound = timer.allowance(1).as_secs_f64();
        assert!(bound > 0.020, "{bound}");
        assert!(bound < 0.0205, "{bound}");
    }

    #[test]
    fn sample_timer_slower_measurement_raises_bound() {
        let mut timer = SampleTimer::default();
        for _ in 0..20 {
            timer.observe(Duration::from_millis(10), 1);
        }
        let before = timer.allowance(1);
        timer.observe(Duration::from_millis(30), 1);
        let after = timer.allowance(1);
        // Mean 10 + 20 / 8 = 12.5 ms, deviation 20 / 4 = 5 ms (plus a decayed rest): at least
        // 2 × 12.5 + 4 × 5 = 45 ms.
        assert!(before < Duration::from_millis(21), "{before:?}");
        assert!(after >= Duration::from_millis(45), "{after:?}");
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
