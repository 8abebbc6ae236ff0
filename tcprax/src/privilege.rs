//! Least privilege: which capabilities a scan needs, a clear error naming the missing ones, and
//! the drop of every capability (and, under sudo, the switch to the invoking user) once the
//! privileged set-up is done and before any byte from the network is parsed.
//!
//! Only -sS needs privileges, and only to set up: CAP_NET_RAW for the raw socket, CAP_BPF to
//! load the XDP program and create its maps, CAP_NET_ADMIN to load a networking program and
//! attach it, CAP_PERFMON for the verifier to accept the program's packet pointer arithmetic
//! (without it: "pointer arithmetic with it prohibited for !root"). CAP_SYS_ADMIN, or root,
//! stands in for all but CAP_NET_RAW. After that, the open fds are enough:
//! sending on a raw socket, reading the ring buffer and looking up the counters of an open map
//! are not checked against capabilities, and closing the bpf_link (exit) detaches the program.
//!
//! Capabilities belong to each thread, not to the process: [`drop_all`] refuses to run once a
//! second thread exists, because the threads it could not reach would stay privileged. The
//! binary therefore sets up before it builds its async runtime, drops, and only then starts
//! threads (which inherit the empty sets).
use std::io;
use std::path::PathBuf;

/// The capabilities tcprax may need, with their kernel numbers (`linux/capability.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Capability {
    Setpcap = 8,
    NetAdmin = 12,
    NetRaw = 13,
    SysAdmin = 21,
    Perfmon = 38,
    Bpf = 39,
}

impl Capability {
    /// Its name as `capabilities(7)` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Setpcap => "CAP_SETPCAP",
            Capability::NetAdmin => "CAP_NET_ADMIN",
            Capability::NetRaw => "CAP_NET_RAW",
            Capability::SysAdmin => "CAP_SYS_ADMIN",
            Capability::Perfmon => "CAP_PERFMON",
            Capability::Bpf => "CAP_BPF",
        }
    }

    /// Its name in a `setcap` line.
    fn setcap_name(self) -> String {
        self.name().to_ascii_lowercase()
    }

    fn bit(self) -> u64 {
        1 << (self as u32)
    }

    /// Whether `set` grants what this capability allows. The kernel accepts CAP_SYS_ADMIN in
    /// place of CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON for BPF (`bpf_capable`,
    /// `bpf_net_capable`, `perfmon_capable`); for the raw socket only CAP_NET_RAW counts.
    fn granted_by(self, set: u64) -> bool {
        let stand_in = matches!(
            self,
            Capability::Bpf | Capability::NetAdmin | Capability::Perfmon
        ) && set & Capability::SysAdmin.bit() != 0;
        set & self.bit() != 0 || stand_in
    }
}

/// What -sS needs, in the order a `setcap` line names them; each one is needed (tested as an
/// unprivileged user with exactly these file capabilities, and with each one left out,
/// `tests/privileges.rs`).
pub const SYN_SCAN: &[Capability] = &[
    Capability::NetRaw,
    Capability::NetAdmin,
    Capability::Bpf,
    Capability::Perfmon,
];

/// The `setcap` command giving `binary` the capabilities in `caps`, for a message or the docs.
pub fn setcap_line(caps: &[Capability], binary: &str) -> String {
    let names: Vec<String> = caps.iter().map(|c| c.setcap_name()).collect();
    format!("setcap {}+ep {binary}", names.join(","))
}

fn names(caps: &[Capability]) -> String {
    caps.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")
}

#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error(
        "{scan} needs {}; this process lacks {}. Run it as root (sudo: tcprax drops its \
         privileges and switches to your user once set up), or give the binary these file \
         capabilities once: `{}`; or use -sT (a connect scan, which needs none)",
        names(.needed), names(.missing), setcap_line(.needed, &.binary.display().to_string())
    )]
    Missing {
        scan: &'static str,
        needed: Vec<Capability>,
        missing: Vec<Capability>,
        /// This executable, for the `setcap` line.
        binary: PathBuf,
    },
    #[error("cannot read this thread's capabilities: {source}")]
    Query { source: io::Error },
    #[error(
        "cannot drop privileges: {threads} threads are running, and capabilities belong to \
         each thread (a bug: the drop must come before the runtime starts)"
    )]
    Threads { threads: usize },
    #[error("cannot drop privileges ({step}): {source}")]
    Drop {
        step: &'static str,
        source: io::Error,
    },
    #[error("{name}={value:?} is not a numeric id: cannot switch to the user who ran sudo")]
    SudoId { name: &'static str, value: String },
    #[error(
        "privileges are still held after the drop (effective {effective:#x}, permitted \
         {permitted:#x}, inheritable {inheritable:#x})"
    )]
    Kept {
        effective: u64,
        permitted: u64,
        inheritable: u64,
    },
}

