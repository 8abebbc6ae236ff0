//! The raw-socket sender: whole IP packets (we write the IP header) handed to the kernel in
//! batches with `sendmmsg`, one syscall per batch rather than per packet. The socket is
//! `IPPROTO_RAW`, which never receives, so replies cost it nothing (XDP takes them anyway).
use crate::wire::TcpSegment;
use std::io;
use std::mem::{size_of, zeroed};
use std::net::IpAddr;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};

/// Packets per `sendmmsg` call.
pub const BATCH: usize = 64;
/// Largest packet we build: IPv6 (40) + TCP with MSS (24).
const SLOT: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("cannot open a raw socket (needs root or CAP_NET_RAW): {source}")]
    Socket { source: io::Error },
    #[error("sendmmsg failed: {source}")]
    Send { source: io::Error },
    #[error("cannot build packet: {source}")]
    Wire { source: crate::wire::WireError },
}

/// A batch of packets being filled, then sent in one go.
pub struct RawSender {
    v4: Option<OwnedFd>,
    v6: Option<OwnedFd>,
    bufs: Box<[[u8; SLOT]; BATCH]>,
    lens: [usize; BATCH],
    dsts: [IpAddr; BATCH],
    n: usize,
    /// Packets handed to the kernel.
    pub sent: u64,
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
    let size: libc::c_int = 4 << 20;
    // SAFETY: setsockopt with a valid int option value; failure is harmless (default size).
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&size as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    if family == libc::AF_INET6 {
        let one: libc::c_int = 1;
        // IPV6_HDRINCL (36): we write the IPv6 header ourselves, as for IPv4.
        // SAFETY: as above.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::IPPROTO_IPV6,
                36,
                (&one as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(SendError::Socket {
                source: io::Error::last_os_error(),
            });
        }
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
            bufs: Box::new([[0u8; SLOT]; BATCH]),
            lens: [0; BATCH],
            dsts: [IpAddr::from([0u8; 4]); BATCH],
            n: 0,
            sent: 0,
        })
    }

    pub fn is_full(&self) -> bool {
        self.n == BATCH
    }

    pub fn pending(&self) -> usize {
        self.n
    }

    /// Add one packet to the batch; flushes first if the batch is full.
    pub fn push(&mut self, seg: &TcpSegment) -> Result<(), SendError> {
        if self.is_full() {
            self.flush()?;
        }
        let len = seg
            .emit(&mut self.bufs[self.n])
            .map_err(|source| SendError::Wire { source })?;
        self.lens[self.n] = len;
        self.dsts[self.n] = seg.dst;
        self.n += 1;
        Ok(())
    }

    /// Send everything batched, retrying on a full socket buffer; nothing is dropped.
    pub fn flush(&mut self) -> Result<(), SendError> {
        let mut start = 0;
        while start < self.n {
            // Runs of the same family go in one sendmmsg.
            let v6 = self.dsts[start].is_ipv6();
            let mut end = start;
            while end < self.n && self.dsts[end].is_ipv6() == v6 {
                end += 1;
            }
            let sent = self.send_run(start, end, v6)?;
            start += sent;
        }
        self.n = 0;
        Ok(())
    }

    fn send_run(&mut self, start: usize, end: usize, v6: bool) -> Result<usize, SendError> {
        let fd = match if v6 { &self.v6 } else { &self.v4 } {
            Some(fd) => fd.as_raw_fd(),
            None => {
                return Err(SendError::Send {
                    source: io::Error::new(io::ErrorKind::Unsupported, "no socket for family"),
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
            let addr_len = match self.dsts[k] {
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
            iovs[i].iov_base = self.bufs[k].as_mut_ptr().cast();
            iovs[i].iov_len = self.lens[k];
            msgs[i].msg_hdr.msg_name = (&mut addrs[i] as *mut libc::sockaddr_in6).cast();
            msgs[i].msg_hdr.msg_namelen = addr_len as libc::socklen_t;
            msgs[i].msg_hdr.msg_iov = &mut iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        let mut done = 0usize;
        while done < count {
            // SAFETY: msgs[done..count] point at live buffers, addresses and iovecs above.
            let rc = unsafe {
                libc::sendmmsg(fd, msgs.as_mut_ptr().add(done), (count - done) as u32, 0)
            };
            if rc < 0 {
                let err = io::Error::last_os_error();
                match err.raw_os_error() {
                    // Socket buffer or device queue full: wait a little, send the rest.
                    Some(libc::ENOBUFS | libc::EAGAIN | libc::EINTR) => {
                        std::thread::sleep(std::time::Duration::from_micros(50));
                        continue;
                    }
                    _ => return Err(SendError::Send { source: err }),
                }
            }
            done += rc as usize;
            self.sent += rc as u64;
        }
        Ok(count)
    }
}
