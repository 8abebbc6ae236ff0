//! The rate of a SYN scan without `--rate`: an AIMD controller that finds how fast the path
//! delivers without loss, sans IO like the scheduler (time and counts come in as values).
//!
//! Loss of a SYN is silent: the sender sees no error when a veth without a queue, a switch or
//! a rate limiter drops it. What the scan can see is its answers. The permutation visits
//! targets × ports in a random order, so the share of first attempts answered in any stretch of
//! the scan is an estimate of the same number, the share for the whole scan: when a window
//! gets markedly fewer answers than the windows before it, after allowing for the answers still
//! on the way (one RTT) and for chance (binomial spread), probes were lost. Retries do not count
//! (most of them go to silent ports and would read as loss); a scan whose targets mostly stay
//! silent just has fewer answers per window, and a window waits for enough of them.
//!
//! Signals, per window of about eight RTTs (10 to 500 ms, longer while answers are few):
//! - answers to first attempts against first attempts sent one RTT earlier: loss when
//!   significantly lower than the clean windows' share;
//! - ring-buffer overflows of the XDP program (answers dropped on our side): loss;
//! - sends that waited for a full queue, and a full verdict backlog: the path or the
//!   pipeline is at its limit without loss: no increase;
//! - SYNs sent against the rate: a sender that cannot keep up is not held back by the rate,
//!   so the rate does not grow past twice what is achieved.
//!
//! The rate starts at [`INITIAL_RATE`] and doubles every clean window (slow start) until the
//! first loss; after it, a loss cuts the rate to at most 0.7× (less when most probes were
//! lost: to 0.9× what got through), and clean windows add a step of 1/16 of the rate at the
//! last cut. It never drops below the floor, and never rises above a ceiling when given.
//! After a cut, the answers to probes sent before it are not judged again.
use std::collections::VecDeque;

/// Where the rate starts: a LAN or a veth takes it without loss; doubling every window of
/// 10 ms reaches 300k probes/s in about 50 ms.
pub const INITIAL_RATE: u64 = 10_000;

/// Lowest rate a loss can push it to.
pub const FLOOR: u64 = 1_000;

/// Shortest and longest window: long enough for a few batches and RTTs, short enough to
/// react within a small part of a second.
const MIN_WINDOW_NS: u64 = 10_000_000;
const MAX_WINDOW_NS: u64 = 500_000_000;

/// A window is eight smoothed RTTs: answers that come a little earlier or later than the
/// smoothed RTT then move only a small part of a window's count across its edge.
const WINDOW_RTTS: u64 = 8;

/// Answers (expected or seen) a window needs before it is judged; fewer, and it grows, up to
/// [`MAX_STRETCH`] times its length.
const MIN_EVIDENCE: f64 = 30.0;
const MAX_STRETCH: u64 = 16;

/// A window reads as loss when its answers fall short of the expected by more than this
/// share plus four binomial standard deviations: RTT jitter moves a few answers across the
/// edges of a window, chance moves the rest.
const SLACK: f64 = 0.03;
const Z: f64 = 4.0;

/// Multiplicative decrease, and the share of what got through to go back to.
const BETA: f64 = 0.7;
const DELIVERED: f64 = 0.9;

/// Each clean additive step is this much larger than the last (back to 1/16 of the rate at a
/// cut): near the last cut the rate creeps, far below it (after a passing loss) it regains
/// speed within a few dozen windows instead of hundreds.
const STEP_GROWTH: f64 = 1.25;

/// The baseline share needs this many first attempts of clean windows before it judges.
const MIN_BASELINE_SENT: f64 = 200.0;

/// Spacing of the send history kept for the RTT lag (at most [`HISTORY`] points).
const HISTORY_STEP_NS: u64 = 1_000_000;
const HISTORY: usize = 4096;

/// The limits of the controller: where it starts, its floor and an optional ceiling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AimdConfig {
    pub initial: u64,
    pub floor: u64,
    pub ceiling: Option<u64>,
}

impl Default for AimdConfig {
    fn default() -> Self {
        AimdConfig {
            initial: INITIAL_RATE,
            floor: FLOOR,
            ceiling: None,
        }
    }
}

impl AimdConfig {
    /// Under a ceiling (`--max-rate`): start and floor no higher than it.
    pub fn with_ceiling(ceiling: u64) -> AimdConfig {
        let ceiling = ceiling.max(1);
        AimdConfig {
            initial: INITIAL_RATE.min(ceiling),
            floor: FLOOR.min(ceiling),
            ceiling: Some(ceiling),
        }
    }
}

