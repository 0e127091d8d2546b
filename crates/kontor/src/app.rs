//! The application: the store, every tenant's connections and flows, and the runner and
//! scheduler that bring them to life. It knows nothing of HTTP: `startup` serves it.

use std::collections::BTreeMap;
use std::sync::Arc;

use kontor_connector::Connector;
use kontor_connectors::{BuildContext, MemoryRegistry};
use kontor_engine::{
    Current, HandlerRegistry, Runner, ScheduledFlow, Scheduler, Shutdown, Store, StoreError,
    SystemClock,
};
use kontor_flows::{BuiltFlow, ConfigProblem, Flow, build_flows, handler_registry};
use tokio::net::TcpListener;

use crate::config::{ConfigError, ConfigFile, TenantConfig};
use crate::secrets::{Keyring, api_settings_problems, open_tenant, seal_tenant};
use kontor_engine::tenants::TenantConfigRecord;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("tenant `{tenant}` cannot start:\n{}", problems.iter().map(|p| format!("  tenants.{tenant}.{p}")).collect::<Vec<_>>().join("\n"))]
    Tenant {
        tenant: String,
        problems: Vec<ConfigProblem>,
    },
    /// Settings sent through the API carry a secret they may not (see
    /// [`crate::secrets::api_settings_problems`]).
    #[error("tenant `{tenant}`: settings sent through the API refused:\n{}", problems.iter().map(|p| format!("  tenants.{tenant}.{p}")).collect::<Vec<_>>().join("\n"))]
    SecretRefused {
        tenant: String,
        problems: Vec<ConfigProblem>,
    },
    #[error("no tenant has a flow named `{flow}`{}", if known.is_empty() { String::new() } else { format!(" (flows: {})", known.join(", ")) })]
    UnknownFlow { flow: String, known: Vec<String> },
    #[error("several tenants have a flow named `{flow}` ({}); say which with --tenant", tenants.join(", "))]
    AmbiguousFlow { flow: String, tenants: Vec<String> },
    #[error("cannot serve HTTP on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Job(kontor_engine::JobError),
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SecretsError),
}

impl AppError {
    /// Configuration errors exit with 2; everything else with 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Config(_)
            | AppError::Secrets(_)
            | AppError::Tenant { .. }
            | AppError::SecretRefused { .. }
            | AppError::UnknownFlow { .. }
            | AppError::AmbiguousFlow { .. } => 2,
            _ => 1,
        }
    }
}

/// One tenant, built and ready to run.
pub struct LiveTenant {
    pub config: TenantConfig,
    pub revision: i64,
    pub connections: BTreeMap<String, Arc<dyn Connector>>,
    pub flows: Vec<BuiltFlow>,
}

/// A tenant whose stored configuration could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenTenant {
    pub revision: i64,
    pub error: String,
}

/// Every tenant as built from the store's configuration at one moment.
#[derive(Default)]
pub struct Tenants {
    pub running: BTreeMap<String, Arc<LiveTenant>>,
    /// Tenants whose stored configuration could not be built, and why.
    pub broken: BTreeMap<String, BrokenTenant>,
}

impl Tenants {
    pub fn get(&self, tenant: &str) -> Option<&Arc<LiveTenant>> {
        self.running.get(tenant)
    }

    pub fn all_flows(&self) -> Vec<Arc<dyn Flow>> {
        self.running
            .values()
            .flat_map(|t| t.flows.iter().map(|f| f.flow.clone()))
            .collect()
    }
}

/// What a reload did to one tenant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reloaded {
    pub tenant: String,
    /// `started`, `restarted`, `stopped` or `broken`.
    pub change: &'static str,
    pub revision: i64,
}

pub struct App {
    pub config: ConfigFile,
    pub store: Store,
    /// The tenants running now; replaced whole when their stored configuration changes.
    tenants: Current<Tenants>,
    /// The job handlers and schedules of the tenants running now, as the runner and the
    /// scheduler read them.
    handlers: Current<HandlerRegistry>,
    schedules: Current<Vec<ScheduledFlow>>,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
    pub memory: MemoryRegistry,
    /// Orders submitted through the API, read by `api` connections.
    inbox: Arc<dyn kontor_connectors::inbox::OrderInbox>,
    /// Opens the connections' sealed secrets.
    keyring: Keyring,
    /// The address the HTTP server is bound to, once it is.
    bound: std::sync::OnceLock<std::net::SocketAddr>,
}

