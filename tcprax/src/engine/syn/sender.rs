//! The senders: [`Sender`] hands each packet to the AF_PACKET sender ([`frames`]) when
//! [`nexthop`](super::nexthop) gave its target a link header, else to the raw IP socket.
//!
//! The raw-socket sender: whole IP packets (we write the IP header) handed to the kernel in
//! batches with `sendmmsg`, one syscall per batch rather than per packet. The socket is
//! `IPPROTO_RAW`, which never receives, so replies cost it nothing (XDP takes them anyway).
//!
//! A packet the kernel refuses is an outcome, not the end of the scan. `sendmmsg` stops at the
//! first message that fails (returning how many went before it, or -1 and the errno when it
//! is the first): the sender records that message's tag and errno as a [`Refused`], skips it
//! and sends the rest. Errors that belong to the destination (EACCES for a broadcast address,
//! EPERM from a local firewall, unreachable routes...) are refusals; a full queue is waited
//! out; anything else means the socket itself is broken and ends the scan ([`SendError`]).
use super::nexthop::FramePaths;
use crate::wire::TcpSegment;
use std::io;
use std::mem::{size_of, zeroed};
use std::net::IpAddr;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd, RawFd};

mod frames;
mod outbox;
use frames::FrameSender;
pub use outbox::{Outbox, Refusal};

/// Packets per `sendmmsg` call.
pub const BATCH: usize = 64;
/// Largest packet we build: IPv6 (40) + TCP with MSS (24).
const SLOT: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("cannot open a raw socket (needs root or CAP_NET_RAW): {source}")]
    Socket { source: io::Error },
    #[error("cannot open an AF_PACKET socket (needs root or CAP_NET_RAW): {source}")]
    PacketSocket { source: io::Error },
    #[error("--send-path direct: the kernel refused PACKET_QDISC_BYPASS: {source}")]
    QdiscBypass { source: io::Error },
    #[error("sendmmsg failed: {source}")]
    Send { source: io::Error },
    #[error("cannot start a sender thread (--send-threads): {source}")]
    Thread { source: io::Error },
    #[error("a sender thread stopped before the scan ended")]
    ThreadGone,
    #[error("no raw socket for {family} was opened, yet a packet to {dst} was queued")]
    NoSocket { family: &'static str, dst: IpAddr },
    #[error("cannot build packet: {source}")]
    Wire { source: crate::wire::WireError },
}

/// A packet the kernel would not send: the caller's tag for it, and the errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused {
    pub tag: usize,
    pub errno: i32,
}

/// What one message's errno means for the scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// The socket buffer or device queue is full, or a signal came: wait, send it again.
    Busy,
    /// The kernel will not send to this destination: a verdict for the probe.
    Destination,
    /// The socket itself is broken: the scan cannot go on.
    Sender,
}

/// Classify the errno of a failed message to `dst`.
fn fault(errno: i32, dst: IpAddr) -> Fault {
    match errno {
        libc::ENOBUFS | libc::EAGAIN | libc::EINTR => Fault::Busy,
        // Broadcast (EACCES), a firewall (EPERM), routes that refuse or went away, a device
        // that is down or gone, a path MTU below our 64 bytes.
        libc::EACCES
        | libc::EPERM
        | libc::ENETUNREACH
        | libc::EHOSTUNREACH
        | libc::ENETDOWN
        | libc::EHOSTDOWN
        | libc::EADDRNOTAVAIL
        | libc::ENXIO
        | libc::ENODEV
        | libc::EMSGSIZE => Fault::Destination,
        // A blackhole route answers EINVAL, but so does a socket handed a bad message: it is
        // the destination's only if the routing table refuses that destination too.
        libc::EINVAL if super::route::refusal(dst) == Some(libc::EINVAL) => Fault::Destination,
        _ => Fault::Sender,
    }
}

/// Every probe's way out: frames for the targets [`FramePaths`] covers, the raw IP socket for
/// the others. The same interface as each sender: push with a tag, flush, take the refused.
pub struct Sender {
    raw: RawSender,
    frames: Option<(FrameSender, FramePaths)>,
}

