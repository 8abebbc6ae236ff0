//! The rate of a SYN scan without `--rate`: an AIMD controller that finds how fast the path
//! delivers without loss, sans IO like the scheduler (time and counts come in as values).
//!
//! Loss of a SYN is silent: the sender sees no error when a veth without a queue, a switch or
//! a rate limiter drops it. What the scan can see is its answers. The permutation visits
//! targets × ports in a random order, so the share of first attempts answered in any stretch of
//! the scan is an estimate of the same number, the share for the whole scan: when the probes
//! sent in one window get markedly fewer answers than the windows before (beyond chance: a
//! binomial spread), probes were lost. Answers are counted against the window their probe was
//! *sent* in (the scheduler knows each probe's send time), and a window is judged only once its
//! answers had time to arrive (twice the oldest answer age seen lately: RTT plus the time the
//! reply spent in the ring buffer and the collector) and an answer to a later probe came in
//! (a stalled collector delivers late, not never), so neither the RTT nor a busy receive path
//! reads as loss. Retries do not count (most of them go to silent ports and would read as
//! loss); a scan whose targets mostly stay silent just has fewer answers per window, and a
//! window grows until it has enough of them.
//!
//! Signals, per window of about eight RTTs (10 to 500 ms, 5 ms at least in slow start; longer
//! while answers are few, unless nothing answers at all):
//! - answers to the window's first attempts against the clean windows' share: loss when
//!   significantly lower, in one window or summed over a run of short ones;
//! - ring-buffer overflows of the XDP program (answers dropped on our side): loss;
//! - sends that waited for a full queue, and a full verdict backlog: the path or the
//!   pipeline is at its limit without loss: no increase;
//! - SYNs sent against the rate: a sender that cannot keep up is not held back by the rate,
//!   so the rate does not grow past twice what is achieved.
//!
//! The rate starts at [`INITIAL_RATE`] and doubles every clean window (slow start) until the
//! first loss; after it, a loss cuts the rate to at most 0.7× (less when most probes were
//! lost: to 0.9× what got through), and clean windows add a step of 1/16 of the rate at the
//! last cut, growing by a quarter each time. It never drops below the floor, and never rises
//! above a ceiling when given. After a cut, only probes sent after it are judged.
//!
//! A path that loses from the very first probes at [`INITIAL_RATE`] looks like targets that
//! answer less: the share is learned from what comes back. Doubling then makes the loss
//! grow, which is caught; a path slower than the start rate is better scanned with
//! `--max-rate` or `--rate`.
use std::collections::VecDeque;

/// Where the rate starts: low enough that the first windows, which teach the controller the
/// scan's share of answers, are clean even on a busy machine or a slow uplink; doubling every
/// window (10-15 ms at these rates) reaches 250k probes/s in about 100 ms.
pub const INITIAL_RATE: u64 = 2_000;

/// Lowest rate a loss can push it to.
pub const FLOOR: u64 = 1_000;

/// Shortest and longest window: long enough for a few batches and RTTs, short enough to
/// react within a small part of a second.
const MIN_WINDOW_NS: u64 = 10_000_000;
/// In slow start, while nothing was lost yet: the ramp is a few windows, and short ones put
/// a clean path at full speed sooner.
const MIN_WINDOW_SLOW_START_NS: u64 = 5_000_000;
const MAX_WINDOW_NS: u64 = 500_000_000;

/// A window is eight smoothed RTTs.
const WINDOW_RTTS: u64 = 8;

/// Answers (expected or seen) a window needs before it is judged; fewer, and it grows, up to
/// [`MAX_STRETCH`] times its length.
const MIN_EVIDENCE: f64 = 30.0;
const MAX_STRETCH: u64 = 16;

/// A window (or a run of them) reads as loss when its answers fall short of the expected by
/// more than this share plus four standard deviations.
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

