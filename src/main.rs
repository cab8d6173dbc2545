use std::process::ExitCode;

use clap::Parser;
use parley::actors::RoomSettings;
use parley::config::{Cli, Command, Config};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_settings(&cli.settings) {
        Ok(config) => config,
        Err(problem) => {
            eprintln!("parley: invalid configuration: {problem}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let command = cli.command.unwrap_or(Command::Serve);
    let outcome = actix_web::rt::System::new().block_on(async move {
        match command {
            Command::CheckConfig => {
                println!(
                    "configuration ok: {} database, listening on {}",
                    config.database.backend_name(),
                    config.bind
                );
                Ok(())
            }
            Command::Migrate => parley::db::run_migrations(&config.database)
                .await
                .map(|applied| println!("{applied} migration(s) applied")),
            Command::Serve => serve(config).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("parley: {problem}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), String> {
    let parley = parley::server::build(&config, RoomSettings::default()).await?;
    tracing::info!(addr = %parley.addr, backend = config.database.backend_name(), "parley listening");
    parley
        .run_until_signal()
        .await
        .map_err(|e| format!("server error: {e}"))
}
