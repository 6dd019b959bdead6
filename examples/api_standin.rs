//! Runs the impact.com Conversions API stand-in that the tests use, for benchmarks:
//! `cargo run --release --example api_standin -- --latency-ms 20` prints its base URL and
//! serves until killed. Account `IRbench`, token `bench-token`.

#[allow(dead_code, clippy::all)]
#[path = "../tests/integration/servers/api.rs"]
mod api;

use std::time::Duration;

fn main() {
    let mut latency = 20;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--latency-ms", Some(v)) => latency = v.parse().unwrap_or(20),
            _ => {
                eprintln!("usage: api_standin [--latency-ms N]");
                std::process::exit(2);
            }
        }
    }
    let server = api::ApiServer::start(api::ApiOptions {
        latency: Duration::from_millis(latency),
        ..api::ApiOptions::new("IRbench", "bench-token")
    });
    println!("{}", server.base_url);
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
