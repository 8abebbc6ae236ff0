//! Round-trip time estimation and the retransmission timeout derived from it, the way TCP
//! (RFC 6298) and nmap do it: smoothed RTT plus four times its variation, within bounds.
use std::time::Duration;

/// Bounds and starting point of the timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RttBounds {
    /// Timeout before any sample has been measured.
    pub initial: Duration,
    pub min: Duration,
    pub max: Duration,
}

impl RttBounds {
    /// Bounds with `max` as ceiling (and as the initial timeout, capped at 1 s like nmap's).
    pub fn with_max(max: Duration) -> Self {
        Self::with_floor(Duration::from_millis(100), max)
    }

    /// Bounds with `min` as floor (at most `max`), `max` as ceiling, and the 1 s initial
    /// timeout within them.
    pub fn with_floor(min: Duration, max: Duration) -> Self {
        let min = min.min(max);
        RttBounds {
            initial: Duration::from_secs(1).min(max).max(min),
            min,
            max,
        }
    }
}

/// srtt / rttvar estimator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RttEstimator {
    srtt: Option<f64>,
    rttvar: f64,
    bounds: RttBounds,
    samples: u64,
    /// [`timeout`](Self::timeout), worked out once per sample: the SYN scheduler asks for it
    /// about once per probe, far more often than samples arrive in a scan that is mostly
    /// unanswered, and the float-to-Duration conversion is not free.
    timeout: Duration,
}

impl RttEstimator {
    pub fn new(bounds: RttBounds) -> Self {
        RttEstimator {
            srtt: None,
            rttvar: 0.0,
            bounds,
            samples: 0,
            timeout: bounds.initial,
        }
    }

    /// Feed one measured round trip.
    pub fn sample(&mut self, rtt: Duration) {
        let r = rtt.as_secs_f64();
        self.samples += 1;
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2.0;
            }
            Some(srtt) => {
                self.rttvar = 0.75 * self.rttvar + 0.25 * (srtt - r).abs();
                self.srtt = Some(0.875 * srtt + 0.125 * r);
            }
        }
        if let Some(srtt) = self.srtt {
            self.timeout = Duration::from_secs_f64(srtt + 4.0 * self.rttvar)
                .clamp(self.bounds.min, self.bounds.max);
        }
    }

    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// The smoothed RTT, once there is a sample.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt.map(Duration::from_secs_f64)
    }

    /// How long to wait for an answer before retrying: srtt + 4·rttvar within the bounds
    /// (the initial timeout before any sample).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// One target's srtt and rttvar where a scan keeps one per target (tens of thousands): 16
/// bytes of whole nanoseconds, made with the first sample, the bounds kept once by the owner.
/// The rules of [`RttEstimator`] (RFC 6298: α = 1/8, β = 1/4) in integers. The SYN scheduler
/// looks one up per probe and per answer in a random order of targets; with `RttEstimator`'s
/// 96 bytes (bounds and a cached timeout in each) those lookups were its costliest cache
/// misses (docs/benchmark.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetRtt {
    srtt_ns: u64,
    rttvar_ns: u64,
}

impl TargetRtt {
    /// The estimate after its first sample.
    pub fn first(rtt_ns: u64) -> Self {
        TargetRtt {
            srtt_ns: rtt_ns,
            rttvar_ns: rtt_ns / 2,
        }
    }

    /// Feed one more measured round trip.
    pub fn sample(&mut self, rtt_ns: u64) {
        let (srtt, var, r) = (
            u128::from(self.srtt_ns),
            u128::from(self.rttvar_ns),
            u128::from(rtt_ns),
        );
        // Each result is at most the largest of its inputs: it fits back in 64 bits.
        self.rttvar_ns = ((3 * var + srtt.abs_diff(r)) / 4) as u64;
        self.srtt_ns = ((7 * srtt + r) / 8) as u64;
    }

    /// srtt + 4·rttvar within `[min_ns, max_ns]`.
    pub fn timeout_ns(&self, min_ns: u64, max_ns: u64) -> u64 {
        self.srtt_ns
            .saturating_add(self.rttvar_ns.saturating_mul(4))
            .clamp(min_ns, max_ns.max(min_ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The integer estimate stays within a few nanoseconds of the float one over a long run
    /// of varied samples (RTTs of 20 µs to 2 s), and keeps to the bounds.
    #[test]
    fn target_rtt_follows_the_float_estimator() {
        let bounds = RttBounds::with_floor(ms(10), ms(3000));
        let mut float = RttEstimator::new(bounds);
        let mut int: Option<TargetRtt> = None;
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for i in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Mostly near 30 ms, now and then far off, in bursts of a very fast or slow path.
            let rtt_ns = match i % 1000 {
                0..=99 => 20_000 + x % 1_000,
                900..=909 => 1_000_000_000 + x % 1_000_000_000,
                _ => 30_000_000 + x % 5_000_000,
            };
            float.sample(Duration::from_nanos(rtt_ns));
            match &mut int {
                None => int = Some(TargetRtt::first(rtt_ns)),
                Some(e) => e.sample(rtt_ns),
            }
            let got = int
                .unwrap()
                .timeout_ns(ms(10).as_nanos() as u64, ms(3000).as_nanos() as u64);
            let want = float.timeout().as_nanos() as u64;
            assert!(got.abs_diff(want) <= 64, "sample {i}: {got} vs {want}");
        }
        let mut e = TargetRtt::first(u64::MAX);
        e.sample(0);
        e.sample(u64::MAX);
        assert_eq!(e.timeout_ns(5, 10), 10, "no overflow, within the ceiling");
        assert_eq!(TargetRtt::first(1).timeout_ns(5, 10), 5, "the floor");
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn initial_timeout_before_samples() {
        let e = RttEstimator::new(RttBounds {
            initial: ms(1000),
            min: ms(100),
            max: ms(3000),
        });
        assert_eq!(e.timeout(), ms(1000));
        assert_eq!(e.srtt(), None);
    }

    #[test]
    fn converges_to_steady_rtt_and_respects_floor() {
        let mut e = RttEstimator::new(RttBounds {
            initial: ms(1000),
            min: ms(100),
            max: ms(3000),
        });
        for _ in 0..100 {
            e.sample(ms(200));
        }
        let t = e.timeout();
        assert!(t >= ms(200) && t < ms(210), "timeout {t:?}");
        let mut fast = RttEstimator::new(RttBounds {
            initial: ms(1000),
            min: ms(100),
            max: ms(3000),
        });
        fast.sample(Duration::from_micros(50));
        assert_eq!(fast.timeout(), ms(100), "floor applies");
    }

    #[test]
    fn variance_widens_timeout_and_ceiling_applies() {
        let mut e = RttEstimator::new(RttBounds {
            initial: ms(1000),
            min: ms(100),
            max: ms(3000),
        });
        for i in 0..50 {
            e.sample(if i % 2 == 0 { ms(100) } else { ms(500) });
        }
        assert!(
            e.timeout() > ms(500),
            "jittery link gets a wider timeout: {:?}",
            e.timeout()
        );
        e.sample(ms(60_000));
        assert_eq!(e.timeout(), ms(3000));
    }

    #[test]
    fn with_max_keeps_bounds_ordered() {
        let b = RttBounds::with_max(ms(50));
        assert!(b.min <= b.initial && b.initial <= b.max);
    }
}