/// What `config apply` did to one tenant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppliedTenant {
    pub tenant: String,
    /// `created`, `updated`, `unchanged` or `removed`.
    pub change: &'static str,
    pub revision: i64,
}

/// Writes the file's tenants into the store (the store is the source of truth at run
/// time). With `prune`, tenants the file no longer has are removed.
pub async fn apply_config(
    store: &Store,
    config: &ConfigFile,
    prune: bool,
) -> Result<Vec<AppliedTenant>, AppError> {
    let keyring = Keyring::from_settings(&config.store.secrets)?;
    let stored = store.tenant_configs().await?;
    let existing: BTreeMap<String, i64> = stored
        .iter()
        .map(|t| (t.tenant.clone(), t.revision))
        .collect();
    let mut applied = Vec::new();
    for (id, tenant) in &config.tenants {
        let before = stored
            .iter()
            .find(|t| &t.tenant == id)
            .and_then(|t| TenantConfig::from_document(id, t.document.clone()).ok());
        let mut sealed = tenant.clone();
        seal_tenant(id, &mut sealed, &keyring, before.as_ref()).map_err(|problems| {
            AppError::Tenant {
                tenant: id.clone(),
                problems: strip_prefix(id, problems),
            }
        })?;
        let revision = store
            .put_tenant_config(id, &sealed.to_document(), None)
            .await?;
        let change = match existing.get(id) {
            None => "created",
            Some(before) if *before == revision => "unchanged",
            Some(_) => "updated",
        };
        applied.push(AppliedTenant {
            tenant: id.clone(),
            change,
            revision,
        });
    }
    if prune {
        for (id, revision) in existing {
            if !config.tenants.contains_key(&id) && store.delete_tenant_config(&id).await? {
                applied.push(AppliedTenant {
                    tenant: id,
                    change: "removed",
                    revision,
                });
            }
        }
    }
    Ok(applied)
}

impl App {
    /// Opens the store and builds every tenant it configures. On a store with no
    /// configuration yet, the file's tenants are applied first.
    pub async fn open(config: ConfigFile, memory: MemoryRegistry) -> Result<App, AppError> {
        let keyring = Keyring::from_settings(&config.store.secrets)?;
        let store = Store::open_with(config.store_options(), Arc::new(SystemClock)).await?;
        let mut stored = store.tenant_configs().await?;
        if stored.is_empty() && !config.tenants.is_empty() {
            tracing::info!(
                message = "The store has no configuration yet; applying the file's.",
                tenants = config.tenants.len()
            );
            apply_config(&store, &config, false).await?;
            stored = store.tenant_configs().await?;
        }
        let app = App {
            config,
            store: store.clone(),
            tenants: Current::new(Tenants::default()),
            handlers: Current::new(HandlerRegistry::default()),
            schedules: Current::new(Vec::new()),
            reloading: tokio::sync::Mutex::new(()),
            memory,
            inbox: crate::inbox::StoreInbox::shared(store.clone()),
            keyring,
            bound: std::sync::OnceLock::new(),
        };
        app.install(stored).await;
        Ok(app)
    }

    /// The tenants running now.
    pub fn tenants(&self) -> Arc<Tenants> {
        self.tenants.get()
    }

    /// One running tenant, as it is now.
    pub fn tenant(&self, tenant: &str) -> Option<Arc<LiveTenant>> {
        self.tenants.get().get(tenant).cloned()
    }

    /// Brings the running tenants in line with the store: a tenant whose configuration
    /// changed is rebuilt and swapped in (jobs already running finish with the old one,
    /// later jobs get the new), a new one started, a removed one stopped.
    pub async fn reload(&self) -> Result<Vec<Reloaded>, AppError> {
        let stored = self.store.tenant_configs().await?;
        Ok(self.install(stored).await)
    }

