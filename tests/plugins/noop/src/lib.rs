//! The smallest step: returns at once. Used to measure the per-step overhead of the host.

use sluice_sdk::{Failure, Invocation, Outcome, Plugin, PluginInfo};

struct Noop;

impl Plugin for Noop {
    fn describe() -> PluginInfo {
        PluginInfo::new("noop", "0.0.0", "Does nothing")
    }

    fn run(_invocation: Invocation) -> Result<Outcome, Failure> {
        Ok(Outcome::new())
    }
}

sluice_sdk::export_plugin!(Noop);