/// Before the share is known, a window this many probes long without a single answer (50 ms
/// at the start rate: time for answers from afar) is a silent scan.
const MIN_SILENT_SENT: f64 = 100.0;

/// Sends and answers are kept per millisecond of send time, for at most [`BUCKETS`] of them.
const BUCKET_NS: u64 = 1_000_000;
const BUCKETS: usize = 8192;

/// How long a window waits for its answers, before any came in.
const FIRST_SETTLE_NS: u64 = 10_000_000;

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

/// What the scan has done so far: running totals, read by the shell every round (answers
/// come one by one through [`Aimd::answered`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Signals {
    /// SYNs sent, retries included.
    pub syns_sent: u64,
    /// First attempts sent.
    pub first_sent: u64,
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
    /// Clean, but at a limit (queue, backlog, sender, ceiling).
    Held,
    /// A loss signal: cut.
    Decreased,
}

/// First attempts sent in one millisecond, and how many of them were answered so far.
#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    sent: u64,
    answered: u64,
}

/// The controller. See the module comment.
#[derive(Clone, Debug)]
pub struct Aimd {
    cfg: AimdConfig,
    rate: f64,
    slow_start: bool,
    /// Added per clean window after the first cut.
    step: f64,
    /// Per millisecond of send time, from `first_bucket` on: the current window's sends
    /// and those after it.
    buckets: VecDeque<Bucket>,
    first_bucket: u64,
    /// The totals at the last update (None before the first) and at the last judgement.
    last: Option<Signals>,
    judged: Option<(u64, Signals)>,
    backlogged: bool,
    /// Oldest answer seen since the last judgement, and the estimate a window waits for.
    age_now: u64,
    age: Option<u64>,
    /// Send time of the latest probe answered: the receive path has delivered up to about
    /// there.
    newest: u64,
    /// Answers and first attempts of the clean windows: the scan's share.
    base_answered: f64,
    base_sent: f64,
    /// Answers and first attempts of the run of windows short of the baseline so far.
    suspect: Option<(f64, f64)>,
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
            buckets: VecDeque::new(),
            first_bucket: 0,
            last: None,
            judged: None,
            backlogged: false,
            age_now: 0,
            age: None,
            newest: 0,
            base_answered: 0.0,
            base_sent: 0.0,
            suspect: None,
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

    /// A first attempt sent at `sent_ns` was answered; the shell learnt of it at `now`.
    pub fn answered(&mut self, sent_ns: u64, now: u64) {
        self.age_now = self.age_now.max(now.saturating_sub(sent_ns));
        self.newest = self.newest.max(sent_ns);
        if let Some(b) = self.bucket(sent_ns) {
            b.answered += 1;
        }
    }

    /// The bucket of send time `t`, None when it is before the current window (already
    /// judged, or sent before a cut) or too far ahead.
    fn bucket(&mut self, t: u64) -> Option<&mut Bucket> {
        let i = (t / BUCKET_NS).checked_sub(self.first_bucket)? as usize;
        if i >= BUCKETS {
            return None;
        }
        if i >= self.buckets.len() {
            self.buckets.resize(i + 1, Bucket::default());
        }
        self.buckets.get_mut(i)
    }

    /// Take the totals at `now` (ns, monotonic). Returns the new rate when a window ended
    /// and the rate changed.
    pub fn update(&mut self, now: u64, s: &Signals) -> Option<u64> {
        let before = self.rate();
        self.update_verdict(now, s)?;
        (self.rate() != before).then(|| self.rate())
    }