impl Sender {
    /// The raw sockets for the families used, and the AF_PACKET socket if `paths` sends any
    /// target as frames, bypassing the qdisc if `direct` (`--send-path direct`). Needs
    /// CAP_NET_RAW.
    pub fn new(v4: bool, v6: bool, paths: FramePaths, direct: bool) -> Result<Sender, SendError> {
        let frames = if paths.is_empty() {
            None
        } else {
            Some((FrameSender::new(direct)?, paths))
        };
        Ok(Sender {
            raw: RawSender::new(v4, v6)?,
            frames,
        })
    }

    pub fn push(&mut self, seg: &TcpSegment, tag: usize) -> Result<(), SendError> {
        if let Some((frames, paths)) = &mut self.frames
            && let Some(link) = paths.lookup(seg.dst)
        {
            return frames.push(seg, link, tag);
        }
        self.raw.push(seg, tag)
    }

    pub fn flush(&mut self) -> Result<(), SendError> {
        self.raw.flush()?;
        if let Some((frames, _)) = &mut self.frames {
            frames.flush()?;
        }
        Ok(())
    }

    /// The packets refused since the last call (raw socket first, then frames).
    pub fn take_refused(&mut self) -> impl Iterator<Item = Refused> + '_ {
        let frames = self.frames.as_mut().map(|(f, _)| f.take_refused());
        self.raw.take_refused().chain(frames.into_iter().flatten())
    }

    /// Times either waited for a full socket or device queue.
    pub fn waits(&self) -> u64 {
        self.raw.batch.waits + self.frames.as_ref().map_or(0, |(f, _)| f.batch.waits)
    }

    /// Packets handed to the kernel, by both.
    pub fn sent(&self) -> u64 {
        self.raw.batch.sent + self.frames.as_ref().map_or(0, |(f, _)| f.batch.sent)
    }
}

/// `sendmmsg` every message of `msgs` on `fd`: a full queue is waited out, a message the kernel
/// refuses for its destination (`dsts[i]`) is recorded with its tag (`tags[i]`) in `refused` and
/// skipped, anything else ends the scan. Returns how many were sent; each wait for a full
/// queue adds one to `waits` (a signal for the rate controller). Both senders use it.
fn send_all(
    fd: RawFd,
    msgs: &mut [libc::mmsghdr],
    dsts: &[IpAddr],
    tags: &[usize],
    refused: &mut Vec<Refused>,
    waits: &mut u64,
) -> Result<u64, SendError> {
    let count = msgs.len();
    let mut done = 0usize;
    let mut sent = 0u64;
    while done < count {
        // SAFETY: msgs[done..count] point at live buffers, addresses and iovecs the caller owns.
        let rc =
            unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr().add(done), (count - done) as u32, 0) };
        if rc < 0 {
            // The message at `done` failed (those before it, if any, went in an earlier call
            // that returned their count).
            let err = io::Error::last_os_error();
            let errno = err.raw_os_error().unwrap_or(0);
            match fault(errno, dsts[done]) {
                Fault::Busy => {
                    *waits += 1;
                    std::thread::sleep(std::time::Duration::from_micros(50))
                }
                Fault::Destination => {
                    refused.push(Refused {
                        tag: tags[done],
                        errno,
                    });
                    done += 1;
                }
                Fault::Sender => return Err(SendError::Send { source: err }),
            }
            continue;
        }
        done += rc as usize;
        sent += rc as u64;
    }
    Ok(sent)
}

/// Up to [`BATCH`] packets of at most `N` bytes being filled, then sent in one `sendmmsg`
/// ([`send`](Self::send)), with what came of the sends: both senders keep one.
pub(super) struct Batch<const N: usize> {
    pub(super) bufs: Box<[[u8; N]; BATCH]>,
    pub(super) lens: [usize; BATCH],
    pub(super) dsts: [IpAddr; BATCH],
    tags: [usize; BATCH],
    pub(super) n: usize,
    /// Packets the kernel refused since the last [`take_refused`](Self::take_refused).
    refused: Vec<Refused>,
    /// Packets handed to the kernel.
    pub(super) sent: u64,
    /// Times a send waited for a full queue.
    pub(super) waits: u64,
}

impl<const N: usize> Batch<N> {
    pub(super) fn new() -> Self {
        Batch {
            bufs: Box::new([[0u8; N]; BATCH]),
            lens: [0; BATCH],
            dsts: [IpAddr::from([0u8; 4]); BATCH],
            tags: [0; BATCH],
            n: 0,
            refused: Vec::new(),
            sent: 0,
            waits: 0,
        }
    }

    pub(super) fn is_full(&self) -> bool {
        self.n == BATCH
    }