    async fn install(&self, stored: Vec<TenantConfigRecord>) -> Vec<Reloaded> {
        let _one_at_a_time = self.reloading.lock().await;
        let before = self.tenants.get();
        let mut next = Tenants::default();
        let mut changes = Vec::new();
        for record in stored {
            let id = record.tenant.clone();
            let revision = record.revision;
            if let Some(live) = before.running.get(&id).filter(|l| l.revision == revision) {
                next.running.insert(id, live.clone());
                continue;
            }
            if let Some(broken) = before.broken.get(&id).filter(|b| b.revision == revision) {
                next.broken.insert(id, broken.clone());
                continue;
            }
            let was_running = before.running.contains_key(&id);
            match self.build_tenant(&id, record.document, revision) {
                Ok(live) => {
                    let change = if was_running { "restarted" } else { "started" };
                    tracing::info!(message = "Tenant configuration loaded.", tenant = %id, revision, change);
                    changes.push(Reloaded {
                        tenant: id.clone(),
                        change,
                        revision,
                    });
                    next.running.insert(id, Arc::new(live));
                }
                Err(error) => {
                    tracing::error!(message = "Tenant not started: its configuration has problems.", tenant = %id, revision, %error);
                    changes.push(Reloaded {
                        tenant: id.clone(),
                        change: "broken",
                        revision,
                    });
                    next.broken.insert(
                        id,
                        BrokenTenant {
                            revision,
                            error: error.to_string(),
                        },
                    );
                }
            }
        }
        for (id, live) in &before.running {
            if !next.running.contains_key(id) && !next.broken.contains_key(id) {
                tracing::info!(message = "Tenant removed from the configuration; stopped.", tenant = %id);
                changes.push(Reloaded {
                    tenant: id.clone(),
                    change: "stopped",
                    revision: live.revision,
                });
            }
        }
        if !changes.is_empty() {
            self.handlers.set(handler_registry(&next.all_flows()));
            self.schedules.set(
                next.running
                    .values()
                    .flat_map(|t| t.flows.iter().filter_map(BuiltFlow::scheduled))
                    .collect(),
            );
            self.tenants.set(next);
        }
        changes
    }

    fn build_tenant(
        &self,
        id: &str,
        document: serde_json::Value,
        revision: i64,
    ) -> Result<LiveTenant, AppError> {
        let mut config = TenantConfig::from_document(id, document)?;
        open_tenant(id, &mut config, &self.keyring).map_err(|problems| AppError::Tenant {
            tenant: id.to_owned(),
            problems: strip_prefix(id, problems),
        })?;
        let problems = config.problems(id);
        if !problems.is_empty() {
            return Err(AppError::Tenant {
                tenant: id.to_owned(),
                problems: strip_prefix(id, problems),
            });
        }
        let mut connections = BTreeMap::new();
        let tenant_dir = self.tenant_dir(id);
        for (name, connection) in &config.connections {
            let ctx = BuildContext {
                tenant: id,
                connection: name,
                tenant_dir: &tenant_dir,
                memory: &self.memory,
                inbox: Some(&self.inbox),
            };
            let built = connection.build(&ctx).map_err(|e| AppError::Tenant {
                tenant: id.to_owned(),
                problems: vec![ConfigProblem::new(format!("connections.{name}"), e.message)],
            })?;
            connections.insert(name.clone(), built);
        }
        let flows = build_flows(
            id,
            &config.flows,
            &connections,
            Arc::new(config.mappings.clone()),
        )
        .map_err(|problems| AppError::Tenant {
            tenant: id.to_owned(),
            problems,
        })?;
        Ok(LiveTenant {
            config,
            revision,
            connections,
            flows,
        })
    }

