//! Where the scheduler thread's packets go: sent on the spot through its own [`Sender`], or
//! handed in batches to sender threads that each own one (`--send-threads`).
//!
//! The kernel's part of sending a packet (the syscall, an skb, the driver or veth) is most of
//! what the scheduler thread did per probe: with sender threads it runs beside the decisions
//! instead of after them. A batch is a `Vec<Transmit>`: the thread builds and sends each packet
//! and hands the batch back, emptied, with what it sent and what the kernel refused, so the
//! scheduler can still decide a refused probe (`unreachable`, `send-failed`). Two batches per
//! thread circulate; when all are out, the scheduler waits for one to come back, which is the
//! backpressure of a full queue passed on.
use super::{BATCH, SendError, Sender};
use crate::engine::syn::scheduler::Transmit;
use std::sync::mpsc;
use std::thread::JoinHandle;

/// A packet the kernel would not send: the transmit the scheduler asked for, and the errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub transmit: Transmit,
    pub errno: i32,
}

/// Packets per batch handed to a sender thread: two `sendmmsg` calls' worth.
const JOB: usize = 2 * BATCH;
/// Batches queued or in the works per sender thread.
const DEPTH: usize = 2;

/// The scheduler thread's way out. See the module comment.
pub struct Outbox {
    kind: Kind,
    /// Refusals not yet taken by [`take_refused`](Self::take_refused).
    refused: Vec<Refusal>,
    /// SYNs handed to the kernel since [`take_syns_sent`](Self::take_syns_sent).
    syns: u64,
    /// Waits for a full queue, by every sender.
    waits: u64,
}

enum Kind {
    /// The scheduler thread sends; `round` holds what it pushed since the last flush, by tag.
    Inline {
        sender: Box<Sender>,
        round: Vec<Transmit>,
    },
    Threads(Pool),
}

struct Pool {
    /// One queue per thread; dropped (closed) to stop them.
    jobs: Vec<mpsc::SyncSender<Vec<Transmit>>>,
    /// Batches out at each thread.
    out: Vec<usize>,
    done: mpsc::Receiver<Done>,
    threads: Vec<JoinHandle<()>>,
    filling: Vec<Transmit>,
    free: Vec<Vec<Transmit>>,
}

/// A batch back from a sender thread.
struct Done {
    thread: usize,
    batch: Vec<Transmit>,
    syns: u64,
    refused: Vec<Refusal>,
    waits: u64,
    error: Option<SendError>,
}

impl Outbox {
    /// Send through the one sender given, on the caller's thread.
    pub fn inline(sender: Sender) -> Outbox {
        Outbox::with(Kind::Inline {
            sender: Box::new(sender),
            round: Vec::with_capacity(2 * BATCH),
        })
    }

    /// A thread per sender given (at least one), each sending the batches handed to it.
    pub fn threads(senders: Vec<Sender>) -> std::io::Result<Outbox> {
        assert!(!senders.is_empty(), "a sender thread needs a sender");
        let (done_tx, done) = mpsc::channel();
        let mut pool = Pool {
            jobs: Vec::new(),
            out: vec![0; senders.len()],
            done,
            threads: Vec::new(),
            filling: Vec::with_capacity(JOB),
            free: (0..DEPTH * senders.len())
                .map(|_| Vec::with_capacity(JOB))
                .collect(),
        };
        for (i, sender) in senders.into_iter().enumerate() {
            let (tx, rx) = mpsc::sync_channel(DEPTH);
            let done = done_tx.clone();
            let thread = std::thread::Builder::new()
                .name(format!("tcprax-send{i}"))
                .spawn(move || send_batches(i, sender, &rx, &done))?;
            pool.jobs.push(tx);
            pool.threads.push(thread);
        }
        Ok(Outbox::with(Kind::Threads(pool)))
    }

    fn with(kind: Kind) -> Outbox {
        Outbox {
            kind,
            refused: Vec::new(),
            syns: 0,
            waits: 0,
        }
    }

    /// Queue `t` for sending.
    pub fn push(&mut self, t: Transmit) -> Result<(), SendError> {
        match &mut self.kind {
            Kind::Inline { sender, round } => {
                sender.push(&t.segment(), round.len())?;
                round.push(t);
                Ok(())
            }
            Kind::Threads(pool) => {
                pool.filling.push(t);
                if pool.filling.len() < JOB {
                    return Ok(());
                }
                self.dispatch()
            }
        }
    }

