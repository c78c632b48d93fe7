//! Building and running the whole service: open the store, load the policy, open the
//! projections, bind the listener, and start the follower, which first catches the
//! projections up with the log while the server already answers (`/readyz` says 503 until
//! it has). Tests call [`Application::build`] with port 0, then [`Application::caught_up`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::auth::ModeratorAuth;
use crate::captcha::Captcha;
use crate::config::Settings;
use crate::http::{self, AppParts, AppState};
use crate::limits::Limiters;
use crate::policy::PolicyHandle;
use crate::service::{Service, View, runner};
use crate::store::StoreError;
use crate::store::projection_db::{ProjectionDb, ProjectionDbError};

/// Why the application could not start. The messages name the step; the cause is the
/// `source`, so `{:#}` (anyhow's chain) prints each part once.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The event store could not be opened.
    #[error("cannot open the event store")]
    Store(#[from] StoreError),
    /// The policy files are invalid.
    #[error("cannot load the policy")]
    Policy(#[from] crate::policy::PolicyError),
    /// The captcha key could not be read or created.
    #[error("cannot prepare the captcha key")]
    Captcha(#[from] crate::captcha::CaptchaError),
    /// The projection database could not be opened or read.
    #[error("cannot open the projection database")]
    Projections(#[from] ProjectionDbError),
    /// The projection database could not be built from the log.
    #[error("cannot build the projection database")]
    Bulk(#[from] crate::service::bulk_build::BulkBuildError),
    /// SQLite's memory budget (`sqlite_memory_bytes`) could not be set.
    #[error("cannot set SQLite's memory budget")]
    SqliteBudget(#[source] StoreError),
    /// The listener could not be bound, or the data folder created.
    #[error("cannot prepare the data folder or the listener")]
    Io(#[from] std::io::Error),
}

/// A built application: bound to its port, its follower catching the projections up with
/// the log (see [`Application::caught_up`]).
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    addr: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Stops the background tasks, once the requests in flight are answered.
    tasks_stop: CancellationToken,
    store: Arc<dyn crate::store::EventStore>,
    /// True once the follower has caught up with the log as it stood at start.
    caught_up: watch::Receiver<bool>,
    connections: crate::serve::ConnLimits,
    trusted_proxies: Vec<ipnet::IpNet>,
    _policy_watch: Option<crate::policy::WatchGuard>,
}

fn metrics_handle() -> metrics_exporter_prometheus::PrometheusHandle {
    use std::sync::OnceLock;
    static HANDLE: OnceLock<metrics_exporter_prometheus::PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Several applications in one test process share the first recorder.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

impl Application {
    /// Builds everything, binds the listener and starts the follower, whose first phase folds
    /// what the log holds beyond the projection database's position (a long stop's backlog,
    /// or a new replica's whole log) while [`Application::run`] already serves: `/healthz`
    /// answers at once, `/readyz` 503 until the catch-up reaches the log's end, and reads show
    /// what is folded so far. Await [`Application::caught_up`] for the old "caught up on
    /// return". Fails only on what a retry cannot mend (the store, policy, key or projection
    /// file cannot be opened); a failed read of the log during the catch-up is retried.
    pub async fn build(settings: Settings) -> Result<Application, StartError> {
        // The recorder first, so that what background tasks set at their start (the policy
        // drift gauge) is recorded rather than dropped by the no-op default.
        let metrics = metrics_handle();
        crate::background::set_nice(settings.projections.background_nice);
        std::fs::create_dir_all(&settings.data_dir)?;
        let store = crate::store::open_store(settings.store.as_deref(), &settings.data_dir).await?;
        let policy = PolicyHandle::load(settings.policies.clone())?;
        let secret = match &settings.captcha_secret {
            Some(s) => Sha256::digest(s.expose_secret().as_bytes()).to_vec(),
            None => Captcha::load_or_create_secret(&settings.data_dir)?,
        };
        // The reporter key is derived, not stored: a reporter's id stays stable across restarts.
        let reporter_key: [u8; 32] = Sha256::new()
            .chain_update(b"saring reporter id")
            .chain_update(&secret)
            .finalize()
            .into();
        let captcha = Captcha::new(
            secret,
            settings.captcha_config(),
            crate::http::messages::sum_words,
        )
        .with_shared_burns(store.shared_burned_tokens());
        let limits = settings.limits.as_ref().map(Limiters::new);

        let db_path = ProjectionDb::path_in(&settings.data_dir);
        // A missing file, or one of another format or backend, is built in bulk mode at start
        // (as `saring projections rebuild` does), with progress logged: the server has nothing
        // correct to serve until it is, and the old file's format cannot be read by this code.
        if let Err(ProjectionDbError::Missing { .. } | ProjectionDbError::Foreign { .. }) =
            ProjectionDb::open_existing(&db_path, store.backend_name())
        {
            let mut logged = std::time::Instant::now();
            let built = crate::service::bulk_build::build_in_bulk(
                store.as_ref(),
                &db_path,
                &settings.projections,
                |position| {
                    if logged.elapsed() > Duration::from_secs(5) {
                        logged = std::time::Instant::now();
                        tracing::info!(position, "building the projections from the log (bulk)");
                    }
                },
            )
            .await?;
            tracing::info!(
                position = built.position,
                comments = built.comments,
                seconds = built.total.as_secs_f64(),
                "built the projections from the log in bulk mode"
            );
        }
        // After the bulk build, so that its large page cache is not held to the serving budget.
        crate::store::sqlite::limit_memory(settings.sqlite_memory_bytes)
            .map_err(StartError::SqliteBudget)?;
        let (db, head, rebuilding) = {
            let (path, backend) = (db_path.clone(), store.backend_name());
            tokio::task::spawn_blocking(move || ProjectionDb::open(&path, backend))
                .await
                .map_err(std::io::Error::other)??
        };
        tracing::info!(
            position = head.position,
            comments = db.comment_count()?,
            rebuilding,
            "loaded the projections from {}",
            crate::store::projection_db::FILE_NAME
        );
        // The JSON snapshot of earlier versions is no longer read.
        let _ = std::fs::remove_file(
            settings
                .data_dir
                .join("snapshots")
                .join("projections.snapshot.json"),
        );
        let view = Arc::new(View::on_disk(Arc::new(db), head, &settings.projections));

        let service = Arc::new(
            Service::new(
                store.clone(),
                view.clone(),
                policy.clone(),
                captcha,
                limits,
                settings.threads.clone(),
                reporter_key,
            )
            .with_learning(settings.policy.learn)
            .with_webhooks(crate::service::webhooks::Webhooks::start(
                &settings.webhooks,
            ))
            .with_waves(settings.waves.clone()),
        );
        // Bans and pre-moderated threads are read from their own streams, not the
        // projections: they hold for the posts answered during the catch-up.
        service.refresh_bans().await?;
        service.refresh_premoderation().await?;
        let mut tasks = Vec::new();
        let tasks_stop = CancellationToken::new();
        let (caught_up_tx, caught_up) = watch::channel(false);
        // The policy in force is recorded once the projections know the log's last activation
        // (before, they may hold an older one, and a duplicate would be appended), and before
        // `/readyz` says ready, so a ready server's log names the policy it runs.
        let record_policy = {
            let (service, policy) = (service.clone(), policy.clone());
            async move {
                if let Err(e) = service.record_policy(&policy.current()).await {
                    tracing::error!(error = %e, "could not record the policy version");
                }
            }
        };
        tasks.push(tokio::spawn(runner::catch_up_and_follow(
            store.clone(),
            view.clone(),
            tasks_stop.clone(),
            record_policy,
            caught_up_tx,
        )));
        // The audit window fills in the background (its timer's first tick is at once): reading
        // back up to 200,000 positions should not hold up the start.
        tasks.push(tokio::spawn(until_stopped(
            tasks_stop.clone(),
            refresh_bans(service.clone()),
        )));
        tasks.push(tokio::spawn(until_stopped(
            tasks_stop.clone(),
            // Subscribed now, so that a reload during the catch-up is recorded after it.
            once_caught_up(
                caught_up.clone(),
                record_policy_changes(service.clone(), policy.subscribe()),
            ),
        )));
        tasks.push(tokio::spawn(until_stopped(
            tasks_stop.clone(),
            prune_limiters(service.clone()),
        )));
        if settings.privacy.purge_spam_days > 0 || settings.privacy.network_days > 0 {
            tasks.push(tokio::spawn(until_stopped(
                tasks_stop.clone(),
                apply_retention(store.clone(), settings.privacy.clone()),
            )));
        }
        #[cfg(unix)]
        tasks.push(tokio::spawn(until_stopped(
            tasks_stop.clone(),
            reload_on_sighup(policy.clone()),
        )));
        // A reload on another replica reaches this one through its PolicyActivated event; the
        // old activations the catch-up folds past are history, not reloads to follow.
        tasks.push(tokio::spawn(until_stopped(
            tasks_stop.clone(),
            once_caught_up(caught_up.clone(), {
                let (policy, view) = (policy.clone(), view.clone());
                async move {
                    let applied = view.subscribe_position();
                    crate::policy::follow::follow_log(policy, applied, move || {
                        view.read(|p| p.policy_version().map(str::to_owned))
                    })
                    .await
                }
            }),
        )));
        let policy_watch = match settings.policy.watch.then(|| policy.watch_files()) {
            None => None,
            Some(Ok(guard)) => Some(guard),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "policy files are not watched; reload with SIGHUP or the API");
                None
            }
        };

        let state = AppState::new(AppParts {
            service,
            auth: ModeratorAuth::new(&settings.moderator_tokens, &settings.moderator_hashes),
            trusted_proxies: settings.trusted_proxies.clone(),
            site_origins: settings.site_origins.clone(),
            threads: http::thread_cache::ThreadCache::with_budget(
                settings.projections.page_cache_bytes,
            ),
            metrics,
            request_timeout: Duration::from_secs(settings.connections.request_seconds.max(1)),
        });
        let console = crate::console::router(state.clone(), &settings.console);
        let listener = TcpListener::bind(settings.listen).await?;
        let addr = listener.local_addr()?;
        Ok(Application {
            listener,
            router: http::router(state).merge(console),
            addr,
            tasks,
            tasks_stop,
            store,
            caught_up,
            connections: settings.connections.clone(),
            trusted_proxies: settings.trusted_proxies.clone(),
            _policy_watch: policy_watch,
        })
    }

    /// The whole router, to drive requests in-process without a socket (the fuzz target for
    /// request bodies does; a request without a peer address counts as from 127.0.0.1).
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    /// The event store the service appends to, for in-process tools and measurements that
    /// append beside it (its follower folds their events like the service's own; a second
    /// process cannot: SQLite's writer numbers positions in memory).
    pub fn store(&self) -> Arc<dyn crate::store::EventStore> {
        self.store.clone()
    }

    /// Completes once the projections have caught up with the log as it stood at start (what
    /// `/readyz` 200 says), for tests and tools that want the old "caught up on build". The
    /// follower runs from [`Application::build`] on, so this completes without
    /// [`Application::run`]; it also completes if the follower was stopped first.
    pub async fn caught_up(&self) {
        let _ = self.caught_up.clone().wait_for(|done| *done).await;
    }

    /// The address actually bound (the port is chosen by the OS when 0 was asked).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then stops as [`Application::run`] does.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let stop = CancellationToken::new();
        let serving = self.run(stop.clone());
        tokio::pin!(serving);
        tokio::select! {
            result = &mut serving => return result,
            () = shutdown => stop.cancel(),
        }
        serving.await
    }

    /// Serves until `stop` is cancelled, then stops in order: no new connections, requests in
    /// flight answered (within `[connections] request_seconds` and a little more), the
    /// follower's last batch applied and written to the projection database.
    pub async fn run(self, stop: CancellationToken) -> std::io::Result<()> {
        // Our own accept loop (src/serve.rs): timeouts, connection caps, shedding idle sockets.
        let drain = Duration::from_secs(self.connections.request_seconds.max(1) + 5);
        let result = crate::serve::serve(
            self.listener,
            self.router,
            &self.connections,
            self.trusted_proxies,
            stop,
            drain,
        )
        .await;
        // The follower ran until now so that requests in flight could see their own writes.
        self.tasks_stop.cancel();
        for task in self.tasks {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "a background task failed");
            }
        }
        result
    }
}

/// Runs `task` once the follower has caught up (never, if it is stopped first).
async fn once_caught_up(
    mut caught_up: watch::Receiver<bool>,
    task: impl std::future::Future<Output = ()>,
) {
    if caught_up.wait_for(|done| *done).await.is_ok() {
        task.await;
    }
}

/// Runs `task` until `stop` is cancelled.
async fn until_stopped(stop: CancellationToken, task: impl std::future::Future<Output = ()>) {
    tokio::select! {
        () = stop.cancelled() => {},
        () = task => {},
    }
}

/// Records every change of the policy in force as a `PolicyActivated` event (none when the
/// log's last activation already names it).
async fn record_policy_changes(
    service: Arc<Service>,
    mut rx: watch::Receiver<Arc<crate::policy::Policy>>,
) {
    while rx.changed().await.is_ok() {
        let policy = rx.borrow_and_update().clone();
        tracing::info!(version = policy.version(), "policy in force");
        if let Err(e) = service.record_policy(&policy).await {
            tracing::error!(error = %e, "could not record the policy version");
        }
    }
}

/// Drops idle limiter keys and expired burned tokens every 30 s so a flood of distinct addresses cannot grow memory.
async fn prune_limiters(service: Arc<Service>) {
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    loop {
        tick.tick().await;
        service.prune();
    }
}

/// Purges old spam and rejected comments' bodies (`[privacy] purge_spam_days`) and drops old
/// network facts (`[privacy] network_days`) once at start and then hourly; a failed pass is
/// logged and the next hour tries again (nothing is lost: the pass appends, then deletes day
/// keys, and repeats what it did not finish).
async fn apply_retention(
    store: Arc<dyn crate::store::EventStore>,
    settings: crate::config::PrivacySettings,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match crate::privacy::retention::apply(store.as_ref(), &settings, chrono::Utc::now()).await
        {
            Ok(report)
                if report.purged > 0
                    || report.network_dropped > 0
                    || report.day_keys_deleted > 0 =>
            {
                tracing::info!(
                    purged = report.purged,
                    network_dropped = report.network_dropped,
                    day_keys_deleted = report.day_keys_deleted,
                    purge_spam_days = settings.purge_spam_days,
                    network_days = settings.network_days,
                    "applied the retention settings"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the retention pass failed; retrying in an hour"),
        }
    }
}

/// Bans and pre-moderated threads set through another replica reach this one within seconds;
/// the audit window and the spam waves follow the log.
async fn refresh_bans(service: Arc<Service>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        if let Err(e) = service.refresh_bans().await {
            tracing::warn!(error = %e, "could not read the bans stream; retrying");
        }
        if let Err(e) = service.refresh_premoderation().await {
            tracing::warn!(error = %e, "could not read the pre-moderation stream; retrying");
        }
        // Both start from a window behind the projections' position, which only means
        // "the last N events" once the catch-up has reached the log's end.
        if !service.view().is_ready() {
            continue;
        }
        if let Err(e) = service.refresh_audit().await {
            tracing::warn!(error = %e, "could not read the log for the audit window; retrying");
        }
        if let Err(e) = service.refresh_waves().await {
            tracing::warn!(error = %e, "could not read the log for spam waves; retrying");
        }
    }
}

#[cfg(unix)]
async fn reload_on_sighup(policy: Arc<PolicyHandle>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        match crate::service::reload_policy(&policy).await {
            Ok(p) => tracing::info!(version = p.version(), "policy reloaded on SIGHUP"),
            Err(e) => {
                tracing::error!(error = %e, "policy reload failed; the old policy stays in force")
            }
        }
    }
}