    /// Writes one tenant's configuration as the API and the console edit it: its secrets
    /// only values or the saved ones unchanged (nothing that reads the host), its inline
    /// secrets sealed, checked by building it, stored unless someone changed it since
    /// `expected_revision`, and running at once. Returns the new revision.
    pub async fn update_tenant(
        &self,
        id: &str,
        config: &TenantConfig,
        expected_revision: i64,
    ) -> Result<i64, AppError> {
        let before = self
            .store
            .tenant_config(id)
            .await?
            .and_then(|record| TenantConfig::from_document(id, record.document).ok());
        let problems: Vec<ConfigProblem> = config
            .connections
            .iter()
            .flat_map(|(name, settings)| {
                let saved = before.as_ref().and_then(|b| b.connections.get(name));
                api_settings_problems(name, settings, saved)
            })
            .collect();
        if !problems.is_empty() {
            return Err(AppError::SecretRefused {
                tenant: id.to_owned(),
                problems,
            });
        }
        let mut sealed = config.clone();
        seal_tenant(id, &mut sealed, &self.keyring, before.as_ref()).map_err(|problems| {
            AppError::Tenant {
                tenant: id.to_owned(),
                problems: strip_prefix(id, problems),
            }
        })?;
        let document = sealed.to_document();
        // Refused here rather than stored and left broken.
        self.build_tenant(id, document.clone(), expected_revision)?;
        let revision = self
            .store
            .put_tenant_config(id, &document, Some(expected_revision))
            .await?;
        self.reload().await?;
        Ok(revision)
    }

    /// Refuses connection settings sent through the API ("test these settings") that
    /// carry a secret they may not, compared with the saved settings of `name`.
    pub async fn check_api_connection(
        &self,
        tenant: &str,
        name: &str,
        settings: &kontor_connectors::ConnectionConfig,
    ) -> Result<(), AppError> {
        let saved = self
            .store
            .tenant_config(tenant)
            .await?
            .and_then(|record| TenantConfig::from_document(tenant, record.document).ok())
            .and_then(|config| config.connections.get(name).cloned());
        let problems = api_settings_problems(name, settings, saved.as_ref());
        if problems.is_empty() {
            Ok(())
        } else {
            Err(AppError::SecretRefused {
                tenant: tenant.to_owned(),
                problems,
            })
        }
    }

    /// The folder of a tenant's files (journals, certificates): `data_dir/tenants/<id>`.
    pub fn tenant_dir(&self, tenant: &str) -> std::path::PathBuf {
        kontor_connectors::tenant_files::tenant_dir(&self.config.data_dir, tenant)
    }

    /// Builds one connection from `settings`, its sealed secrets opened, without
    /// installing it ("test connection" tries settings before they are saved).
    pub fn build_connection(
        &self,
        tenant: &str,
        name: &str,
        settings: &kontor_connectors::ConnectionConfig,
    ) -> Result<Arc<dyn Connector>, AppError> {
        let mut one = TenantConfig::default();
        one.connections.insert(name.to_owned(), settings.clone());
        let problems: Vec<ConfigProblem> = one
            .problems(tenant)
            .into_iter()
            .filter(|p| p.key.contains(".connections."))
            .collect();
        let problems = if problems.is_empty() {
            open_tenant(tenant, &mut one, &self.keyring)
                .err()
                .unwrap_or_default()
        } else {
            problems
        };
        if !problems.is_empty() {
            return Err(AppError::Tenant {
                tenant: tenant.to_owned(),
                problems: strip_prefix(tenant, problems),
            });
        }
        let settings = one.connections.get(name).unwrap_or(settings);
        settings
            .build(&BuildContext {
                tenant,
                connection: name,
                tenant_dir: &self.tenant_dir(tenant),
                memory: &self.memory,
                inbox: Some(&self.inbox),
            })
            .map_err(|e| AppError::Tenant {
                tenant: tenant.to_owned(),
                problems: vec![ConfigProblem::new(format!("connections.{name}"), e.message)],
            })
    }

    pub fn flows(&self) -> Vec<Arc<dyn Flow>> {
        self.tenants.get().all_flows()
    }

    /// The job handlers of the tenants running now.
    pub fn handlers(&self) -> HandlerRegistry {
        (*self.handlers.get()).clone()
    }

    pub fn scheduled(&self) -> Vec<ScheduledFlow> {
        (*self.schedules.get()).clone()
    }