/// The three capability sets of the calling thread, one bit per capability.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapSets {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit sets, as two 32-bit halves.
const CAP_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The calling thread's capability sets (`capget`).
pub fn current() -> Result<CapSets, PrivilegeError> {
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget with a version-3 header writes two CapData structs, which `data` holds.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(PrivilegeError::Query {
            source: io::Error::last_os_error(),
        });
    }
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    Ok(CapSets {
        effective: join(data[0].effective, data[1].effective),
        permitted: join(data[0].permitted, data[1].permitted),
        inheritable: join(data[0].inheritable, data[1].inheritable),
    })
}

/// Fail with [`PrivilegeError::Missing`] unless this thread's effective set grants every
/// capability in `needed` (checked up front, so the user reads one clear message rather than
/// whichever EPERM the set-up meets first).
pub fn require(scan: &'static str, needed: &[Capability]) -> Result<(), PrivilegeError> {
    let effective = current()?.effective;
    let missing = missing_from(effective, needed);
    if missing.is_empty() {
        return Ok(());
    }
    Err(PrivilegeError::Missing {
        scan,
        needed: needed.to_vec(),
        missing,
        binary: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/path/to/tcprax")),
    })
}

fn missing_from(effective: u64, needed: &[Capability]) -> Vec<Capability> {
    needed
        .iter()
        .copied()
        .filter(|c| !c.granted_by(effective))
        .collect()
}

/// A user and group to become.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserIds {
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
}

/// The user who ran sudo, from `SUDO_UID` and `SUDO_GID`, when this process runs as root
/// (`uid`) and both are set to someone else; None otherwise (not root, not through sudo, or
/// sudo from root). A value that is not a number is an error rather than a silent stay as root.
pub fn sudo_user(
    uid: libc::uid_t,
    sudo_uid: Option<&str>,
    sudo_gid: Option<&str>,
) -> Result<Option<UserIds>, PrivilegeError> {
    let (Some(sudo_uid), Some(sudo_gid)) = (sudo_uid, sudo_gid) else {
        return Ok(None);
    };
    if uid != 0 {
        return Ok(None);
    }
    let parse = |name: &'static str, value: &str| {
        value
            .trim()
            .parse::<u32>()
            .map_err(|_| PrivilegeError::SudoId {
                name,
                value: value.to_string(),
            })
    };
    let ids = UserIds {
        uid: parse("SUDO_UID", sudo_uid)?,
        gid: parse("SUDO_GID", sudo_gid)?,
    };
    Ok((ids.uid != 0).then_some(ids))
}

/// [`sudo_user`] for this process: its real uid and its environment.
pub fn sudo_user_from_env() -> Result<Option<UserIds>, PrivilegeError> {
    let var = |name| std::env::var(name).ok();
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    sudo_user(uid, var("SUDO_UID").as_deref(), var("SUDO_GID").as_deref())
}

fn os_err(step: &'static str) -> PrivilegeError {
    PrivilegeError::Drop {
        step,
        source: io::Error::last_os_error(),
    }
}

/// Threads of this process, from `/proc/self/task`; None if /proc cannot say.
fn thread_count() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/task").ok()?.count())
}

