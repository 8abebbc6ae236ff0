//! Token-bucket pacing for the SYN sender: `--rate PPS` packets per second on average, with a
//! burst of at most 10 ms worth of tokens so a stall is not followed by a flood.
//! Time is passed in (nanoseconds of a monotonic clock), which keeps it testable.

#[derive(Clone, Debug)]
pub struct Pacer {
    /// None = unlimited.
    rate: Option<u64>,
    tokens: f64,
    burst: f64,
    last_ns: Option<u64>,
}

impl Pacer {
    pub fn new(rate: Option<u64>) -> Self {
        let burst = rate
            .map(|r| (r as f64 / 100.0).max(1.0))
            .unwrap_or(f64::INFINITY);
        Pacer {
            rate,
            tokens: 0.0,
            burst,
            last_ns: None,
        }
    }

    /// Change the rate from `now_ns` on (the AIMD controller, [`super::aimd`]): tokens earned
    /// at the old rate so far are kept, up to the new burst. From unlimited, the bucket starts
    /// fresh (one token at the next call).
    pub fn set_rate(&mut self, now_ns: u64, rate: u64) {
        if self.rate.is_some() {
            self.refill(now_ns);
        }
        let rate = rate.max(1);
        self.rate = Some(rate);
        self.burst = (rate as f64 / 100.0).max(1.0);
        self.tokens = self.tokens.min(self.burst);
    }

    /// The rate now, None for unlimited.
    pub fn rate(&self) -> Option<u64> {
        self.rate
    }

    fn refill(&mut self, now_ns: u64) {
        let Some(rate) = self.rate else { return };
        let Some(last) = self.last_ns else {
            // A fresh bucket starts with one token so the first probe goes out at once. Only
            // a fresh one: an empty bucket asked again at the same instant gets nothing.
            self.last_ns = Some(now_ns);
            self.tokens = 1.0;
            return;
        };
        let dt = now_ns.saturating_sub(last) as f64 / 1e9;
        self.last_ns = Some(now_ns.max(last));
        self.tokens = (self.tokens + dt * rate as f64).min(self.burst.max(1.0));
    }

    /// How many packets may go now, at most `want`; they are taken from the bucket.
    pub fn take(&mut self, now_ns: u64, want: usize) -> usize {
        if self.rate.is_none() {
            return want;
        }
        self.refill(now_ns);
        let n = (self.tokens.floor() as usize).min(want);
        self.tokens -= n as f64;
        n
    }

    /// The smallest batch worth a wake-up: about 1 ms of tokens (1 to `max`). Sending each
    /// token as it accrues would cost one `sendmmsg` and one sleep per packet at moderate
    /// rates; a millisecond's worth keeps the average rate and the spacing fine.
    pub fn min_batch(&self, max: usize) -> usize {
        match self.rate {
            None => max,
            Some(rate) => ((rate / 1000) as usize).clamp(1, max),
        }
    }

    /// Whether `n` tokens are available now (refilling first, taking none).
    pub fn ready(&mut self, now_ns: u64, n: usize) -> bool {
        if self.rate.is_none() {
            return true;
        }
        self.refill(now_ns);
        self.tokens >= n as f64
    }

    /// Nanoseconds until `n` tokens are available.
    pub fn wait_ns_for(&self, n: usize) -> u64 {
        match self.rate {
            None => 0,
            Some(rate) => {
                let missing = (n as f64 - self.tokens).max(0.0);
                (missing / rate as f64 * 1e9).ceil() as u64
            }
        }
    }

