//! Time and memory limits of a step.
//!
//! Memory: a `ResourceLimiter` refuses any linear-memory growth past the step's limit and
//! traps the guest at once, remembering what was asked so the error can say so.
//! Time: the engine's epoch advances on a ticker thread; each store checks its deadline (and
//! the run's cancellation flag) at every tick and otherwise yields to the executor.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
