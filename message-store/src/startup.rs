//! `Application`: builds everything, binds its own listener (port 0 works),
//! runs until stopped, then stops its Kafka tasks.

use std::sync::Arc;

use actix_web::{dev::Server, web, App, HttpServer};
use actors_common::jwt::{JwtKeys, AUDIENCE_MESSAGE_STORE, ISSUER_BFF, ISSUER_GATEWAY};
use actors_common::kafka::Topics;
use anyhow::Context as _;
use kafka_kit::ProducerOptions;
use rdkafka::producer::{FutureProducer, Producer};
use service_kit::health::Readiness;
use service_kit::{db, TokenVerifier};
use tokio::sync::watch;

use crate::kafka::consumer::IngestConfig;
use crate::kafka::publisher::Publisher;
use crate::metrics::Metrics;
use crate::settings::Settings;

/// A built, not yet running, message-store.
pub struct Application {
    port: u16,
    server: Server,
    shutdown: Arc<watch::Sender<bool>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Stops a running message-store: its HTTP server and its Kafka tasks.
#[derive(Clone)]
pub struct StopHandle {
    server: actix_web::dev::ServerHandle,
    shutdown: Arc<watch::Sender<bool>>,
}

impl StopHandle {
    pub async fn stop(&self) {
        let _ = self.shutdown.send(true);
        self.server.stop(true).await;
    }
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = db::connect(
            &settings.database_url,
            crate::MIGRATIONS,
            "message-store",
            settings.db_pool_size,
        )
        .await?;
        let (listener, port) = service_kit::listen(&settings.host, settings.port)?;

        let registry = prometheus::Registry::new();
        service_kit::db::PoolMetrics::register(&registry, &pool);
        let metrics = Arc::new(Metrics::new(&registry));
        let topics = Topics::with_prefix(&settings.kafka_topic_prefix);
        let producer: FutureProducer = kafka_kit::producer_config(
            &settings.kafka_bootstrap,
            "message-store",
            &ProducerOptions {
                idempotence: settings.kafka_idempotence,
                ..ProducerOptions::default()
            },
        )
        .create()
        .context("creating the Kafka producer")?;

        // Events go to an explicit partition: the count is read once.
        let partitions = {
            let (producer, topic) = (producer.clone(), topics.messages.clone());
            tokio::task::spawn_blocking(move || {
                kafka_kit::partition_ids(
                    producer.client(),
                    &topic,
                    std::time::Duration::from_secs(10),
                )
            })
            .await
            .context("metadata task")?
            .context("reading chat.messages' partitions (are the topics created?)")?
            .len() as i32
        };
        let publisher = Publisher::new(
            producer.clone(),
            &topics,
            partitions,
            pool.clone(),
            metrics.clone(),
            settings.outbox_publisher,
        );

        let (shutdown, _) = watch::channel(false);
        let shutdown = Arc::new(shutdown);
        let mut tasks = Vec::new();
        if settings.outbox_publisher {
            tasks.push(actix_web::rt::spawn(crate::kafka::publisher::run(
                publisher.clone(),
                shutdown.subscribe(),
            )));
        }
        if settings.ingest {
            tasks.push(actix_web::rt::spawn(crate::kafka::consumer::run(
                IngestConfig {
                    bootstrap: settings.kafka_bootstrap.clone(),
                    topic: topics.messages.clone(),
                    database_url: settings.database_url.clone(),
                },
                pool.clone(),
                metrics.clone(),
                shutdown.subscribe(),
            )));
        }

        let verifier = web::Data::new(TokenVerifier::new(
            JwtKeys::new(settings.jwt_secret.as_bytes()),
            AUDIENCE_MESSAGE_STORE,
            &[ISSUER_BFF, ISSUER_GATEWAY],
        ));
        let readiness = web::Data::new(Readiness::new().database(&pool).blocking("kafka", {
            let (producer, topic) = (producer.clone(), topics.messages.clone());
            move || kafka_kit::topic_reachable(producer.client(), &topic)
        }));
        let registry = web::Data::new(registry);
        let pool = web::Data::new(pool);
        let publisher = web::Data::new(publisher);
        let log_partitions = web::Data::new(crate::routes::messages::LogPartitions {
            topic: topics.messages.clone(),
            partitions,
        });

        let caps = web::Data::new(crate::db::conversations::Caps {
            conversations_per_user: settings.max_conversations_per_user,
            participants_per_group: settings.max_group_participants,
        });
        let http_metrics = web::Data::new(service_kit::metrics::HttpMetrics::new(&registry));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(pool.clone())
                .app_data(verifier.clone())
                .app_data(http_metrics.clone())
                .wrap(actix_web::middleware::from_fn(service_kit::metrics::record))
                .app_data(registry.clone())
                .app_data(readiness.clone())
                .app_data(publisher.clone())
                .app_data(caps.clone())
                .app_data(log_partitions.clone())
                .configure(service_kit::edge)
                // A group may start with 10,000 participants (~400 KB of ids).
                .app_data(service_kit::error::json_config_with_limit(1 << 20))
                .configure(crate::routes::configure)
        })
        .workers(settings.workers)
        .listen(listener)?
        .run();
        Ok(Self {
            port,
            server,
            shutdown,
            tasks,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn stop_handle(&self) -> StopHandle {
        StopHandle {
            server: self.server.handle(),
            shutdown: self.shutdown.clone(),
        }
    }

    /// Serves until the server stops (signal or `StopHandle`), then stops
    /// the Kafka tasks and waits for them.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        result
    }
}
