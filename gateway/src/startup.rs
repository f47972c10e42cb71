//! `Application`: starts the actor system (conversation arbiters, the
//! Directory, the Kafka consumer) and the HTTP server; runs until stopped;
//! shuts down gracefully on SIGTERM/SIGINT.
//!
//! The server is actix-server with actix-http's HTTP/1 service: plain
//! requests (`/healthz`, `/readyz`, `/metrics`) go to an actix-web `App`,
//! WebSocket upgrades to [`crate::ws::handshake::upgrade`], which takes the
//! socket over (`crate::ws` says why).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix_http::HttpService;
use actix_server::Server;
use actix_service::{fn_factory, fn_service, map_config};
use actix_web::dev::AppConfig;
use actix_web::{web, App};
use actors_common::jwt::{JwtKeys, AUDIENCE_GATEWAY, ISSUER_BFF};
use actors_common::kafka::Topics;
use anyhow::Context as _;
use rdkafka::producer::Producer as _;
use service_kit::health::Readiness;
use service_kit::TokenVerifier;

use crate::actors::directory::{CloseAll, Directory};
use crate::actors::kafka_consumer::KafkaConsumer;
use crate::actors::session::SessionConfig;
use crate::inspect;
use crate::inspect::routes::InspectState;
use crate::inspect::trace::{TraceUsers, Tracer};
use crate::kafka::{fanout_consumer, ChatProducer, FanOut};
use crate::ledger::Ledger;
use crate::metrics::Metrics;
use crate::roster::Roster;
use crate::settings::Settings;
use crate::ws::handshake::{self, WsState};

/// How long closing frames get to reach clients before the server stops.
const CLOSE_GRACE: Duration = Duration::from_millis(300);

/// A built gateway, consuming Kafka and accepting connections.
pub struct Application {
    port: u16,
    server: Server,
    stop: StopHandle,
    arbiters: Vec<Arbiter>,
}

/// Shuts a gateway down the way SIGTERM does.
#[derive(Clone)]
pub struct StopHandle {
    accepting: Arc<AtomicBool>,
    directory: Addr<Directory>,
    server: actix_server::ServerHandle,
}

impl StopHandle {
    /// Readiness goes false, no new upgrades, every session closes with
    /// 1001, then the server stops.
    pub async fn shutdown(&self) {
        self.accepting.store(false, Ordering::Relaxed);
        match self.directory.send(CloseAll).await {
            Ok(n) => log::info!("gateway: closing {n} sessions"),
            Err(e) => log::warn!("gateway: directory gone at shutdown: {e}"),
        }
        tokio::time::sleep(CLOSE_GRACE).await;
        self.server.stop(true).await;
    }
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let (listener, port) = service_kit::listen(&settings.host, settings.port)?;
        let name = if settings.gateway_name.is_empty() {
            format!("gw-{port}")
        } else {
            settings.gateway_name.clone()
        };
        let trace_users = TraceUsers::parse(&settings.trace_users)
            .map_err(|e| anyhow::anyhow!("TRACE_USERS: {e}"))?;
        let tracer = Tracer::new(name, trace_users, settings.trace_sample);
        let registry = prometheus::Registry::new();
        let metrics = Arc::new(Metrics::new(&registry, tracer));
        let topics = Topics::with_prefix(&settings.kafka_topic_prefix);
        let producer = ChatProducer::new(
            &settings.kafka_bootstrap,
            topics.clone(),
            settings.kafka_idempotence,
            settings.send_timeout(),
        )
        .context("creating the Kafka producer")?;

        // The consumer's live part starts at the end of every partition,
        // resolved now: from here on nothing is missed. Before it, it reads
        // one admission window back to fill the ledger.
        let FanOut {
            consumer,
            live_from,
            sessions_live_from,
        } = {
            let (bootstrap, prefix, topics, lag) = (
                settings.kafka_bootstrap.clone(),
                settings.kafka_group_prefix.clone(),
                topics.clone(),
                metrics.consumer_lag.clone(),
            );
            let wait = Duration::from_millis(settings.kafka_fetch_wait_ms);
            tokio::task::spawn_blocking(move || {
                fanout_consumer(&bootstrap, &prefix, wait, &topics, lag)
            })
            .await
            .context("consumer set-up task")?
            .context("creating the Kafka consumer (are the topics created?)")?
        };

        let roster = Arc::new(Roster::new(&live_from));
        let ledger = Arc::new(Ledger::new(&live_from));

        let conversation_arbiters: Vec<Arbiter> = (0..settings.arbiter_count())
            .map(|_| Arbiter::new())
            .collect();
        let handles = conversation_arbiters.iter().map(Arbiter::handle).collect();
        let directory_arbiter = Arbiter::new();
        let consumer_arbiter = Arbiter::new();
        let directory = {
            let (metrics, roster) = (metrics.clone(), roster.clone());
            Directory::start_in_arbiter(&directory_arbiter.handle(), move |_| {
                Directory::new(handles, roster, metrics)
            })
        };
        {
            let (directory, metrics, topics, ledger) = (
                directory.clone(),
                metrics.clone(),
                topics.clone(),
                ledger.clone(),
            );
            KafkaConsumer::start_in_arbiter(&consumer_arbiter.handle(), move |_| {
                KafkaConsumer::new(
                    consumer,
                    (live_from, sessions_live_from),
                    topics,
                    ledger,
                    directory,
                    metrics,
                )
            });
        }
        let mut arbiters = conversation_arbiters;
        arbiters.push(directory_arbiter);
        arbiters.push(consumer_arbiter);