    /// Nanoseconds until the next token.
    pub fn wait_ns(&self) -> u64 {
        match self.rate {
            None => 0,
            Some(rate) => {
                let missing = (1.0 - self.tokens).max(0.0);
                (missing / rate as f64 * 1e9).ceil() as u64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Simulate a sender that asks for up to `batch` packets whenever a token is due.
    fn simulate(rate: u64, secs: u64, batch: usize) -> u64 {
        let mut p = Pacer::new(Some(rate));
        let end = secs * 1_000_000_000;
        let mut now = 0u64;
        let mut sent = 0u64;
        while now < end {
            sent += p.take(now, batch) as u64;
            // Oversleep by 50 µs each time, as a real thread would.
            now += p.wait_ns().max(1) + 50_000;
        }
        sent
    }

    #[test]
    fn rates_are_accurate_within_a_few_percent() {
        for (rate, secs) in [(10u64, 10u64), (1000, 5), (100_000, 2), (1_000_000, 1)] {
            let sent = simulate(rate, secs, 64);
            let expect = rate * secs;
            let err = (sent as f64 - expect as f64).abs() / expect as f64;
            assert!(err < 0.03, "rate {rate}: sent {sent}, expected {expect}");
        }
    }

    #[test]
    fn no_burst_after_a_stall() {
        let mut p = Pacer::new(Some(1000));
        assert_eq!(p.take(0, 64), 1);
        // One second of silence, then at most 10 ms worth (10 packets) at once.
        assert_eq!(p.take(1_000_000_000, 1000), 10);
    }

    #[test]
    fn batches_of_a_millisecond_keep_the_rate() {
        for rate in [10u64, 5_000, 50_000] {
            let mut p = Pacer::new(Some(rate));
            let min = p.min_batch(64);
            let (mut now, mut sent, mut wakes) = (0u64, 0u64, 0u64);
            while now < 2_000_000_000 {
                wakes += 1;
                if p.ready(now, min) {
                    sent += p.take(now, 64) as u64;
                }
                now += p.wait_ns_for(min).max(1) + 50_000;
            }
            let err = (sent as f64 - 2.0 * rate as f64).abs() / (2.0 * rate as f64);
            assert!(err < 0.03, "rate {rate}: sent {sent}");
            // At most about one wake-up per millisecond (plus the ones spent waiting).
            assert!(wakes <= 2 * 2000 + 10, "rate {rate}: {wakes} wake-ups");
        }
    }

    /// The first refill of a fresh bucket granted a token whenever the bucket was empty and
    /// the clock had not moved, so asking again at the same instant minted tokens: harmless
    /// while the only caller read a nanosecond clock between calls, a flood for a caller that
    /// asks twice with the same `now` (the scheduler's `poll_transmit` then `poll_timeout`).
    #[test]
    fn asking_again_at_the_same_instant_grants_no_token() {
        let mut p = Pacer::new(Some(1000));
        assert_eq!(p.take(5, 64), 1, "a fresh bucket sends one at once");
        assert!(!p.ready(5, 1));
        assert_eq!(p.take(5, 64), 0);
        assert_eq!(p.wait_ns_for(1), 1_000_000);
        assert_eq!(p.take(5 + 1_000_000, 64), 1);
    }

    #[test]
    fn a_new_rate_applies_from_the_moment_it_is_set() {
        let mut p = Pacer::new(Some(1000));
        assert_eq!(p.take(0, 64), 1);
        // 5 ms at 1000/s earned 5 tokens; from then on 100,000/s.
        p.set_rate(5_000_000, 100_000);
        assert_eq!(p.rate(), Some(100_000));
        assert_eq!(p.take(5_000_000, 64), 5);
        assert_eq!(p.take(6_000_000, 1000), 100);
        // Down again: the burst shrinks with the rate (10 ms worth).
        p.set_rate(106_000_000, 1000);
        assert_eq!(p.take(106_000_000, 1000), 10);
        // From unlimited: a fresh bucket.
        let mut u = Pacer::new(None);
        u.set_rate(7, 1000);
        assert_eq!(u.take(7, 64), 1);
        assert_eq!(u.take(7, 64), 0);
    }

    #[test]
    fn unlimited_gives_what_is_asked() {
        let mut p = Pacer::new(None);
        assert_eq!(p.take(0, 64), 64);
        assert_eq!(p.wait_ns(), 0);
    }
}
