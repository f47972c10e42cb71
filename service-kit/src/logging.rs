//! Logging: `env_logger`, `info` unless `RUST_LOG` says otherwise.

/// Initialises logging once; later calls (tests) are ignored.
pub fn init() {
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .try_init();
}