/// What the scan has done so far: running totals, read by the shell every round.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Signals {
    /// SYNs sent, retries included.
    pub syns_sent: u64,
    /// First attempts sent.
    pub first_sent: u64,
    /// Replies to first attempts (SYN-ACK, RST or ICMP unreachable).
    pub first_answered: u64,
    /// Replies the XDP program could not hand over (ring buffer full).
    pub ringbuf_full: u64,
    /// Times a send waited for a full socket or device queue.
    pub queue_waits: u64,
    /// Fresh probes wait for the verdict backlog right now.
    pub backlogged: bool,
    /// Smoothed RTT, once measured.
    pub srtt_ns: Option<u64>,
}

/// What the controller did at the end of a window (for tests and `-v`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Slow start: doubled.
    Doubled,
    /// Clean, one additive step.
    Increased,
    /// Clean, but at a limit (queue, backlog, sender, ceiling) or just after a cut.
    Held,
    /// A loss signal: cut.
    Decreased,
}

#[derive(Clone, Copy, Debug)]
struct Point {
    at: u64,
    first: u64,
    syns: u64,
}

/// The controller. See the module comment.
#[derive(Clone, Debug)]
pub struct Aimd {
    cfg: AimdConfig,
    rate: f64,
    slow_start: bool,
    /// Added per clean window after the first cut.
    step: f64,
    /// Start of the current window and the totals then; None before the first update.
    window: Option<(u64, Signals)>,
    backlogged: bool,
    /// (time, first attempts sent, SYNs sent), to look up what was sent one RTT ago.
    history: VecDeque<Point>,
    /// Answers and first attempts (lag-corrected) of the clean windows: the scan's share.
    base_answered: f64,
    base_sent: f64,
    /// Answers and first attempts of the run of windows short of the baseline so far.
    suspect: Option<(f64, f64)>,
    /// Windows before this time are not judged: they count answers to probes sent before
    /// the last cut.
    hold_until: u64,
    cuts: u64,
}

impl Aimd {
    pub fn new(cfg: AimdConfig) -> Aimd {
        let floor = cfg.floor.max(1);
        let initial = cfg
            .initial
            .clamp(floor, cfg.ceiling.unwrap_or(u64::MAX).max(floor));
        Aimd {
            cfg: AimdConfig { floor, ..cfg },
            rate: initial as f64,
            slow_start: true,
            step: 0.0,
            window: None,
            backlogged: false,
            history: VecDeque::new(),
            base_answered: 0.0,
            base_sent: 0.0,
            suspect: None,
            hold_until: 0,
            cuts: 0,
        }
    }

    /// The rate to pace at now, probes per second.
    pub fn rate(&self) -> u64 {
        self.rate as u64
    }

    /// How many times a loss cut the rate.
    pub fn cuts(&self) -> u64 {
        self.cuts
    }

    /// Take the totals at `now` (ns, monotonic). Returns the new rate when a window ended
    /// and the rate changed.
    pub fn update(&mut self, now: u64, s: &Signals) -> Option<u64> {
        self.update_verdict(now, s)
            .filter(|v| *v != Verdict::Held)
            .map(|_| self.rate())
    }

    /// [`update`](Self::update), telling what a window's end decided (None: the window goes
    /// on).
    pub fn update_verdict(&mut self, now: u64, s: &Signals) -> Option<Verdict> {
        self.record(now, s);
        self.backlogged |= s.backlogged;
        let Some((start, at_start)) = self.window else {
            self.window = Some((now, *s));
            return None;
        };
        let lag = s.srtt_ns.unwrap_or(0);
        let base = (WINDOW_RTTS * lag).clamp(MIN_WINDOW_NS, MAX_WINDOW_NS);
        let elapsed = now.saturating_sub(start);
        if elapsed < base {
            return None;
        }
        if now < self.hold_until {
            // Answers to probes sent before the cut are still coming: start afresh after.
            self.restart(now, s);
            return Some(Verdict::Held);
        }
        let answered = (s.first_answered - at_start.first_answered) as f64;
        // First attempts whose answers were due in this window: those sent one RTT earlier.
        let (first0, syns0) = self.sent_at(start.saturating_sub(lag));
        let (first1, syns1) = self.sent_at(now.saturating_sub(lag));
        let sent = first1.saturating_sub(first0) as f64;
        let share = self.share();
        let evidence = share.map_or(answered, |p| (p * sent).max(answered));
        let ringbuf = s.ringbuf_full > at_start.ringbuf_full;
        if !ringbuf && evidence < MIN_EVIDENCE && elapsed < base * MAX_STRETCH {
            return None;
        }
        let secs = elapsed as f64 / 1e9;
        // The rate those probes went out at, retries included.
        let sent_rate = syns1.saturating_sub(syns0) as f64 / secs;
        let delivered = self.judge(share, sent, answered);
        let verdict = if ringbuf || delivered.is_some() {
            self.cut(now, lag, sent_rate, delivered.unwrap_or(1.0));
            Verdict::Decreased
        } else {
            if self.suspect.is_none() {
                self.base_answered += answered;
                self.base_sent += sent;
            }
            let achieved = (s.syns_sent - at_start.syns_sent) as f64 / secs;
            let limited = self.backlogged
                || s.queue_waits > at_start.queue_waits
                || achieved < self.rate / 2.0
                || self.cfg.ceiling.is_some_and(|c| self.rate >= c as f64);
            if limited {
                Verdict::Held
            } else if self.slow_start {
                self.rate *= 2.0;
                Verdict::Doubled
            } else {
                self.rate += self.step;
                self.step *= STEP_GROWTH;
                Verdict::Increased
            }
        };
        if let Some(c) = self.cfg.ceiling {
            self.rate = self.rate.min(c as f64);
        }
        self.restart(now, s);
        Some(verdict)
    }

