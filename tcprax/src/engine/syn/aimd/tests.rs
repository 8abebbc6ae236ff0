//! The controller against a simulated path: a sender with a top speed, a path that drops
//! what it cannot carry, targets that answer a share of the probes one RTT later.
use super::*;

const MS: u64 = 1_000_000;

/// A path and its targets, stepped one millisecond at a time.
#[derive(Clone)]
struct Path {
    /// Probes per second the path carries; the rest of a millisecond's probes are dropped.
    capacity: f64,
    /// Probes per second the sender can send at most.
    sender: f64,
    /// Share of the probes that reach their target and get an answer.
    share: f64,
    rtt_ms: u64,
    /// Replies wait up to this long (varying) in the ring buffer and the collector.
    delay_ms: u64,
    /// The collector is stalled: answers wait, the shell sends and updates on.
    stalled: bool,
    /// Extra signals injected at given milliseconds.
    ringbuf_full_at: Vec<u64>,
    queue_waits: bool,
    backlogged: bool,
}

impl Path {
    fn new(capacity: f64, sender: f64, share: f64, rtt_ms: u64) -> Path {
        Path {
            capacity,
            sender,
            share,
            rtt_ms,
            delay_ms: 0,
            stalled: false,
            ringbuf_full_at: Vec::new(),
            queue_waits: false,
            backlogged: false,
        }
    }
}

/// What a run did.
struct Run {
    /// (ms, rate) after every update.
    rates: Vec<(u64, u64)>,
    sent: u64,
    lost: u64,
    cuts: u64,
}

impl Run {
    fn rate_at(&self, ms: u64) -> u64 {
        self.rates
            .iter()
            .rev()
            .find(|(t, _)| *t <= ms)
            .map_or(0, |r| r.1)
    }
    /// The first millisecond the rate was at least `r`.
    fn reached(&self, r: u64) -> Option<u64> {
        self.rates.iter().find(|(_, x)| *x >= r).map(|(t, _)| *t)
    }
    fn min_after(&self, ms: u64) -> u64 {
        self.rates
            .iter()
            .filter(|(t, _)| *t >= ms)
            .map(|r| r.1)
            .min()
            .unwrap()
    }
    fn mean_between(&self, a: u64, b: u64) -> f64 {
        let xs: Vec<u64> = self
            .rates
            .iter()
            .filter(|(t, _)| (a..b).contains(t))
            .map(|r| r.1)
            .collect();
        xs.iter().sum::<u64>() as f64 / xs.len() as f64
    }
}

/// A small deterministic generator (xorshift64*): answers come at random, like a real scan's.
struct Rng(u64);
impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn simulate(cfg: AimdConfig, path: &mut dyn FnMut(u64) -> Path, ms: u64) -> Run {
    let mut aimd = Aimd::new(cfg);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut s = Signals::default();
    // (sent at, answers) in send order.
    let mut arriving = VecDeque::<(u64, u64)>::new();
    let mut carry = 0.0f64;
    let mut room = 0.0f64;
    let (mut sent, mut lost) = (0u64, 0u64);
    let mut rates = Vec::new();
    for t in 0..ms {
        let p = path(t);
        // Answers to what left one RTT ago, and a delay of up to `p.delay_ms` before the
        // shell reads them.
        let late = p.rtt_ms
            + if p.delay_ms > 0 {
                t % (p.delay_ms + 1)
            } else {
                0
            };
        while let Some(&(sent, n)) = arriving.front().filter(|_| !p.stalled) {
            if sent + late > t {
                break;
            }
            arriving.pop_front();
            for _ in 0..n {
                aimd.answered(sent * MS, t * MS);
            }
        }
        carry += (aimd.rate() as f64).min(p.sender) / 1000.0;
        let n = carry.floor();
        carry -= n;
        // The path carries its capacity, a millisecond's worth (and a fraction) at a time.
        room = (room + p.capacity / 1000.0).min(1.0 + p.capacity / 1000.0);
        let carried = n.min(room.floor());
        room -= carried;
        lost += (n - carried) as u64;
        sent += n as u64;
        let mut answers = 0;
        for _ in 0..carried as u64 {
            if rng.unit() < p.share {
                answers += 1;
            }
        }
        arriving.push_back((t, answers));
        s.first_sent += n as u64;
        s.syns_sent += n as u64;
        s.ringbuf_full += u64::from(p.ringbuf_full_at.contains(&t));
        s.queue_waits += u64::from(p.queue_waits);
        s.backlogged = p.backlogged;
        s.srtt_ns = (t > p.rtt_ms).then_some(p.rtt_ms.max(1) * MS);
        aimd.update(t * MS, &s);
        rates.push((t, aimd.rate()));
    }
    Run {
        rates,
        sent,
        lost,
        cuts: aimd.cuts(),
    }
}

