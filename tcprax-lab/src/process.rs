//! The one guard for child processes the lab starts: scanners run by the demo and the
//! benchmarks, daemons started for the -sV tests.
//!
//! A [`Child`] holds the pid of a process it spawned and nothing else that could outlive it:
//! std's handle is dropped at once (dropping it neither waits nor kills) and the process is
//! reaped with `wait4`, which also reports its CPU time (children it waited for included). Until
//! reaped, the pid is ours and cannot be reused, so signalling it by pid is safe; nothing is
//! ever stopped by name. Dropping a running child stops it with [`Stop::TERMINATE`] and reaps it.
use std::io;
use std::os::unix::process::ExitStatusExt as _;
use std::process::{ChildStdin, Command, ExitStatus};
use std::time::{Duration, Instant};

/// How often [`Child::wait`] looks at the process.
const POLL: Duration = Duration::from_millis(10);

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("cannot start {program}: {source}")]
    Spawn { program: String, source: io::Error },
    #[error("pid {pid} of {program} does not fit a pid_t")]
    Pid { program: String, pid: u32 },
    #[error("waiting for {program} (pid {pid}): {source}")]
    Wait {
        program: String,
        pid: libc::pid_t,
        source: io::Error,
    },
}

/// User and system CPU time of a process and the children it waited for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cpu {
    pub user: Duration,
    pub system: Duration,
}

impl Cpu {
    pub fn total(self) -> Duration {
        self.user + self.system
    }
}

/// How a process ended, and what it cost.
#[derive(Clone, Copy, Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub cpu: Cpu,
}

impl Finished {
    /// The exit code, or 128 + the signal that ended it (as a shell reports it).
    pub fn code(&self) -> i32 {
        match (self.status.code(), self.status.signal()) {
            (Some(code), _) => code,
            (None, Some(signal)) => 128 + signal,
            (None, None) => -1,
        }
    }
}

/// How to stop a child once a stop is asked for: send `signal` when `signal_after` has passed,
/// SIGKILL when `kill_after` has (both counted from the request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stop {
    pub signal: libc::c_int,
    pub signal_after: Duration,
    pub kill_after: Duration,
}

impl Stop {
    /// SIGTERM now, SIGKILL after 3 s: what dropping a running [`Child`] does.
    pub const TERMINATE: Stop = Stop {
        signal: libc::SIGTERM,
        signal_after: Duration::ZERO,
        kill_after: Duration::from_secs(3),
    };
}

/// A process we started; see the module documentation.
#[derive(Debug)]
pub struct Child {
    pid: libc::pid_t,
    program: String,
    /// Set once reaped (or once waiting failed: then the pid is no longer known to be ours).
    done: bool,
    finished: Option<Finished>,
    /// A piped stdin stays open as long as the process runs: some daemons (openssl s_server)
    /// exit on EOF. Piped stdout or stderr are closed at once, so give files or null.
    _stdin: Option<ChildStdin>,
}

impl Child {
    pub fn spawn(cmd: &mut Command) -> Result<Child, ProcessError> {
        let program = cmd.get_program().to_string_lossy().into_owned();
        let mut child = cmd.spawn().map_err(|source| ProcessError::Spawn {
            program: program.clone(),
            source,
        })?;
        let stdin = child.stdin.take();
        let pid = match libc::pid_t::try_from(child.id()) {
            Ok(pid) => pid,
            Err(_) => {
                let pid = child.id();
                let _ = child.kill();
                let _ = child.wait();
                return Err(ProcessError::Pid { program, pid });
            }
        };
        // From here on the process is reaped with wait4 (for its rusage); std's handle is not
        // used again, and dropping it neither waits nor kills.
        drop(child);
        Ok(Child {
            pid,
            program,
            done: false,
            finished: None,
            _stdin: stdin,
        })
    }

    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// How it ended, if it has; never blocks.
    pub fn try_wait(&mut self) -> Result<Option<Finished>, ProcessError> {
        if self.done {
            return Ok(self.finished);
        }
        let mut status = 0;
        // SAFETY: rusage is plain data that wait4 fills in.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: the pid is our own unreaped child; the out-pointers are valid.
        let r = unsafe { libc::wait4(self.pid, &mut status, libc::WNOHANG, &mut ru) };
        if r == self.pid {
            self.done = true;
            self.finished = Some(Finished {
                status: ExitStatus::from_raw(status),
                cpu: Cpu {
                    user: timeval(ru.ru_utime),
                    system: timeval(ru.ru_stime),
                },
            });
            return Ok(self.finished);
        }
        if r < 0 {
            let source = io::Error::last_os_error();
            if source.kind() != io::ErrorKind::Interrupted {
                self.done = true;
                return Err(ProcessError::Wait {
                    program: self.program.clone(),
                    pid: self.pid,
                    source,
                });
            }
        }
        Ok(None)
    }

