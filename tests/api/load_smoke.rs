//! Each `parley-load` scenario, briefly, against a real server: the tool must run to the end
//! and report sane figures. (Figures are not asserted against targets; see docs/benchmarks.md.)

use clap::Parser;
use serde_json::Value;

use crate::common::{Backend, TestServer};

/// Runs a scenario with the command line's own parser, on this test's actix system, and
/// returns the JSON report the command prints with `--json`.
async fn run_load(server: &TestServer, args: &[&str]) -> Value {
    let mut argv = vec!["parley-load"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["--url", &server.base, "--json", "--quiet"]);
    if !args.contains(&"--duration") {
        argv.extend_from_slice(&["--duration", "20"]);
    }
    let cli = parley_load::Cli::try_parse_from(&argv).expect("the arguments parse");
    let report = parley_load::run(cli).await.expect("parley-load runs");
    assert!(
        !report.failed,
        "parley-load {args:?} failed:\n{}",
        report.to_table()
    );
    serde_json::from_str(&report.to_json()).expect("a JSON report")
}

#[actix_rt::test]
async fn load_scenarios_run_briefly() {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let send = run_load(
        &server,
        &["send", "--clients", "4", "--chats", "2", "--count", "40"],
    )
    .await;
    assert_eq!(send["figures"]["messages sent (200)"], 40.0);
    assert_eq!(send["statuses"]["200"], 40);
    assert!(send["latency"]["p99_ms"].as_f64().unwrap() > 0.0);

    let fanout = run_load(
        &server,
        &[
            "fanout",
            "--sessions",
            "12",
            "--users",
            "3",
            "--rate",
            "50",
            "--messages",
            "10",
        ],
    )
    .await;
    assert_eq!(fanout["figures"]["deliveries"], 120.0);
    assert_eq!(fanout["figures"]["sessions missing events"], 0.0);
    assert_eq!(fanout["latency"]["samples"], 120);
    // Send-to-receipt split into the send's own answer and the time from commit to receipt.
    assert!(
        fanout["figures"]["send answered p99 (ms)"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(fanout["figures"]["commit-to-receipt p99 (ms)"].is_number());

    let history = run_load(
        &server,
        &[
            "history",
            "--clients",
            "2",
            "--messages",
            "60",
            "--count",
            "20",
        ],
    )
    .await;
    assert_eq!(history["figures"]["pages"], 20.0);
    assert!(
        history["problems"].as_array().unwrap().is_empty(),
        "{history}"
    );

    let pid = std::process::id().to_string();
    let idle = run_load(
        &server,
        &[
            "idle",
            "--sessions",
            "10",
            "--users",
            "2",
            "--server-pid",
            &pid,
            "--duration",
            "1",
        ],
    )
    .await;
    assert_eq!(idle["figures"]["sessions open"], 10.0);
    assert!(idle["figures"]["KiB per session"].is_number());

    let search = run_load(
        &server,
        &[
            "search",
            "--clients",
            "2",
            "--messages",
            "200",
            "--chats",
            "3",
            "--count",
            "60",
        ],
    )
    .await;
    assert_eq!(search["figures"]["2 clients: searches"], 60.0);
    assert!(
        search["problems"].as_array().unwrap().is_empty(),
        "{search}"
    );
    let found = &search["figures"]["2 clients: common (ranks 1-20) searches with results"];
    assert!(found.as_f64().unwrap() > 0.0, "{search}");
}