    /// Send (inline) or hand over what was pushed, and take in the batches that came back.
    pub fn flush(&mut self) -> Result<(), SendError> {
        match &mut self.kind {
            Kind::Inline { sender, round } => {
                sender.flush()?;
                let mut syns = round.iter().filter(|t| is_syn(t)).count() as u64;
                for r in sender.take_refused() {
                    let transmit = round[r.tag];
                    syns -= u64::from(is_syn(&transmit));
                    self.refused.push(Refusal {
                        transmit,
                        errno: r.errno,
                    });
                }
                self.syns += syns;
                self.waits = sender.waits();
                round.clear();
                Ok(())
            }
            Kind::Threads(pool) => {
                if !pool.filling.is_empty() {
                    self.dispatch()?;
                }
                while let Ok(done) = self.pool().done.try_recv() {
                    self.take_back(done)?;
                }
                Ok(())
            }
        }
    }

    /// [`flush`](Self::flush), then wait until every batch handed over is sent: the end of
    /// the scan (RSTs owed to the last open ports included).
    pub fn finish(&mut self) -> Result<(), SendError> {
        self.flush()?;
        if let Kind::Threads(pool) = &self.kind {
            let mut out: usize = pool.out.iter().sum();
            while out > 0 {
                let Ok(done) = self.pool().done.recv() else {
                    break;
                };
                out -= 1;
                self.take_back(done)?;
            }
        }
        Ok(())
    }

    /// Packets the kernel refused since the last call.
    pub fn take_refused(&mut self) -> std::vec::Drain<'_, Refusal> {
        self.refused.drain(..)
    }

    /// SYNs handed to the kernel since the last call (refused ones not counted).
    pub fn take_syns_sent(&mut self) -> u64 {
        std::mem::take(&mut self.syns)
    }

    /// Times a sender waited for a full socket or device queue, in all.
    pub fn waits(&self) -> u64 {
        self.waits
    }

    fn pool(&mut self) -> &mut Pool {
        match &mut self.kind {
            Kind::Threads(pool) => pool,
            Kind::Inline { .. } => unreachable!("only sender threads hand batches over"),
        }
    }

    /// Hand the filling batch to the thread with the fewest out, waiting for one to come back
    /// when every thread has [`DEPTH`].
    fn dispatch(&mut self) -> Result<(), SendError> {
        loop {
            let pool = self.pool();
            let (thread, &out) = pool
                .out
                .iter()
                .enumerate()
                .min_by_key(|&(_, out)| *out)
                .expect("at least one thread");
            if out < DEPTH
                && let Some(mut next) = pool.free.pop()
            {
                std::mem::swap(&mut next, &mut pool.filling);
                pool.out[thread] += 1;
                if pool.jobs[thread].send(next).is_err() {
                    return Err(SendError::ThreadGone);
                }
                return Ok(());
            }
            let done = pool.done.recv().map_err(|_| SendError::ThreadGone)?;
            self.take_back(done)?;
        }
    }

    fn take_back(&mut self, mut done: Done) -> Result<(), SendError> {
        self.syns += done.syns;
        self.waits += done.waits;
        self.refused.append(&mut done.refused);
        let pool = self.pool();
        pool.out[done.thread] -= 1;
        done.batch.clear();
        pool.free.push(done.batch);
        match done.error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for Pool {
    /// Closing the queues stops the threads, which close their sockets (an RCU grace period
    /// each, side by side); joined here.
    fn drop(&mut self) {
        self.jobs.clear();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn is_syn(t: &Transmit) -> bool {
    matches!(t, Transmit::Syn { .. })
}

/// A sender thread: each batch built and sent, then handed back with its outcome. Ends when
/// its queue closes, or after handing back the batch that broke its sender. A panic is handed
/// back as [`SendError::ThreadGone`] too, so the scheduler ends the scan instead of waiting
/// for batches that would never come back.
fn send_batches(
    thread: usize,
    mut sender: Sender,
    jobs: &mpsc::Receiver<Vec<Transmit>>,
    done: &mpsc::Sender<Done>,
) {
    while let Ok(batch) = jobs.recv() {
        let waits = sender.waits();
        let sent = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            send_batch(&mut sender, &batch)
        }));
        let (syns, refused, error) =
            sent.unwrap_or_else(|_| (0, Vec::new(), Some(SendError::ThreadGone)));
        let broken = error.is_some();
        let back = Done {
            thread,
            batch,
            syns,
            refused,
            waits: sender.waits().saturating_sub(waits),
            error,
        };
        if done.send(back).is_err() || broken {
            return;
        }
    }
}

