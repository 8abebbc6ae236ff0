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

#[cfg(test)]
mod tests {
    use super::*;

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
