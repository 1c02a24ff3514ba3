//! A step that imports `wasi:http`, which sluice does not provide: loading it must fail
//! with the import named.

use sluice_sdk::{Failure, Invocation, Outcome, Plugin, PluginInfo};

struct HttpClient;

impl Plugin for HttpClient {
    fn describe() -> PluginInfo {
        PluginInfo::new("http-client", "0.0.0", "Imports wasi:http")
    }

    fn run(_: Invocation) -> Result<Outcome, Failure> {
        let request = wasip2::http::types::OutgoingRequest::new(wasip2::http::types::Fields::new());
        match wasip2::http::outgoing_handler::handle(request, None) {
            Ok(_) => Ok(Outcome::new().summary("sent")),
            Err(e) => Err(Failure::error(format!("{e:?}"))),
        }
    }
}

sluice_sdk::export_plugin!(HttpClient);
