use bff::{settings::Settings, startup::Application};

/// jemalloc gives the memory of a freed password hash (19 MiB, Argon2id)
/// back to the system within seconds; glibc's malloc kept it in each
/// thread's arena, so a sign-up flood left the bff at 330 MiB for good
/// (BENCHMARKS.md, "Sign-up flood").
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
use clap::Parser as _;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    service_kit::logging::init();
    let settings = Settings::parse();
    let app = Application::build(settings).await?;
    log::info!("bff: listening on http://127.0.0.1:{}", app.port());
    app.run_until_stopped().await?;
    Ok(())
}