fn fixed(p: Path) -> impl FnMut(u64) -> Path {
    move |_| p.clone()
}

#[test]
fn a_clean_path_reaches_full_speed_within_a_small_part_of_a_slash_16() {
    let run = simulate(
        AimdConfig::default(),
        &mut fixed(Path::new(f64::INFINITY, 400_000.0, 0.8, 1)),
        2000,
    );
    assert_eq!(run.cuts, 0, "nothing was lost");
    let at = run.reached(400_000).expect("reaches the sender's speed");
    assert!(at <= 100, "400k/s after {at} ms");
    // What went out before full speed: under 5 % of a /16 × 5 ports.
    let before: u64 = run
        .rates
        .iter()
        .take(at as usize)
        .map(|r| r.1.min(400_000) / 1000)
        .sum();
    assert!(before < 327_680 / 20, "{before} probes during the ramp");
    // The sender is the limit: the rate does not run away above it.
    assert!(run.rate_at(1999) <= 4 * 400_000, "{}", run.rate_at(1999));
    assert!(run.min_after(at) >= 400_000);
}

#[test]
fn loss_makes_it_back_off_and_it_recovers_when_the_path_clears() {
    // 100k/s until 3 s, then 250k/s.
    let mut path = |t: u64| Path::new(if t < 3000 { 100_000.0 } else { 250_000.0 }, 1e6, 0.99, 1);
    let run = simulate(AimdConfig::default(), &mut path, 6000);
    assert!(run.cuts >= 1);
    // Below the path's limit most of the time: the mean of the 2nd second within 60-105 %.
    let mean = run.mean_between(1000, 3000);
    assert!((60_000.0..=105_000.0).contains(&mean), "mean rate {mean}");
    assert!(
        run.lost * 20 < run.sent,
        "lost {} of {}",
        run.lost,
        run.sent
    );
    // Sawtooth, not collapse: never near the floor.
    assert!(run.min_after(500) >= 40_000, "{}", run.min_after(500));
    // After the path clears, back up above 150k within 2 s.
    let mean = run.mean_between(5000, 6000);
    assert!(mean >= 150_000.0, "after the path cleared: {mean}");
}

#[test]
fn loss_in_every_window_stops_at_the_floor_and_recovers_from_it() {
    // The XDP ring buffer overflows every millisecond from 100 ms to 2 s.
    let mut path = |t: u64| {
        let mut p = Path::new(f64::INFINITY, 1e6, 0.9, 1);
        if (100..2000).contains(&t) {
            p.ringbuf_full_at = vec![t];
        }
        p
    };
    let run = simulate(AimdConfig::default(), &mut path, 3000);
    assert!(run.cuts >= 5);
    assert!(run.min_after(0) >= FLOOR, "{}", run.min_after(0));
    assert_eq!(run.rate_at(1999), FLOOR);
    // Clean again: additive steps from the floor, not stuck there.
    assert!(run.rate_at(2999) >= 10 * FLOOR, "{}", run.rate_at(2999));
}

#[test]
fn a_silent_majority_is_not_loss() {
    for share in [0.0, 0.005, 0.05, 0.3] {
        let run = simulate(
            AimdConfig::default(),
            &mut fixed(Path::new(f64::INFINITY, 300_000.0, share, 2)),
            3000,
        );
        assert_eq!(run.cuts, 0, "share {share}");
        assert!(
            run.rate_at(2999) >= 300_000,
            "share {share}: {}",
            run.rate_at(2999)
        );
    }
}

