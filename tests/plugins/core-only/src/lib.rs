//! A step built against `step-core`, the world of steps made before `describe-options`
//! existed (straight on wit-bindgen, without the SDK): the host must still load and run it,
//! its options taking any value.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "step-core",
});

use sluice::step::types::ConfigOption;

struct CoreOnly;

impl Guest for CoreOnly {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "core-only".into(),
            version: "0.1.0".into(),
            description: "A step of the first contract".into(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            wants: Vec::new(),
            rules: Vec::new(),
            options: Some(vec![ConfigOption {
                name: "level".into(),
                summary: "anything".into(),
            }]),
        }
    }

    fn run(invocation: Invocation) -> Result<Outcome, Failure> {
        Ok(Outcome {
            outputs: Vec::new(),
            findings: Vec::new(),
            summary: format!("config {}", invocation.config),
        })
    }
}

export!(CoreOnly);
