use std::process::ExitCode;

use clap::Parser;
use parley::config::{Cli, Command, Config};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    keep_large_allocations_mapped();
    let cli = Cli::parse();
    let config = match Config::from_settings(&cli.settings) {
        Ok(config) => config,
        Err(problem) => {
            eprintln!("parley: invalid configuration: {problem}");
            return ExitCode::from(2);
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if config.log_json {
        tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
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
            Command::Users { action, server } => {
                parley::operator_cli::run(&config, server, action).await
            }
            Command::Backup { path } => parley::db::backup_sqlite(&config.database, &path)
                .await
                .map(|()| println!("backup written to {}", path.display())),
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
    let parley = parley::server::build(&config).await?;
    tracing::info!(addr = %parley.addr, backend = config.database.backend_name(), "parley listening");
    parley
        .run_until_signal()
        .await
        .map_err(|e| format!("server error: {e}"))
}

/// glibc raises its mmap threshold after large blocks are freed, after which argon2's 19 MiB
/// buffers come from the heap and are never given back; a fixed threshold keeps them mapped,
/// so memory returns to the system after a burst of logins.
fn keep_large_allocations_mapped() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