#[test]
fn a_long_rtt_is_not_loss() {
    // 80 ms RTT: answers trail the probes by more than a window's worth at first.
    let run = simulate(
        AimdConfig::default(),
        &mut fixed(Path::new(f64::INFINITY, 200_000.0, 0.9, 80)),
        5000,
    );
    assert_eq!(run.cuts, 0);
    assert!(run.rate_at(4999) >= 200_000, "{}", run.rate_at(4999));
}

#[test]
fn a_long_rtt_path_with_a_limit_backs_off_too() {
    let run = simulate(
        AimdConfig::default(),
        &mut fixed(Path::new(50_000.0, 1e6, 0.9, 40)),
        8000,
    );
    assert!(run.cuts >= 1);
    let mean = run.mean_between(4000, 8000);
    assert!((25_000.0..=55_000.0).contains(&mean), "mean rate {mean}");
    assert!(run.min_after(1000) >= 5 * FLOOR, "{}", run.min_after(1000));
}

#[test]
fn ring_buffer_overflows_cut_the_rate() {
    let mut path = |t: u64| {
        let mut p = Path::new(f64::INFINITY, 200_000.0, 0.5, 1);
        p.ringbuf_full_at = vec![1000];
        let _ = t;
        p
    };
    let run = simulate(AimdConfig::default(), &mut path, 1100);
    assert_eq!(run.cuts, 1);
    assert!(run.rate_at(1005) <= 140_000, "{}", run.rate_at(1005));
}

#[test]
fn a_full_queue_or_backlog_holds_the_rate() {
    for which in 0..2 {
        let mut path = |t: u64| {
            let mut p = Path::new(f64::INFINITY, 1e7, 0.5, 1);
            if t >= 30 {
                p.queue_waits = which == 0;
                p.backlogged = which == 1;
            }
            p
        };
        let run = simulate(AimdConfig::default(), &mut path, 1000);
        assert_eq!(run.cuts, 0);
        assert_eq!(run.rate_at(60), run.rate_at(999), "held from 30 ms on");
    }
}

#[test]
fn the_ceiling_is_never_exceeded() {
    let cfg = AimdConfig::with_ceiling(50_000);
    let run = simulate(cfg, &mut fixed(Path::new(f64::INFINITY, 1e6, 0.9, 1)), 1000);
    assert!(run.rates.iter().all(|r| r.1 <= 50_000));
    assert_eq!(run.rate_at(999), 50_000);
    let low = AimdConfig::with_ceiling(100);
    assert_eq!(Aimd::new(low).rate(), 100);
}

#[test]
fn a_slow_receive_path_is_not_loss() {
    // The shell reads replies up to 8 ms after they came (a loaded machine), varying.
    let mut p = Path::new(f64::INFINITY, 300_000.0, 0.98, 1);
    p.delay_ms = 8;
    let run = simulate(AimdConfig::default(), &mut fixed(p), 2000);
    assert_eq!(run.cuts, 0);
    assert!(run.rate_at(1999) >= 300_000, "{}", run.rate_at(1999));
}

#[test]
fn a_stalled_collector_is_not_loss() {
    // Twice, the collector does not run for 250 ms (a busy machine) while the shell sends.
    let mut path = |t: u64| {
        let mut p = Path::new(f64::INFINITY, 200_000.0, 0.98, 1);
        p.stalled = (1000..1250).contains(&t) || (2000..2250).contains(&t);
        p
    };
    let run = simulate(AimdConfig::default(), &mut path, 3000);
    assert_eq!(run.cuts, 0);
    assert!(run.rate_at(2999) >= 200_000, "{}", run.rate_at(2999));
}

#[test]
fn a_scan_nobody_answers_ramps_as_fast_as_a_clean_one() {
    // Regression: windows waited (up to 16 times their length) for answers that never come,
    // so a sink took over a second to reach full speed. Now: the first 100 probes (50 ms at
    // the start rate, time for a first answer to come back from afar), then a doubling per
    // window.
    let run = simulate(
        AimdConfig::default(),
        &mut fixed(Path::new(f64::INFINITY, 500_000.0, 0.0, 1)),
        1000,
    );
    assert_eq!(run.cuts, 0);
    let at = run.reached(500_000).expect("reaches the sender's speed");
    assert!(at <= 150, "500k/s after {at} ms");
}