/// Build and send `batch`: the SYNs handed to the kernel, the refusals, and the error that
/// broke the sender, if one did.
fn send_batch(sender: &mut Sender, batch: &[Transmit]) -> (u64, Vec<Refusal>, Option<SendError>) {
    let error = batch
        .iter()
        .enumerate()
        .try_for_each(|(i, t)| sender.push(&t.segment(), i))
        .and_then(|()| sender.flush())
        .err();
    let mut syns = batch.iter().filter(|t| is_syn(t)).count() as u64;
    let refused = sender
        .take_refused()
        .map(|r| {
            let transmit = batch[r.tag];
            syns -= u64::from(is_syn(&transmit));
            Refusal {
                transmit,
                errno: r.errno,
            }
        })
        .collect();
    (syns, refused, error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::syn::nexthop::FramePaths;
    use std::net::IpAddr;

    /// SYNs to loopback's discard port with lo's broadcast address (refused: EACCES) among
    /// them, and RSTs: every refusal comes back as the transmit it was, the sent SYNs are
    /// counted without the refused ones, and nothing is left out after `finish`. Needs
    /// CAP_NET_RAW (root); skipped with a message otherwise. Nothing leaves the machine.
    fn refusals_come_back_as_transmits(make: impl Fn(Vec<Sender>) -> Outbox, senders: usize) {
        let opened: Result<Vec<Sender>, SendError> = (0..senders)
            .map(|_| Sender::new(true, false, FramePaths::default(), false))
            .collect();
        let mut out = match opened {
            Ok(s) => make(s),
            Err(e) => {
                eprintln!("SKIP: {e}");
                return;
            }
        };
        let lo = IpAddr::from([127, 0, 0, 1]);
        let bcast = IpAddr::from([127, 255, 255, 255]);
        let mut expected = Vec::new();
        let mut syns = 0;
        for i in 0..1_000u32 {
            let dst = if i % 97 == 13 { bcast } else { lo };
            let t = if i % 10 == 9 {
                Transmit::Rst {
                    src: lo,
                    dst,
                    src_port: 61_000,
                    dst_port: 9,
                    seq: i,
                }
            } else {
                Transmit::Syn {
                    src: lo,
                    dst,
                    src_port: 61_000,
                    dst_port: 9,
                    seq: i,
                    attempt: 0,
                }
            };
            if dst == bcast {
                expected.push(Refusal {
                    transmit: t,
                    errno: libc::EACCES,
                });
            } else if is_syn(&t) {
                syns += 1;
            }
            out.push(t).unwrap();
            // Rounds of uneven sizes, as the scheduler's are.
            if i % 77 == 0 {
                out.flush().unwrap();
            }
        }
        out.finish().unwrap();
        let mut refused: Vec<Refusal> = out.take_refused().collect();
        let seq = |r: &Refusal| match r.transmit {
            Transmit::Syn { seq, .. } | Transmit::Rst { seq, .. } => seq,
        };
        refused.sort_by_key(seq);
        assert_eq!(refused, expected);
        assert_eq!(out.take_syns_sent(), syns);
        assert_eq!(out.take_syns_sent(), 0, "taken once");
        assert_eq!(out.take_refused().count(), 0, "taken once");
    }

    #[test]
    fn inline_refusals_come_back_as_transmits() {
        refusals_come_back_as_transmits(|mut s| Outbox::inline(s.pop().expect("one sender")), 1);
    }

    #[test]
    fn threaded_refusals_come_back_as_transmits() {
        refusals_come_back_as_transmits(|s| Outbox::threads(s).unwrap(), 3);
    }
}