        let accepting = Arc::new(AtomicBool::new(true));
        let session = Arc::new(SessionConfig {
            producer: producer.clone(),
            directory: directory.clone(),
            roster,
            ledger,
            metrics: metrics.clone(),
            keys: JwtKeys::new(settings.jwt_secret.as_bytes()),
            message_store_url: settings.message_store_url.clone(),
            rate_per_sec: settings.rate_per_sec,
            rate_burst: settings.rate_burst,
            send_timeout: settings.send_timeout(),
            outbound_queue: settings.outbound_queue,
            ping_interval: settings.ping_interval(),
            idle_timeout: settings.idle_timeout(),
            users: Arc::new(crate::users::Users::new(
                settings.max_connections_per_user,
                match settings.user_rate_per_sec {
                    0 => settings.rate_per_sec.saturating_mul(2),
                    n => n,
                },
                match settings.user_rate_burst {
                    0 => settings.rate_burst.saturating_mul(2),
                    n => n,
                },
            )),
        });
        let ws_state = Arc::new(WsState {
            verifier: TokenVerifier::new(
                JwtKeys::new(settings.jwt_secret.as_bytes()),
                AUDIENCE_GATEWAY,
                &[ISSUER_BFF],
            ),
            session,
            allowed_origins: settings.allowed_origins.clone(),
            accepting: accepting.clone(),
            max_connections: settings.max_connections,
            metrics: metrics.clone(),
        });
        let readiness = web::Data::new(
            Readiness::new()
                .check("accepting", {
                    let accepting = accepting.clone();
                    move || {
                        let open = accepting.load(Ordering::Relaxed);
                        Box::pin(async move {
                            if open {
                                Ok(())
                            } else {
                                Err("shutting down".to_owned())
                            }
                        })
                    }
                })
                .blocking("kafka", {
                    let (producer, topic) = (producer.clone(), topics.messages.clone());
                    move || kafka_kit::topic_reachable(producer.inner().client(), &topic)
                }),
        );
        let registry = web::Data::new(registry);
        let sign_out = web::Data::new(crate::sign_out::SignOut::new(
            producer.clone(),
            settings.send_timeout(),
        ));
        let verifier = web::Data::new(TokenVerifier::new(
            JwtKeys::new(settings.jwt_secret.as_bytes()),
            AUDIENCE_GATEWAY,
            &[ISSUER_BFF],
        ));

        let inspect = web::Data::new(InspectState {
            directory: directory.clone(),
            tracer: metrics.tracer.clone(),
            token: Some(settings.inspect_token.clone()).filter(|t| !t.is_empty()),
            peers: settings
                .inspect_peers
                .iter()
                .filter(|p| !p.is_empty())
                .cloned()
                .collect(),
        });
        let server = Server::build()
            .workers(settings.worker_count())
            // Counts HTTP connections being served; an upgraded one leaves
            // the count (`MAX_CONNECTIONS` is checked at the upgrade).
            .max_concurrent_connections(settings.max_connections)
            .backlog(8192)
            .disable_signals()
            .shutdown_timeout(5)
            .listen("gateway", listener, move || {
                let ws_state = ws_state.clone();
                let app = App::new()
                    .app_data(readiness.clone())
                    .app_data(registry.clone())
                    .app_data(inspect.clone())
                    .app_data(sign_out.clone())
                    .app_data(verifier.clone())
                    .configure(inspect::routes::configure)
                    .configure(crate::sign_out::configure)
                    .configure(service_kit::edge)
                    .route("/ws", web::get().to(not_an_upgrade));
                HttpService::build()
                    // Frames are small and must leave at once: without this,
                    // Nagle's algorithm holds a frame while an earlier one is
                    // unacknowledged, and the client's delayed ACK turns that
                    // into tens of milliseconds.
                    .tcp_nodelay(true)
                    .upgrade(fn_factory(move || {
                        let state = ws_state.clone();
                        async move {
                            Ok::<_, ()>(fn_service(move |(req, framed)| {
                                handshake::upgrade(req, framed, state.clone())
                            }))
                        }
                    }))
                    .h1(map_config(app, |_| AppConfig::default()))
                    .tcp()
            })?
            .run();

        let stop = StopHandle {
            accepting,
            directory,
            server: server.handle(),
        };
        Ok(Self {
            port,
            server,
            stop,
            arbiters,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Serves until stopped; on SIGTERM or SIGINT shuts down gracefully.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Application {
            server,
            stop,
            arbiters,
            ..
        } = self;
        // The server runs as its own task: it must keep being polled to
        // carry out the stop that `shutdown` asks of it.
        let mut server = actix_rt::spawn(server);
        let result = tokio::select! {
            r = &mut server => r,
            _ = shutdown_signal() => {
                log::info!("gateway: shutdown signal");
                stop.shutdown().await;
                (&mut server).await
            }
        };
        for arbiter in arbiters {
            arbiter.stop();
        }
        result.unwrap_or_else(|e| Err(std::io::Error::other(format!("server task: {e}"))))
    }
}

/// `GET /ws` without `Upgrade: websocket`.
async fn not_an_upgrade() -> Result<actix_web::HttpResponse, service_kit::HttpError> {
    Err(service_kit::HttpError::bad_request(
        "bad_handshake",
        handshake::NOT_AN_UPGRADE,
    ))
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(e) => {
            log::warn!("gateway: no SIGTERM handler ({e}); Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
