//! A broker of one test's own, for tests that stop and restart it.

use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

use actors_common::kafka::Topics;

use crate::process::{free_port, scratch_dir, start_tansu_with, wait_for_port};

/// A tansu broker that only this test uses, with durable storage (a SQLite
/// file in its own folder), so a stop and a start look like a real outage:
/// the broker comes back with its topics and records. Dropping it stops it;
/// it also dies with the thread that started it.
#[derive(Debug)]
pub struct PrivateBroker {
    pub bootstrap: String,
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl PrivateBroker {
    /// Starts a broker on a free port and creates `topics` on it.
    pub async fn start(topics: &Topics) -> Self {
        let port = free_port().unwrap_or_else(|e| panic!("no free port: {e}"));
        let dir = scratch_dir()
            .unwrap_or_else(|e| panic!("scratch dir: {e}"))
            .join(format!("broker-{port}"));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let mut broker = Self {
            bootstrap: format!("127.0.0.1:{port}"),
            port,
            dir,
            child: None,
        };
        broker.resume();
        crate::create_topics(&broker.bootstrap, topics)
            .await
            .unwrap_or_else(|e| panic!("creating topics: {e}"));
        broker
    }

    /// Kills the broker: clients see it as unreachable.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, with the data it had.
    pub fn resume(&mut self) {
        self.stop();
        let child = start_tansu_with(&self.dir, self.port, "sqlite://tansu.db")
            .unwrap_or_else(|e| panic!("starting tansu: {e}"));
        self.child = Some(child);
        wait_for_port(self.port, Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}"));
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        self.stop();
    }
}
