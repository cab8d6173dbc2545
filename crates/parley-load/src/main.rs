//! The `parley-load` command: parses its arguments, runs one scenario and prints its report.

use std::process::ExitCode;

use clap::Parser;
use parley_load::{raise_fd_limit, run, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    raise_fd_limit();
    let json = cli.common.json;
    match actix_rt::System::new().block_on(run(cli)) {
        Ok(report) => {
            if json {
                println!("{}", report.to_json());
            } else {
                println!("{}", report.to_table());
            }
            if report.failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("parley-load: {e}");
            ExitCode::FAILURE
        }
    }
}
