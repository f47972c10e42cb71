use bff::{settings::Settings, startup::Application};
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
