//! Assembles a server from a `Config`: migrations, the pool, the actors and the HTTP app.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_http::body::{BoxBody, MessageBody};
use actix_http::{Extensions, HttpService, Request, Response};
use actix_service::{map_config, IntoServiceFactory, ServiceFactory, ServiceFactoryExt};
use actix_web::dev::{AppConfig, Server, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::rt::net::TcpStream;
use actix_web::{web, App};

use crate::actors::messages::Kick;
use crate::actors::{self, ActorThreads, SessionDirectory};
use crate::config::Config;
use crate::db::{self, Database};
use crate::http::rate_limit::RateLimits;
use crate::http::upgraded::{UpgradeFactory, Upgraded};
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
    upgraded: Upgraded,
    shutdown_timeout: Duration,
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
        let (upgraded, limit) = (self.upgraded.clone(), self.shutdown_timeout);
        actix_web::rt::spawn(async move {
            wait_for_shutdown_signal().await;
            tracing::info!("shutdown signal received; finishing in-flight requests");
            directory.kick_all(Kick {
                code: parley_types::CloseCode::GoingAway,
                reason: "server shutting down",
            });
            // WebSockets run outside the server's own count of connections in flight.
            upgraded.drained(limit).await;
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
    // Opened before anything is served, so that a store the node cannot use stops it here.
    let store = crate::storage::Store::open(&config.storage)?;
    let (actors, mut threads) = actors::start(
        database.clone(),
        metrics.clone(),
        config.rooms,
        config.send_batch,
        config.presence,
        config.cluster.as_ref(),
    )
    .await?;
    // Made by the first node to start and kept in the database; every node reads the same.
    let vapid = actors
        .ask(crate::actors::db_ops::LoadVapidKey {
            configured: config.push.vapid_key.clone(),
        })
        .await
        .map_err(|e| format!("the VAPID key: {}", e.chain()))?;
    let delivery = if config.push.deliver {
        let sender = crate::web_push::WebPushSender::new(&vapid, config.push.contact.clone())?;
        Some(crate::actors::push_delivery::PushDelivery::new(
            actors.db.clone(),
            actors.board.clone(),
            metrics.clone(),
            sender,
            config.push.preview,
        ))
    } else {
        None
    };
    threads.start_push_delivery(delivery);
    let hook_key = actors
        .ask(crate::actors::db_ops::LoadHookKey)
        .await
        .map_err(|e| format!("the webhook key: {}", e.chain()))?;
    let allowed = crate::outbound::AllowedHosts::new(&config.webhooks.allow_hosts);
    if config.webhooks.deliver {
        actix::Actor::start(crate::actors::webhook_delivery::WebhookDelivery::new(
            actors.db.clone(),
            metrics.clone(),
            crate::outbound::OutboundClient::new(allowed.clone())?,
            config.webhooks.first_retry,
        ));
    }
    let files = crate::files::Files::new(store, metrics.clone());
    actix::Actor::start(crate::actors::file_sweeper::FileSweeper::new(
        actors.db.clone(),
        files.clone(),
        metrics.clone(),
        config.attachments,
    ));
    let directory = actors.directory.clone();
    #[cfg(feature = "fault-injection")]
    let faults = actors.faults();
    let state = web::Data::new(AppState {
        actors,
        ws: config.ws,
        admin_token: config.admin_token.clone(),
        reports_per_hour: config.rates.reports_per_hour,
        limits: RateLimits::new(config.rates),
        trusted_proxies: config.trusted_proxies.clone(),
        cors: config.cors.clone(),
        session_permits: crate::actors::session_permits::SessionPermits::new(
            config.max_sessions_per_user,
            config.max_sessions_per_ip,
        ),
        in_flight: http::in_flight::InFlight::new(config.max_requests_per_ip),
        body_timeout: config.body_timeout,
        files,
        max_upload_bytes: config.attachments.max_upload_bytes,
        push: http::push::PushState::new(vapid, config.push.allow_http_hosts.clone()),
        webhooks: http::webhooks::WebhookState {
            key: hook_key,
            allowed,
        },
    });
    let cors = config.cors.clone();
    let make_app = move || {
        App::new()
            .app_data(state.clone())
            .wrap(from_fn(http::in_flight::limit_in_flight))
            .wrap(http::cross_origin::layer(cors.as_ref()))
            .wrap(from_fn(request_context))
            .configure(http::routes)
            .default_service(web::to(http::not_found))
    };
    let listener = listen(config.bind)?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {}: {e}", config.bind))?;
    let dead_peer_timeout = config.dead_peer_timeout;
    let upgraded = Upgraded::default();
    let upgraded_here = upgraded.clone();
    // Signals are handled by `run_until_signal`, which closes WebSockets first.
    let mut builder = actix_server::Server::build()
        .disable_signals()
        .shutdown_timeout(config.shutdown_timeout.as_secs());
    if let Some(workers) = config.workers {
        builder = builder.workers(workers);
    }
    let shutdown = builder.graceful_shutdown_signal();
    // What `actix_web::HttpServer` builds, plus the `upgrade` service that carries WebSockets
    // outside the HTTP/1 dispatcher (http::upgraded).
    let server = builder
        .listen("parley", listener, move || {
            let shutdown = shutdown.clone();
            let upgraded = upgraded_here.clone();
            HttpService::build()
                .graceful_shutdown_signal(move || {
                    let shutdown = shutdown.clone();
                    async move { shutdown.notified().await }
                })
                .client_request_timeout(Duration::from_secs(10))
                .client_disconnect_timeout(Duration::from_secs(1))
                .local_addr(addr)
                .on_connect_ext(move |connection: &TcpStream, _: &mut Extensions| {
                    crate::dead_peer::bound(connection, dead_peer_timeout)
                })
                .upgrade(UpgradeFactory::new(boxed(make_app()), upgraded))
                .finish(map_config(
                    make_app()
                        .into_factory()
                        .map_err(|e: actix_web::Error| e.error_response()),
                    // HttpServer puts the bound address here; only a request without a Host
                    // header (HTTP/1.0) would see the difference, and nothing here reads it.
                    |_| AppConfig::default(),
                ))
                .tcp()
        })
        .map_err(|e| format!("cannot listen on {}: {e}", config.bind))?
        .run();
    Ok(Parley {
        addr,
        database,
        metrics,
        server,
        threads,
        directory,
        upgraded,
        shutdown_timeout: config.shutdown_timeout,
        #[cfg(feature = "fault-injection")]
        faults,
    })
}

/// The listening socket, as `actix_web::HttpServer::bind` makes it.
fn listen(addr: SocketAddr) -> Result<std::net::TcpListener, String> {
    use socket2::{Domain, Protocol, Socket, Type};
    let fail = |e: std::io::Error| format!("cannot listen on {addr}: {e}");
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(fail)?;
    socket.set_reuse_address(true).map_err(fail)?;
    socket.bind(&addr.into()).map_err(fail)?;
    socket.listen(1024).map_err(fail)?;
    Ok(socket.into())
}

/// The app as a service whose answers, and errors, are responses with a boxed body: what the
/// upgrade service writes itself.
fn boxed<T, B>(
    app: App<T>,
) -> impl ServiceFactory<
    Request,
    Config = (),
    Response = Response<BoxBody>,
    Error = Response<BoxBody>,
    InitError = (),
>
where
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    map_config(app.into_factory(), |_| AppConfig::default())
        .map(|response: ServiceResponse<B>| Response::from(response.map_into_boxed_body()))
        .map_err(|e: actix_web::Error| Response::from(e.error_response()))
}