    /// Add one packet to `dst` that `build` writes into the next buffer (returning its
    /// length), with the caller's tag. The caller flushes a full batch first.
    pub(super) fn push(
        &mut self,
        dst: IpAddr,
        tag: usize,
        build: impl FnOnce(&mut [u8; N]) -> Result<usize, SendError>,
    ) -> Result<(), SendError> {
        debug_assert!(!self.is_full());
        self.lens[self.n] = build(&mut self.bufs[self.n])?;
        self.dsts[self.n] = dst;
        self.tags[self.n] = tag;
        self.n += 1;
        Ok(())
    }

    /// [`send_all`] the messages `msgs`, built for the packets `start..` of the batch.
    pub(super) fn send(
        &mut self,
        fd: RawFd,
        msgs: &mut [libc::mmsghdr],
        start: usize,
    ) -> Result<(), SendError> {
        let end = start + msgs.len();
        self.sent += send_all(
            fd,
            msgs,
            &self.dsts[start..end],
            &self.tags[start..end],
            &mut self.refused,
            &mut self.waits,
        )?;
        Ok(())
    }

    /// The packets refused since the last call, in the order they were pushed.
    pub(super) fn take_refused(&mut self) -> std::vec::Drain<'_, Refused> {
        self.refused.drain(..)
    }
}

/// The raw IP sockets (one per family used), and a batch of packets for them.
pub struct RawSender {
    v4: Option<OwnedFd>,
    v6: Option<OwnedFd>,
    batch: Batch<SLOT>,
}

/// 4 MiB of send buffer, so a batch rarely waits on a full socket; failure is harmless (the
/// default size, and `send_all` waits a full buffer out).
pub(super) fn enlarge_send_buffer(fd: &OwnedFd) {
    let _ = set_int_option(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, 4 << 20);
}

