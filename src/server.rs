//! Assembles a server from a `Config`: migrations, the pool, the actors and the HTTP app.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};

use crate::actors::messages::Kick;
use crate::actors::{self, ActorThreads, SessionDirectory};
use crate::config::Config;
use crate::db::{self, Database};
use crate::http::rate_limit::RateLimits;
use crate::http::{self, request_context::request_context, AppState};
use crate::metrics::Metrics;

/// A server that is bound and ready to run.
pub struct Parley {
    /// The address actually bound (an ephemeral port when the config asked for port 0).
    pub addr: SocketAddr,
    pub database: Database,
    pub metrics: Arc<Metrics>,
    pub server: Server,
    threads: ActorThreads,
    directory: SessionDirectory,
    #[cfg(feature = "fault-injection")]
    faults: crate::actors::Faults,
}

impl Parley {
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    #[cfg(feature = "fault-injection")]
    pub fn faults(&self) -> crate::actors::Faults {
        self.faults.clone()
    }

    /// Serves until the server is stopped, then stops the actor threads.
    pub async fn run(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.threads.stop();
        result
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully: WebSockets are closed with
    /// 1001, no new connections are accepted, and requests in flight get the configured time to
    /// finish. Every answered write was committed before its answer, so nothing acknowledged
    /// is lost.
    pub async fn run_until_signal(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let directory = self.directory.clone();
        actix_web::rt::spawn(async move {
            wait_for_shutdown_signal().await;
            tracing::info!("shutdown signal received; finishing in-flight requests");
            directory.kick_all(Kick {
                code: 1001,
                reason: "server shutting down",
            });
            handle.stop(true).await;
        });
        let result = self.run().await;
        tracing::info!("parley stopped");
        result
    }
}

async fn wait_for_shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            tracing::warn!("cannot listen for signals; falling back to Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Applies migrations, then binds the HTTP server and starts the actors.
pub async fn build(config: &Config) -> Result<Parley, String> {
    let metrics = Arc::new(Metrics::new().map_err(|e| format!("metrics: {e}"))?);
    let applied = db::run_migrations(&config.database).await?;
    if applied > 0 {
        tracing::info!(
            applied,
            backend = config.database.backend_name(),
            "migrations applied"
        );
    }
    // Detached: it finishes in the background while the server starts.
    drop(tokio::task::spawn_blocking(crate::auth::prepare_decoy));
    let database = Database::connect(config, metrics.db_query_duration.clone())?;
    let (actors, threads) = actors::start(
        database.clone(),
        metrics.clone(),
        config.rooms,
        config.send_batch,
        config.presence,
        config.cluster.as_ref(),
    )
    .await?;
    let directory = actors.directory.clone();
    #[cfg(feature = "fault-injection")]
    let faults = actors.faults();
    let state = web::Data::new(AppState {
        actors,
        ws: config.ws,
        admin_token: config.admin_token.clone(),
        limits: RateLimits::new(config.rates),
        trusted_proxies: config.trusted_proxies.clone(),
        cors: config.cors.clone(),
        session_permits: crate::actors::session_permits::SessionPermits::new(
            config.max_sessions_per_user,
            config.max_sessions_per_ip,
        ),
    });
    let cors = config.cors.clone();
    let dead_peer_timeout = config.dead_peer_timeout;
    let mut http_server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(http::cross_origin::layer(cors.as_ref()))
            .wrap(from_fn(request_context))
            .configure(http::routes)
            .default_service(web::to(http::not_found))
    })
    .on_connect(move |connection, _| crate::dead_peer::bound(connection, dead_peer_timeout))
    // Signals are handled by `run_until_signal`, which closes WebSockets first.
    .disable_signals()
    .shutdown_timeout(config.shutdown_timeout.as_secs())
    .client_request_timeout(Duration::from_secs(10));
    if let Some(workers) = config.workers {
        http_server = http_server.workers(workers);
    }
    let http_server = http_server
        .bind(config.bind)
        .map_err(|e| format!("cannot listen on {}: {e}", config.bind))?;
    let addr = http_server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| "the server bound no address".to_owned())?;
    Ok(Parley {
        addr,
        database,
        metrics,
        server: http_server.run(),
        threads,
        directory,
        #[cfg(feature = "fault-injection")]
        faults,
    })
}
