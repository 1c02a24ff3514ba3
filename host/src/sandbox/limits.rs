//! Time and memory limits of a step.
//!
//! Memory: a `ResourceLimiter` refuses any linear-memory growth past the step's limit and
//! traps the guest at once, remembering what was asked so the error can say so.
//! Time: the engine's epoch advances on a ticker thread; each store checks its deadline (and
//! the run's cancellation flag) at every tick and otherwise yields to the executor. A step
//! blocked in a system call (a guest reading a FIFO) runs no wasm, so no epoch check can stop
//! it: the [`Watchdog`] knows which thread is running each step and, once the step is due,
//! interrupts that thread's system call with a signal whose handler does nothing (the call
//! fails with `EINTR`, the guest runs again, and the next epoch check stops it).

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::Context;
use std::time::{Duration, Instant};

use wasmtime::ResourceLimiter;

/// The most table elements a step may have.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// A step's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time for the whole call.
    pub timeout: Duration,
    /// Linear memory, in bytes, summed over the step's memories.
    pub memory: u64,
}

/// Enforces a memory limit and remembers a refusal.
#[derive(Debug)]
pub struct MemoryLimiter {
    limit: u64,
    in_use: u64,
    /// The total the guest asked for when it was refused.
    pub exceeded: Option<u64>,
}

impl MemoryLimiter {
    /// A limiter allowing `limit` bytes in total.
    pub fn new(limit: u64) -> Self {
        MemoryLimiter {
            limit,
            in_use: 0,
            exceeded: None,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.in_use - current as u64 + desired as u64;
        if total > self.limit {
            self.exceeded = Some(total);
            wasmtime::bail!(
                "memory limit of {} bytes exceeded (asked for {total} bytes)",
                self.limit
            );
        }
        self.in_use = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// Why a call was interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// The step ran past its timeout.
    Timeout,
    /// The run was cancelled (Ctrl-C or `--fail-fast`).
    Cancelled,
}

/// Checked at every epoch tick.
#[derive(Debug, Clone)]
pub struct Deadline {
    /// When the step must be done.
    pub at: Instant,
    /// Set to stop the step.
    pub cancel: Arc<AtomicBool>,
}

impl Deadline {
    /// Whether the step must stop now, and why.
    pub fn check(&self) -> Option<Interrupt> {
        if self.cancel.load(Ordering::Relaxed) {
            Some(Interrupt::Cancelled)
        } else if Instant::now() >= self.at {
            Some(Interrupt::Timeout)
        } else {
            None
        }
    }
}

/// One call the watchdog looks after.
#[derive(Debug)]
pub struct Watched {
    deadline: Deadline,
    /// The thread polling the call right now, if any.
    thread: Mutex<Option<libc::pthread_t>>,
    /// Ticks seen since the call became due.
    due_ticks: AtomicU32,
}

/// Interrupts the blocking system calls of steps that are past their deadline.
#[derive(Debug, Default)]
pub struct Watchdog {
    calls: Mutex<Vec<Weak<Watched>>>,
}

/// The signal sent to a thread blocked on a due step's behalf. Its default action is to be
/// ignored, so a stray one can do no harm.
const WAKE: libc::c_int = libc::SIGURG;

extern "C" fn wake(_: libc::c_int) {}

fn install_wake_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: installs a handler that does nothing, without SA_RESTART, so that a
        // system call it interrupts returns EINTR. No other code in sluice uses this signal.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = wake as *const () as usize;
            sa.sa_flags = libc::SA_ONSTACK;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(WAKE, &sa, std::ptr::null_mut());
        }
    });
}

impl Watchdog {
    /// Starts watching a call with this deadline.
    pub fn watch(&self, deadline: Deadline) -> Arc<Watched> {
        install_wake_handler();
        let watched = Arc::new(Watched {
            deadline,
            thread: Mutex::new(None),
            due_ticks: AtomicU32::new(0),
        });
        let mut calls = self.calls.lock().expect("watchdog lock");
        calls.retain(|w| w.strong_count() > 0);
        calls.push(Arc::downgrade(&watched));
        watched
    }

    /// Called at every epoch tick: signals the thread of every call that has been due for
    /// more than one tick (the epoch check gets the first chance) and is still being polled.
    pub fn tick(&self) {
        let calls = self.calls.lock().expect("watchdog lock");
        for watched in calls.iter().filter_map(Weak::upgrade) {
            if watched.deadline.check().is_none() {
                continue;
            }
            if watched.due_ticks.fetch_add(1, Ordering::Relaxed) < 1 {
                continue;
            }
            // Holding the lock: the thread cannot stop polling the call (and go on to other
            // work) while it is being signalled.
            let thread = watched.thread.lock().expect("watched lock");
            if let Some(thread) = *thread {
                // SAFETY: `thread` is polling this call right now (it clears the slot, under
                // this lock, before it returns from the poll), so it is a live thread.
                unsafe {
                    libc::pthread_kill(thread, WAKE);
                }
            }
        }
    }
}

impl Watched {
    /// Runs `inner` to completion with every poll visible to the [`Watchdog`]: while the
    /// future is being polled, the watchdog knows the thread doing it.
    pub async fn track<F: Future>(&self, inner: F) -> F::Output {
        let mut inner = std::pin::pin!(inner);
        std::future::poll_fn(|cx: &mut Context<'_>| {
            // SAFETY: pthread_self has no preconditions.
            *self.thread.lock().expect("watched lock") = Some(unsafe { libc::pthread_self() });
            let result = inner.as_mut().poll(cx);
            *self.thread.lock().expect("watched lock") = None;
            result
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_growth_past_the_limit_across_memories() {
        let mut l = MemoryLimiter::new(100);
        assert!(l.memory_growing(0, 60, None).unwrap());
        assert!(l.memory_growing(0, 40, None).unwrap());
        assert!(l.memory_growing(40, 41, None).is_err());
        assert_eq!(l.exceeded, Some(101));
    }
}