    /// A flow by name, in `tenant` or in the only tenant that has one by that name.
    pub fn flow(&self, tenant: Option<&str>, name: &str) -> Result<Arc<dyn Flow>, AppError> {
        let matches: Vec<Arc<dyn Flow>> = self
            .flows()
            .into_iter()
            .filter(|f| f.context().name == name && tenant.is_none_or(|t| f.context().tenant == t))
            .collect();
        match matches.len() {
            1 => Ok(matches[0].clone()),
            0 => Err(AppError::UnknownFlow {
                flow: name.to_owned(),
                known: self
                    .flows()
                    .iter()
                    .map(|f| format!("{}/{}", f.context().tenant, f.context().name))
                    .collect(),
            }),
            _ => Err(AppError::AmbiguousFlow {
                flow: name.to_owned(),
                tenants: matches.iter().map(|f| f.context().tenant.clone()).collect(),
            }),
        }
    }

    /// Enqueues what a change in one of a tenant's systems calls for (a webhook or event
    /// said so): the same jobs a poll would enqueue, so the work is done once.
    pub async fn on_change(
        &self,
        tenant: &str,
        change: &kontor_flows::Change,
    ) -> Result<Vec<kontor_engine::EnqueueOutcome>, AppError> {
        let mut outcomes = Vec::new();
        for job in self.jobs_for(tenant, change) {
            outcomes.push(self.store.enqueue(job).await?);
        }
        Ok(outcomes)
    }

    /// The jobs `tenant`'s flows want run for `change` (what a poll would enqueue).
    pub fn jobs_for(
        &self,
        tenant: &str,
        change: &kontor_flows::Change,
    ) -> Vec<kontor_engine::NewJob> {
        self.tenant(tenant)
            .map(|live| {
                live.flows
                    .iter()
                    .flat_map(|built| built.flow.jobs_for(change))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Binds the HTTP listener (port 0 picks a free one, as tests do).
    pub async fn listen(&self) -> Result<TcpListener, AppError> {
        let addr = self.config.server.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| AppError::Listen {
                addr: addr.to_string(),
                source,
            })?;
        if let Ok(bound) = listener.local_addr() {
            let _ = self.bound.set(bound);
        }
        Ok(listener)
    }

    /// Where people reach Kontor, without a trailing slash: `server.public_url`, else
    /// the address it listens on.
    pub fn public_url(&self) -> String {
        match (&self.config.server.public_url, self.bound.get()) {
            (Some(url), _) => url.trim_end_matches('/').to_owned(),
            (None, Some(bound)) => format!("http://{bound}"),
            (None, None) => format!("http://{}", self.config.server.listen),
        }
    }

    /// Runs workers, scheduler, queue gauges and the configuration watch until
    /// `shutdown`. Serving HTTP beside them is [`crate::startup::Application`]'s.
    pub async fn run(self: &Arc<Self>, shutdown: Shutdown) {
        let runner = Runner::with_current(
            self.store.clone(),
            self.handlers.clone(),
            self.config.runner_config(),
        );
        let scheduler = Scheduler::with_current(self.store.clone(), self.schedules.clone());
        let gauges = crate::telemetry::report_queue(self.store.clone(), shutdown.clone());
        let watch = self.watch_configuration(shutdown.clone());
        tracing::info!(
            message = "Kontor is running.",
            tenants = self.tenants.get().running.len(),
            flows = self.flows().len(),
            store = %self.store.backend(),
            workers = self.config.runner.workers,
        );
        tokio::join!(
            runner.run(shutdown.clone()),
            scheduler.run(shutdown.clone()),
            gauges,
            watch
        );
        tracing::info!(message = "Kontor stopped.");
    }
}

impl App {
    /// Picks up configuration changed in the store by another process (`kontor config
    /// apply`, another instance's API) every `runner.config_poll`. Changes made through
    /// this process's own API are reloaded at once.
    async fn watch_configuration(&self, shutdown: Shutdown) {
        let every = self.config.runner.config_poll;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            if let Err(error) = self.reload().await {
                tracing::warn!(message = "Cannot read the configuration from the store; keeping the running one.", %error);
            }
        }
    }
}

/// Flow problems come back keyed from the tenant (`flows.x.to`); keep them that way.
fn strip_prefix(tenant: &str, problems: Vec<ConfigProblem>) -> Vec<ConfigProblem> {
    let prefix = format!("tenants.{tenant}.");
    problems
        .into_iter()
        .map(|p| ConfigProblem::new(p.key.strip_prefix(&prefix).unwrap_or(&p.key), p.message))
        .collect()
}
