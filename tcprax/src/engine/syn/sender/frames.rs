//! The AF_PACKET sender: whole Ethernet frames (link header from [`super::super::nexthop`],
//! then the IP packet `wire` builds) handed to the interface's queue in batches with
//! `sendmmsg`. No routing, no neighbour lookup, no netfilter hook on the way: the frame is
//! complete when it is pushed. One socket serves every interface (each message names its
//! interface index); it is opened with protocol 0, so it never receives anything.
//!
//! Errors are handled as the raw socket's are ([`super::send_all`]): a refused frame is
//! recorded with its tag, a full queue waited out, anything else ends the scan.
use super::{BATCH, Refused, SLOT, SendError, enlarge_send_buffer, send_all};
use crate::engine::syn::nexthop::LinkHeader;
use crate::wire::TcpSegment;
use std::io;
use std::mem::{size_of, zeroed};
use std::net::IpAddr;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};

const ETH_HLEN: usize = 14;
const FRAME: usize = ETH_HLEN + SLOT;

pub struct FrameSender {
    fd: OwnedFd,
    bufs: Box<[[u8; FRAME]; BATCH]>,
    lens: [usize; BATCH],
    ifindex: [u32; BATCH],
    dsts: [IpAddr; BATCH],
    tags: [usize; BATCH],
    n: usize,
    refused: Vec<Refused>,
    pub sent: u64,
    pub waits: u64,
}

impl FrameSender {
    /// Open the AF_PACKET socket (needs CAP_NET_RAW, like the raw IP socket).
    pub fn new() -> Result<FrameSender, SendError> {
        // SAFETY: plain socket(2) call; the fd is owned below.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(SendError::PacketSocket {
                source: io::Error::last_os_error(),
            });
        }
        // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        enlarge_send_buffer(&fd);
        Ok(FrameSender {
            fd,
            bufs: Box::new([[0u8; FRAME]; BATCH]),
            lens: [0; BATCH],
            ifindex: [0; BATCH],
            dsts: [IpAddr::from([0u8; 4]); BATCH],
            tags: [0; BATCH],
            n: 0,
            refused: Vec::new(),
            sent: 0,
            waits: 0,
        })
    }

    /// Add one frame: `link`'s header, then `seg`; flushes first if the batch is full.
    pub fn push(
        &mut self,
        seg: &TcpSegment,
        link: &LinkHeader,
        tag: usize,
    ) -> Result<(), SendError> {
        if self.n == BATCH {
            self.flush()?;
        }
        let buf = &mut self.bufs[self.n];
        buf[..ETH_HLEN].copy_from_slice(&link.eth);
        let len = seg
            .emit(&mut buf[ETH_HLEN..])
            .map_err(|source| SendError::Wire { source })?;
        self.lens[self.n] = ETH_HLEN + len;
        self.ifindex[self.n] = link.ifindex;
        self.dsts[self.n] = seg.dst;
        self.tags[self.n] = tag;
        self.n += 1;
        Ok(())
    }

    /// The frames refused since the last call.
    pub fn take_refused(&mut self) -> std::vec::Drain<'_, Refused> {
        self.refused.drain(..)
    }

    /// Send everything batched (see the module comment for errors).
    pub fn flush(&mut self) -> Result<(), SendError> {
        let count = self.n;
        if count == 0 {
            return Ok(());
        }
        // SAFETY: zeroed sockaddr_ll/iovec/mmsghdr are valid initial values.
        let mut addrs: [libc::sockaddr_ll; BATCH] = unsafe { zeroed() };
        let mut iovs: [libc::iovec; BATCH] = unsafe { zeroed() };
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        for i in 0..count {
            addrs[i].sll_family = libc::AF_PACKET as u16;
            addrs[i].sll_ifindex = self.ifindex[i] as i32;
            // The frame carries its own link header; these only say which device and type.
            addrs[i].sll_protocol = 0x0800u16.to_be();
            addrs[i].sll_halen = 6;
            addrs[i].sll_addr[..6].copy_from_slice(&self.bufs[i][..6]);
            iovs[i].iov_base = self.bufs[i].as_mut_ptr().cast();
            iovs[i].iov_len = self.lens[i];
            msgs[i].msg_hdr.msg_name = (&mut addrs[i] as *mut libc::sockaddr_ll).cast();
            msgs[i].msg_hdr.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            msgs[i].msg_hdr.msg_iov = &mut iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        self.sent += send_all(
            self.fd.as_raw_fd(),
            &mut msgs[..count],
            &self.dsts[..count],
            &self.tags[..count],
            &mut self.refused,
            &mut self.waits,
        )?;
        self.n = 0;
        Ok(())
    }
}
