//! The AF_PACKET sender: whole Ethernet frames (link header from [`super::super::nexthop`],
//! then the IP packet `wire` builds) handed to the interface's queue in batches with
//! `sendmmsg`. No routing, no neighbour lookup, no netfilter hook on the way: the frame is
//! complete when it is pushed. With `--send-path direct` not even the qdisc: the socket is set
//! to `PACKET_QDISC_BYPASS`, and each frame goes straight to the driver, unseen by packet taps
//! (tcpdump) on this host. One socket serves every interface (each message names its
//! interface index); it is opened with protocol 0, so it never receives anything.
//!
//! Errors are handled as the raw socket's are ([`super::send_all`]): a refused frame is
//! recorded with its tag, a full queue waited out, anything else ends the scan.
use super::{BATCH, Batch, Refused, SLOT, SendError, enlarge_send_buffer, set_int_option};
use crate::engine::syn::nexthop::LinkHeader;
use crate::wire::TcpSegment;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};

const ETH_HLEN: usize = 14;
const FRAME: usize = ETH_HLEN + SLOT;

pub struct FrameSender {
    fd: OwnedFd,
    pub(super) batch: Batch<FRAME>,
    /// The interface of each frame of the batch.
    ifindex: [u32; BATCH],
}

impl FrameSender {
    /// Open the AF_PACKET socket (needs CAP_NET_RAW, like the raw IP socket); with `direct`,
    /// its frames skip the qdisc and the packet taps and go straight to the driver
    /// (`PACKET_QDISC_BYPASS`; a full device queue is then an ENOBUFS, waited out as usual).
    pub fn new(direct: bool) -> Result<FrameSender, SendError> {
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
        if direct {
            set_int_option(&fd, libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, 1)
                .map_err(|source| SendError::QdiscBypass { source })?;
        }
        Ok(FrameSender {
            fd,
            batch: Batch::new(),
            ifindex: [0; BATCH],
        })
    }

    /// Add one frame: `link`'s header, then `seg`; flushes first if the batch is full.
    pub fn push(
        &mut self,
        seg: &TcpSegment,
        link: &LinkHeader,
        tag: usize,
    ) -> Result<(), SendError> {
        if self.batch.is_full() {
            self.flush()?;
        }
        self.ifindex[self.batch.n] = link.ifindex;
        self.batch.push(seg.dst, tag, |buf| {
            buf[..ETH_HLEN].copy_from_slice(&link.eth);
            let len = seg
                .emit(&mut buf[ETH_HLEN..])
                .map_err(|source| SendError::Wire { source })?;
            Ok(ETH_HLEN + len)
        })
    }

    /// The frames refused since the last call.
    pub fn take_refused(&mut self) -> std::vec::Drain<'_, Refused> {
        self.batch.take_refused()
    }

    /// Send everything batched (see the module comment for errors).
    pub fn flush(&mut self) -> Result<(), SendError> {
        let b = &mut self.batch;
        let count = b.n;
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
            addrs[i].sll_addr[..6].copy_from_slice(&b.bufs[i][..6]);
            iovs[i].iov_base = b.bufs[i].as_mut_ptr().cast();
            iovs[i].iov_len = b.lens[i];
            msgs[i].msg_hdr.msg_name = (&mut addrs[i] as *mut libc::sockaddr_ll).cast();
            msgs[i].msg_hdr.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            msgs[i].msg_hdr.msg_iov = &mut iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        b.send(self.fd.as_raw_fd(), &mut msgs[..count], 0)?;
        b.n = 0;
        Ok(())
    }
}