    /// The share of first attempts answered in the clean windows, once there are enough.
    fn share(&self) -> Option<f64> {
        (self.base_sent >= MIN_BASELINE_SENT)
            .then(|| (self.base_answered / self.base_sent).min(1.0))
    }

    /// Whether this window, with the run of short windows before it, is loss: the share of
    /// the run's answers that came (None when not). A window short of the expected answers
    /// by more than the slack starts or extends a suspect run; the run is loss once its
    /// shortfall is beyond [`Z`] standard deviations (binomial, of the run and of the
    /// baseline's estimate), so a small lasting loss is caught over a
    /// few windows, and a large one at once. A window that is not short ends the run, whose
    /// windows then join the baseline (it was chance).
    fn judge(&mut self, share: Option<f64>, sent: f64, answered: f64) -> Option<f64> {
        let p = share.filter(|p| *p > 0.0 && sent > 0.0)?;
        if answered >= p * sent * (1.0 - SLACK) {
            if let Some((a, n)) = self.suspect.take() {
                self.base_answered += a;
                self.base_sent += n;
            }
            return None;
        }
        let (a, n) = self.suspect.get_or_insert((0.0, 0.0));
        *a += answered;
        *n += sent;
        let (a, n) = (*a, *n);
        let expected = p * n;
        let q = p.clamp(0.01, 0.99);
        // Chance in this run, and in the baseline's own estimate of the share.
        let sd = (n * q * (1.0 - q) * (1.0 + n / self.base_sent.max(1.0))).sqrt();
        if a < expected * (1.0 - SLACK) - Z * sd {
            self.suspect = None;
            Some(a / expected)
        } else {
            None
        }
    }

    /// A loss signal in a window whose probes went out at `sent_rate`, of which `delivered`
    /// (a share) got an answer.
    fn cut(&mut self, now: u64, lag: u64, sent_rate: f64, delivered: f64) {
        let from = if sent_rate > 0.0 {
            sent_rate.min(self.rate)
        } else {
            self.rate
        };
        self.rate = (from * BETA.min(DELIVERED * delivered)).max(self.cfg.floor as f64);
        self.step = (self.rate / 16.0).max(self.cfg.floor as f64 / 16.0);
        self.slow_start = false;
        self.cuts += 1;
        // Probes sent until now answer until one RTT from now; give them two, and a window.
        let base = (WINDOW_RTTS * lag).clamp(MIN_WINDOW_NS, MAX_WINDOW_NS);
        self.hold_until = now + 2 * lag + base / 2;
    }

    fn restart(&mut self, now: u64, s: &Signals) {
        self.window = Some((now, *s));
        self.backlogged = s.backlogged;
    }

    /// Keep a point every millisecond or so (the newest is always `now`).
    fn record(&mut self, now: u64, s: &Signals) {
        let point = Point {
            at: now,
            first: s.first_sent,
            syns: s.syns_sent,
        };
        let len = self.history.len();
        if len >= 2 && now.saturating_sub(self.history[len - 2].at) < HISTORY_STEP_NS {
            self.history[len - 1] = point;
        } else {
            self.history.push_back(point);
        }
        if self.history.len() > HISTORY {
            self.history.pop_front();
        }
    }

    /// (first attempts, SYNs) sent by time `at`, interpolated between the points around it
    /// (the oldest point before the history starts).
    fn sent_at(&self, at: u64) -> (u64, u64) {
        let i = self.history.partition_point(|p| p.at <= at);
        let Some(after) = self.history.get(i) else {
            return self.history.back().map_or((0, 0), |p| (p.first, p.syns));
        };
        let Some(before) = i.checked_sub(1).map(|j| self.history[j]) else {
            return (after.first, after.syns);
        };
        let f = (at - before.at) as f64 / (after.at - before.at).max(1) as f64;
        let lerp = |a: u64, b: u64| a + ((b - a) as f64 * f) as u64;
        (
            lerp(before.first, after.first),
            lerp(before.syns, after.syns),
        )
    }
}

#[cfg(test)]
mod tests;
