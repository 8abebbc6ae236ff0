//! The two clocks the scan reads directly, in nanoseconds: CLOCK_MONOTONIC, the clock of the
//! XDP program's `bpf_ktime_get_ns` (so reply timestamps and send times can be subtracted),
//! and the calling thread's CPU time, for the micro-benchmarks.

fn read(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into a valid timespec.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CLOCK_MONOTONIC, ns: the same clock as the kernel's `bpf_ktime_get_ns`.
pub(crate) fn mono_ns() -> u64 {
    read(libc::CLOCK_MONOTONIC)
}

/// CPU time of the calling thread, ns: a benchmark's cost on a machine shared with other work.
#[cfg(test)]
pub(crate) fn thread_cpu_ns() -> u64 {
    read(libc::CLOCK_THREAD_CPUTIME_ID)
}