    /// Wait until the process ends. Once `stop_requested()` turns true (e.g. on Ctrl-C), stop
    /// it as `stop` says; the process may still end by itself first.
    pub fn wait(
        &mut self,
        stop_requested: impl Fn() -> bool,
        stop: Stop,
    ) -> Result<Finished, ProcessError> {
        let mut requested_at: Option<Instant> = None;
        let mut signalled = false;
        loop {
            if let Some(finished) = self.try_wait()? {
                return Ok(finished);
            }
            if requested_at.is_none() && stop_requested() {
                requested_at = Some(Instant::now());
            }
            if let Some(at) = requested_at {
                let since = at.elapsed();
                if since >= stop.kill_after {
                    // Repeated each turn until reaped: harmless on a dying process.
                    self.signal(libc::SIGKILL);
                } else if since >= stop.signal_after && !signalled {
                    signalled = true;
                    self.signal(stop.signal);
                }
            }
            std::thread::sleep(POLL);
        }
    }

    /// Stop the process now as `stop` says, and reap it.
    pub fn stop(&mut self, stop: Stop) -> Result<Finished, ProcessError> {
        self.wait(|| true, stop)
    }

    fn signal(&self, signal: libc::c_int) {
        if !self.done {
            // SAFETY: kill has no memory-safety preconditions; the pid is our unreaped child,
            // so it cannot have been reused.
            unsafe { libc::kill(self.pid, signal) };
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.stop(Stop::TERMINATE);
        }
    }
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(tv.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(tv.tv_usec).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]).stdin(Stdio::null());
        cmd
    }

    /// `sleep 30` itself, not under a shell, so a signal reaches the process that sleeps.
    fn sleep() -> Command {
        let mut cmd = Command::new("sleep");
        cmd.arg("30").stdin(Stdio::null());
        cmd
    }

    #[test]
    fn exit_code_and_cpu_time_of_a_finished_process() {
        let mut child = Child::spawn(&mut sh(
            "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exit 3",
        ))
        .unwrap();
        let finished = child.wait(|| false, Stop::TERMINATE).unwrap();
        assert_eq!(finished.code(), 3);
        assert!(finished.cpu.total() > Duration::ZERO, "{:?}", finished.cpu);
        // Asking again gives the same answer, without a second wait4 on a reaped pid.
        assert_eq!(child.try_wait().unwrap().map(|f| f.code()), Some(3));
    }

    #[test]
    fn a_stop_request_signals_then_kills() {
        // Ignores SIGINT, so only the SIGKILL after `kill_after` ends it. The marker file says
        // the trap is in place: a SIGINT before that would end the shell at once.
        let ready = std::env::temp_dir().join(format!("tcprax-lab-trap-{}", std::process::id()));
        let _ = std::fs::remove_file(&ready);
        let script = format!(
            "trap '' INT; : > '{}'; while :; do sleep 0.05; done",
            ready.display()
        );
        let mut child = Child::spawn(&mut sh(&script)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready.exists() {
            assert!(Instant::now() < deadline, "the shell never started");
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = std::fs::remove_file(&ready);
        let stop = Stop {
            signal: libc::SIGINT,
            signal_after: Duration::ZERO,
            kill_after: Duration::from_millis(300),
        };
        let started = Instant::now();
        let finished = child.stop(stop).unwrap();
        assert_eq!(finished.code(), 128 + libc::SIGKILL);
        assert!(started.elapsed() >= Duration::from_millis(300));

        let mut child = Child::spawn(&mut sleep()).unwrap();
        let finished = child.stop(stop).unwrap();
        assert_eq!(finished.code(), 128 + libc::SIGINT, "SIGINT was enough");
    }

    #[test]
    fn dropping_a_running_child_terminates_and_reaps_it() {
        let child = Child::spawn(&mut sleep()).unwrap();
        let pid = child.pid();
        let started = Instant::now();
        drop(child);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "SIGTERM was enough"
        );
        // Reaped: the pid is no longer our child.
        // SAFETY: waitpid with WNOHANG on a pid; no memory is involved.
        let r = unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
        assert_eq!(r, -1);
        assert_eq!(
            io::Error::last_os_error().raw_os_error(),
            Some(libc::ECHILD)
        );
    }

    #[test]
    fn a_missing_program_is_a_spawn_error() {
        let err = Child::spawn(&mut Command::new("/nonexistent/tcprax-lab-test")).unwrap_err();
        assert!(matches!(err, ProcessError::Spawn { .. }), "{err}");
    }
}
