//! Kontor assembled in one place (zero2prod's `Application::build`): the application,
//! and beside it, when it serves, the HTTP router on its listener. The command line, the
//! demo, the tests and the benchmarks all start Kontor through here.

use std::sync::Arc;

use kontor_connectors::MemoryRegistry;
use kontor_engine::Shutdown;
use tokio::net::TcpListener;

use crate::app::{App, AppError};
use crate::config::ConfigFile;
use crate::server::{ServerState, router};

/// A built Kontor, ready to run. Clones share one application.
#[derive(Clone)]
pub struct Application {
    app: Arc<App>,
}

impl Application {
    /// Opens the store, applies nothing, starts every tenant's connections and flows.
    pub async fn build(config: ConfigFile, memory: MemoryRegistry) -> Result<Self, AppError> {
        Ok(Application {
            app: Arc::new(App::open(config, memory).await?),
        })
    }

    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Binds the configured listen address.
    pub async fn listen(&self) -> Result<TcpListener, AppError> {
        self.app.listen().await
    }

    /// Runs until `shutdown`: workers, scheduler and, given a listener, the HTTP server.
    pub async fn run(
        &self,
        shutdown: Shutdown,
        listener: Option<TcpListener>,
    ) -> Result<(), AppError> {
        let server = async {
            let Some(listener) = listener else { return };
            let state = ServerState::new(self.app.clone(), crate::telemetry::metrics_handle());
            let service =
                router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
            let serving = axum::serve(listener, service)
                .with_graceful_shutdown(shutdown.clone().cancelled_owned());
            if let Err(error) = serving.await {
                tracing::error!(message = "HTTP server stopped.", %error);
            }
        };
        tokio::join!(self.app.run(shutdown.clone()), server);
        Ok(())
    }
}
