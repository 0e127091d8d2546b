use kontor_connectors::MemoryRegistry;

use crate::config::ConfigFile;
use crate::startup::Application;

pub(super) async fn run(config: ConfigFile) -> anyhow::Result<u8> {
    let serve = config.server.enabled;
    let app = Application::build(config, MemoryRegistry::default()).await?;
    let listener = if serve {
        Some(app.listen().await?)
    } else {
        None
    };
    if let Some(listener) = &listener {
        tracing::info!(message = "Serving HTTP.", address = %listener.local_addr()?);
    }
    app.run(super::shutdown_on_signals(), listener).await?;
    Ok(0)
}