    /// [`update`](Self::update), telling what a window's end decided (None: the window goes
    /// on).
    pub fn update_verdict(&mut self, now: u64, s: &Signals) -> Option<Verdict> {
        let Some(last) = self.last.replace(*s) else {
            // The first update opens the first window.
            self.first_bucket = now / BUCKET_NS;
            self.judged = Some((now, *s));
            return None;
        };
        // What went out since the last update went out now (the shell sends, then updates).
        let fresh = s.first_sent.saturating_sub(last.first_sent);
        if fresh > 0 {
            match self.bucket(now) {
                Some(b) => b.sent += fresh,
                None => self.restart(now),
            }
        }
        self.backlogged |= s.backlogged;
        let (judged_at, at_judged) = self.judged?;
        let lag = s.srtt_ns.unwrap_or(0);
        let min = if self.slow_start {
            MIN_WINDOW_SLOW_START_NS
        } else {
            MIN_WINDOW_NS
        };
        let base = (WINDOW_RTTS * lag).clamp(min, MAX_WINDOW_NS);
        // The window's sends end where answers to them have had time to come in.
        let settle = self.age.map_or(FIRST_SETTLE_NS, |a| 2 * a + BUCKET_NS);
        let ringbuf = s.ringbuf_full > at_judged.ringbuf_full;
        let start = self.first_bucket * BUCKET_NS;
        // And, when answers are expected, where the receive path has caught up: after a
        // stall of the collector (a busy machine), answers to the window may still sit in the
        // ring buffer; a later probe's answer shows they have come through.
        let share = self.share();
        let caught_up = match share {
            Some(p) if p > 0.0 => self.newest,
            _ => u64::MAX,
        };
        let end = now.saturating_sub(settle).min(caught_up) / BUCKET_NS * BUCKET_NS;
        let span = end.saturating_sub(start);
        if !ringbuf && span < base {
            return None;
        }
        let n = ((span / BUCKET_NS) as usize).min(self.buckets.len());
        let (sent, answered) = self.buckets.iter().take(n).fold((0.0, 0.0), |(s, a), b| {
            (s + b.sent as f64, a + b.answered as f64)
        });
        let evidence = share.map_or(answered, |p| (p * sent).max(answered));
        // Nothing has answered at all (a sink, a dark range): waiting for answers would only
        // slow the ramp, and there is no loss to see.
        let silent = answered == 0.0 && share.map_or(sent >= MIN_SILENT_SENT, |p| p == 0.0);
        if !ringbuf && !silent && evidence < MIN_EVIDENCE && span < base * MAX_STRETCH {
            return None;
        }
        let secs = now.saturating_sub(judged_at).max(1) as f64 / 1e9;
        let achieved = s.syns_sent.saturating_sub(at_judged.syns_sent) as f64 / secs;
        let delivered = if ringbuf {
            Some(1.0)
        } else {
            self.judge(share, sent, answered)
        };
        let verdict = if let Some(delivered) = delivered {
            self.cut(achieved, delivered);
            self.restart(now);
            Verdict::Decreased
        } else {
            if self.suspect.is_none() {
                self.base_answered += answered;
                self.base_sent += sent;
            }
            self.buckets.drain(..n);
            self.first_bucket += n as u64;
            let limited = self.backlogged
                || s.queue_waits > at_judged.queue_waits
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
        self.judged = Some((now, *s));
        self.backlogged = s.backlogged;
        if self.age_now > 0 {
            self.age = Some(self.age_now);
        }
        self.age_now = 0;
        Some(verdict)
    }

    /// Forget every send before `now`: after a cut, or when sends outran the buckets.
    fn restart(&mut self, now: u64) {
        self.buckets.clear();
        self.first_bucket = now / BUCKET_NS + 1;
        self.suspect = None;
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

    /// A loss signal, in windows sent at about `achieved`, of which `delivered` (a share) got
    /// an answer.
    fn cut(&mut self, achieved: f64, delivered: f64) {
        let from = if achieved > 0.0 {
            achieved.min(self.rate)
        } else {
            self.rate
        };
        self.rate = (from * BETA.min(DELIVERED * delivered)).max(self.cfg.floor as f64);
        self.step = (self.rate / 16.0).max(self.cfg.floor as f64 / 16.0);
        self.slow_start = false;
        self.cuts += 1;
    }
}

#[cfg(test)]
mod tests;
