use clap::Parser as _;
use gateway::{settings::Settings, startup::Application};

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