/// Give up every privilege for good: become `user` if given (supplementary groups cleared,
/// then the group, then the user: the other way round the group change would no longer be
/// allowed), clear the ambient set and, when allowed (CAP_SETPCAP), the bounding set; clear
/// the effective, permitted and inheritable sets; set no_new_privs, so that nothing executed
/// later can gain any back. Must be called while the process has a single thread. Verified
/// afterwards: a set that is not empty is an error.
pub fn drop_all(user: Option<UserIds>) -> Result<(), PrivilegeError> {
    if let Some(threads @ 2..) = thread_count() {
        return Err(PrivilegeError::Threads { threads });
    }
    let before = current()?;
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    if rc != 0 {
        return Err(os_err("clear the ambient set"));
    }
    if Capability::Setpcap.granted_by(before.effective) {
        // The bounding set limits what an exec could ever grant; emptying it needs CAP_SETPCAP
        // (root has it; file capabilities usually do not, and no_new_privs covers that case).
        for cap in 0..64 {
            // SAFETY: prctl with integer arguments only.
            match unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap, 0, 0, 0) } {
                1 => {}
                0 => continue,
                // EINVAL: past the last capability this kernel knows.
                _ => break,
            }
            // SAFETY: as above.
            if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) } != 0 {
                return Err(os_err("clear the bounding set"));
            }
        }
    }
    if let Some(UserIds { uid, gid }) = user {
        // SAFETY: setgroups with a count of 0 reads no list; setresgid/setresuid take ids only.
        // glibc applies them to every thread, and there is only this one anyway.
        if unsafe { libc::setgroups(0, std::ptr::null()) } != 0 {
            return Err(os_err("setgroups"));
        }
        // SAFETY: as above.
        if unsafe { libc::setresgid(gid, gid, gid) } != 0 {
            return Err(os_err("setresgid"));
        }
        // SAFETY: as above.
        if unsafe { libc::setresuid(uid, uid, uid) } != 0 {
            return Err(os_err("setresuid"));
        }
    }
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let empty = [CapData::default(); 2];
    // SAFETY: capset with a version-3 header reads two CapData structs, which `empty` holds.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            empty.as_ptr(),
        )
    };
    if rc != 0 {
        return Err(os_err("capset"));
    }
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(os_err("no_new_privs"));
    }
    let after = current()?;
    if after != CapSets::default() {
        return Err(PrivilegeError::Kept {
            effective: after.effective,
            permitted: after.permitted,
            inheritable: after.inheritable,
        });
    }
    if let Some(UserIds { uid, gid }) = user {
        // SAFETY: getters without preconditions.
        let (now_uid, now_gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        if (now_uid, now_gid) != (uid, gid) {
            return Err(PrivilegeError::Drop {
                step: "switch to the sudo user",
                source: io::Error::from_raw_os_error(libc::EPERM),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setcap_line_names_what_the_syn_scan_needs() {
        assert_eq!(
            setcap_line(SYN_SCAN, "/usr/local/bin/tcprax"),
            "setcap cap_net_raw,cap_net_admin,cap_bpf,cap_perfmon+ep /usr/local/bin/tcprax"
        );
    }

    #[test]
    fn sys_admin_stands_in_for_bpf_and_net_admin_but_not_net_raw() {
        let set = Capability::SysAdmin.bit();
        assert_eq!(missing_from(set, SYN_SCAN), vec![Capability::NetRaw]);
        let all = SYN_SCAN.iter().fold(0, |s, c| s | c.bit());
        assert!(missing_from(all, SYN_SCAN).is_empty());
        assert_eq!(
            missing_from(Capability::NetRaw.bit(), SYN_SCAN),
            vec![Capability::NetAdmin, Capability::Bpf, Capability::Perfmon]
        );
    }

    #[test]
    fn missing_message_names_the_capabilities_and_the_fix() {
        let err = PrivilegeError::Missing {
            scan: "-sS",
            needed: SYN_SCAN.to_vec(),
            missing: vec![Capability::Bpf],
            binary: PathBuf::from("/opt/tcprax"),
        };
        let text = err.to_string();
        assert!(
            text.starts_with(
                "-sS needs CAP_NET_RAW, CAP_NET_ADMIN, CAP_BPF, CAP_PERFMON; this process lacks \
             CAP_BPF."
            ),
            "{text}"
        );
        assert!(
            text.contains("`setcap cap_net_raw,cap_net_admin,cap_bpf,cap_perfmon+ep /opt/tcprax`"),
            "{text}"
        );
        assert!(text.contains("root") && text.contains("-sT"), "{text}");
    }

    #[test]
    fn sudo_user_only_for_root_with_both_ids() {
        let ids = UserIds {
            uid: 1000,
            gid: 1001,
        };
        assert_eq!(sudo_user(0, Some("1000"), Some("1001")).unwrap(), Some(ids));
        // Not root: nothing to switch from.
        assert_eq!(sudo_user(1000, Some("1000"), Some("1001")).unwrap(), None);
        // Not through sudo, or only half the information.
        assert_eq!(sudo_user(0, None, None).unwrap(), None);
        assert_eq!(sudo_user(0, Some("1000"), None).unwrap(), None);
        // sudo run by root itself.
        assert_eq!(sudo_user(0, Some("0"), Some("0")).unwrap(), None);
        assert!(matches!(
            sudo_user(0, Some("bob"), Some("1001")),
            Err(PrivilegeError::SudoId {
                name: "SUDO_UID",
                ..
            })
        ));
    }

    /// capget agrees with what /proc says about this thread.
    #[test]
    fn current_matches_proc_status() {
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let field = |name: &str| {
            let line = status
                .lines()
                .find(|l| l.starts_with(name))
                .unwrap_or_else(|| panic!("{name} in {status}"));
            u64::from_str_radix(line[name.len()..].trim(), 16).unwrap()
        };
        let sets = current().unwrap();
        assert_eq!(sets.effective, field("CapEff:"));
        assert_eq!(sets.permitted, field("CapPrm:"));
        assert_eq!(sets.inheritable, field("CapInh:"));
    }
}