/// `setsockopt` of an `int` option.
pub(super) fn set_int_option(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: setsockopt with a valid int option value on a live descriptor.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn raw_socket(family: libc::c_int) -> Result<OwnedFd, SendError> {
    // SAFETY: plain socket(2) call; the fd is owned below.
    let fd = unsafe {
        libc::socket(
            family,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_RAW,
        )
    };
    if fd < 0 {
        return Err(SendError::Socket {
            source: io::Error::last_os_error(),
        });
    }
    // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    enlarge_send_buffer(&fd);
    if family == libc::AF_INET6 {
        // IPV6_HDRINCL (36): we write the IPv6 header ourselves, as for IPv4.
        set_int_option(&fd, libc::IPPROTO_IPV6, 36, 1)
            .map_err(|source| SendError::Socket { source })?;
    }
    Ok(fd)
}

impl RawSender {
    /// Open raw sockets for the families that will be used.
    pub fn new(v4: bool, v6: bool) -> Result<RawSender, SendError> {
        Ok(RawSender {
            v4: if v4 {
                Some(raw_socket(libc::AF_INET)?)
            } else {
                None
            },
            v6: if v6 {
                Some(raw_socket(libc::AF_INET6)?)
            } else {
                None
            },
            batch: Batch::new(),
        })
    }

    /// Add one packet to the batch, with a tag of the caller's choosing that comes back in a
    /// [`Refused`] if the kernel will not send it; flushes first if the batch is full.
    pub fn push(&mut self, seg: &TcpSegment, tag: usize) -> Result<(), SendError> {
        if self.batch.is_full() {
            self.flush()?;
        }
        self.batch.push(seg.dst, tag, |buf| {
            seg.emit(buf).map_err(|source| SendError::Wire { source })
        })
    }

    /// The packets refused since the last call, in the order they were pushed.
    pub fn take_refused(&mut self) -> std::vec::Drain<'_, Refused> {
        self.batch.take_refused()
    }

    /// Send everything batched, retrying on a full socket buffer; a packet the kernel refuses
    /// is recorded (see [`take_refused`](Self::take_refused)) and the rest still go.
    pub fn flush(&mut self) -> Result<(), SendError> {
        let mut start = 0;
        while start < self.batch.n {
            // Runs of the same family go in one sendmmsg.
            let dsts = &self.batch.dsts[..self.batch.n];
            let v6 = dsts[start].is_ipv6();
            let end = start
                + dsts[start..]
                    .iter()
                    .take_while(|d| d.is_ipv6() == v6)
                    .count();
            self.send_run(start, end, v6)?;
            start = end;
        }
        self.batch.n = 0;
        Ok(())
    }

    fn send_run(&mut self, start: usize, end: usize, v6: bool) -> Result<(), SendError> {
        let b = &mut self.batch;
        let fd = match if v6 { &self.v6 } else { &self.v4 } {
            Some(fd) => fd.as_raw_fd(),
            None => {
                return Err(SendError::NoSocket {
                    family: if v6 { "IPv6" } else { "IPv4" },
                    dst: b.dsts[start],
                });
            }
        };
        let count = end - start;
        // SAFETY: zeroed sockaddr/iovec/mmsghdr are valid initial values.
        let mut addrs: [libc::sockaddr_in6; BATCH] = unsafe { zeroed() };
        let mut iovs: [libc::iovec; BATCH] = unsafe { zeroed() };
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        for i in 0..count {
            let k = start + i;
            let addr_len = match b.dsts[k] {
                IpAddr::V4(a) => {
                    let sin =
                        (&mut addrs[i] as *mut libc::sockaddr_in6).cast::<libc::sockaddr_in>();
                    // SAFETY: sockaddr_in6 is larger than sockaddr_in and suitably aligned.
                    unsafe {
                        (*sin).sin_family = libc::AF_INET as libc::sa_family_t;
                        (*sin).sin_addr.s_addr = u32::from_ne_bytes(a.octets());
                    }
                    size_of::<libc::sockaddr_in>()
                }
                IpAddr::V6(a) => {
                    addrs[i].sin6_family = libc::AF_INET6 as libc::sa_family_t;
                    addrs[i].sin6_addr.s6_addr = a.octets();
                    size_of::<libc::sockaddr_in6>()
                }
            };
            iovs[i].iov_base = b.bufs[k].as_mut_ptr().cast();
            iovs[i].iov_len = b.lens[k];
            msgs[i].msg_hdr.msg_name = (&mut addrs[i] as *mut libc::sockaddr_in6).cast();
            msgs[i].msg_hdr.msg_namelen = addr_len as libc::socklen_t;
            msgs[i].msg_hdr.msg_iov = &mut iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        b.send(fd, &mut msgs[..count], start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs CAP_NET_RAW (root); skipped with a message otherwise. On loopback, so nothing
    /// leaves the machine: a broadcast address in the middle of a batch is refused (EACCES)
    /// and reported with its tag, and the packets around it are still sent.
    #[test]
    fn a_refused_packet_mid_batch_is_reported_and_skipped() {
        let mut sender = match RawSender::new(true, false) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("SKIP: {e}");
                return;
            }
        };
        let lo = IpAddr::from([127, 0, 0, 1]);
        // 127.255.255.255: lo's broadcast address; the kernel will not send there unless
        // the socket has SO_BROADCAST.
        let bcast = IpAddr::from([127, 255, 255, 255]);
        for (tag, dst) in [lo, lo, bcast, lo, bcast].into_iter().enumerate() {
            let seg = TcpSegment::syn(lo, dst, 61000, 9, 1);
            sender.push(&seg, tag).unwrap();
        }
        sender.flush().unwrap();
        let refused: Vec<Refused> = sender.take_refused().collect();
        assert_eq!(
            refused,
            [
                Refused {
                    tag: 2,
                    errno: libc::EACCES
                },
                Refused {
                    tag: 4,
                    errno: libc::EACCES
                }
            ]
        );
        assert_eq!(sender.batch.sent, 3);
        assert_eq!(sender.take_refused().count(), 0, "taken once");
    }

    #[test]
    fn errnos_are_classified() {
        let dst = IpAddr::from([127, 0, 0, 1]);
        assert_eq!(fault(libc::ENOBUFS, dst), Fault::Busy);
        assert_eq!(fault(libc::EACCES, dst), Fault::Destination);
        assert_eq!(fault(libc::EPERM, dst), Fault::Destination);
        assert_eq!(fault(libc::EHOSTUNREACH, dst), Fault::Destination);
        assert_eq!(fault(libc::EBADF, dst), Fault::Sender);
        assert_eq!(fault(libc::ENOTSOCK, dst), Fault::Sender);
        // Loopback is routable: an EINVAL for it is the socket's fault, not the route's.
        assert_eq!(fault(libc::EINVAL, dst), Fault::Sender);
    }
}
