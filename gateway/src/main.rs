use clap::Parser as _;
use gateway::{settings::Settings, startup::Application};

/// jemalloc keeps its bookkeeping out of the blocks it hands out, so the
/// parts of each connection's 8 KiB read and write buffers (actix-http's
/// fixed size) that are never written stay out of RSS: 14 KB per idle
/// connection instead of 18.5 with glibc's malloc (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    service_kit::logging::init();
    let settings = Settings::parse();
    let app = Application::build(settings).await?;
    log::info!("gateway: listening on port {}", app.port());
    app.run_until_stopped().await?;
    log::info!("gateway: stopped");
    Ok(())
}
