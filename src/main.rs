//! The `saring` command: `serve` (the default), `policy check|test|backtest|train|eval`,
//! `hash-token`, `moderator add`, `import`, `export`, `backup`, `restore`, `privacy`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use saring::app::Application;
use saring::config::{ServeArgs, Settings};

/// mimalloc rather than glibc's malloc: the server makes many small, short-lived allocations per
/// request. Measured back to back (docs/loadtest.md): thread reads 94.5k vs 89.6k req/s, the
/// reader flow 10.6k vs 9.8k comments/s, for 9 MiB more resident memory at 100,000 comments.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Saring: self-hosted comment moderation and spam-captcha service for news sites.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Settings of `serve`, also accepted without the word `serve`.
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (the default).
    Serve(Box<ServeArgs>),
    /// Check, test and backtest spam policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Print the argon2 hash of a moderator token read from standard input, for `saring.toml`
    /// (not from the command line, where it would land in the shell history and `ps`).
    HashToken,
    /// Moderator accounts of the console at /admin.
    #[command(subcommand)]
    Moderator(ModeratorCommand),
    /// Import comments from WordPress, Disqus or Isso, or a log from `export events`.
    #[command(subcommand)]
    Import(saring::migrate::cli::ImportCommand),
    /// Export the log as JSON lines, or the threads as a WordPress (WXR) file.
    #[command(subcommand)]
    Export(saring::migrate::cli::ExportCommand),
    /// Copy the data folder consistently while the service runs.
    Backup(saring::migrate::cli::BackupArgs),
    /// Check a backup, or restore it into a new data folder.
    Restore(saring::migrate::cli::RestoreArgs),
    /// Rebuild or check the projections kept in the data folder.
    #[command(subcommand)]
    Projections(saring::service::projections_cli::ProjectionsCommand),
    /// Readers' data rights: export or erase everything stored about one reader.
    #[command(subcommand)]
    Privacy(saring::privacy::cli::PrivacyCommand),
}

#[derive(Subcommand)]
enum ModeratorCommand {
    /// Read a password from standard input (twice, unechoed, on a terminal) and print the
    /// `[[console.accounts]]` lines to add to saring.toml.
    Add {
        /// The moderator's name, recorded on every decision.
        name: String,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate a policy folder and print its rules by kind.
    Check {
        /// The policy folder (default ./policies).
        dir: Option<PathBuf>,
    },
    /// Score a CSV or JSON-lines file of comments offline, with a report where labels exist.
    Test {
        /// The policy folder.
        #[arg(long, default_value = "policies")]
        policy: PathBuf,
        /// The comments: CSV with a header, or JSON lines.
        file: PathBuf,
    },
    /// Replay every stored submission through a candidate policy and report what would change.
    Backtest {
        /// The candidate policy folder.
        #[arg(long)]
        policy: PathBuf,
        /// Also replay with what the site's moderators had taught by each comment's arrival,
        /// and print how the two runs compare.
        #[arg(long)]
        with_learned: bool,
        /// Store settings (data folder, store URL).
        #[command(flatten)]
        serve: Box<ServeArgs>,
    },
    /// Train the learned model from labelled JSON lines or CSV files.
    Train {
        /// Labelled files: JSON lines (`body`, `author`, `label`, `source`) or CSV (`CONTENT`,
        /// `AUTHOR`, `CLASS`).
        #[arg(required = true)]
        data: Vec<PathBuf>,
        /// Where to write the model, e.g. policies/model/judol.bin.
        #[arg(long)]
        out: PathBuf,
        /// Which lines to learn from, by the hash of their `source` (lines without one always).
        #[arg(long, value_enum, default_value = "train")]
        split: saring::policy::dataset::Split,
    },
    /// Precision, recall and false-positive rates with and without the model, on held-out data.
    Eval {
        /// The folder holding indonesian-judol/ and youtube-spam-collection/.
        datasets: PathBuf,
        /// The policy folder.
        #[arg(long, default_value = "policies")]
        policy: PathBuf,
        /// Screen each English video with a model retrained without it (for a model that was
        /// trained on the English files too).
        #[arg(long)]
        fold_english: bool,
    },
}

fn init_logs(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SARING_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let settings = Settings::resolve(args).context("reading the settings")?;
    init_logs(settings.json_logs);
    let app = Application::build(settings)
        .await
        .context("starting Saring")?;
    let addr = app.addr();
    // Tests and scripts wait for this line; keep its shape.
    println!("saring listening on http://{addr} (demo: http://{addr}/demo)");
    app.run_until(shutdown_signal())
        .await
        .context("serving HTTP")?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

async fn backtest(policy: PathBuf, with_learned: bool, args: ServeArgs) -> anyhow::Result<()> {
    let settings = Settings::resolve(args).context("reading the settings")?;
    let candidate =
        saring::policy::Policy::load(&policy).context("loading the candidate policy")?;
    let store = saring::store::open_store(settings.store.as_deref(), &settings.data_dir)
        .await
        .context("opening the event store")?;
    let stored = saring::service::backtest::load(store.as_ref())
        .await
        .context("reading the log")?;
    let summary = saring::policy::cli::backtest(
        &candidate,
        stored.iter().map(|s| s.case()),
        &mut std::io::stdout(),
    )?;
    saring::policy::cli::write_backtest_summary(&summary, &mut std::io::stderr())?;
    if with_learned {
        let runs = saring::service::backtest::replay_learned(store.as_ref(), &candidate)
            .await
            .context("replaying with the site-learned part")?;
        let agrees = |o: saring::policy::Outcome, m: saring::policy::Outcome| {
            (o == saring::policy::Outcome::Accept) == (m == saring::policy::Outcome::Accept)
        };
        let moderated: Vec<_> = runs
            .iter()
            .filter_map(|r| r.moderator.map(|m| (r, m)))
            .collect();
        let without = moderated
            .iter()
            .filter(|(r, m)| agrees(r.without, *m))
            .count();
        let with = moderated.iter().filter(|(r, m)| agrees(r.with, *m)).count();
        let changed = runs.iter().filter(|r| r.with != r.without).count();
        eprintln!(
            "site-learned: {changed} of {} outcomes change; agreement with moderators {without}/{n} without, {with}/{n} with",
            runs.len(),
            n = moderated.len()
        );
    }
    Ok(())
}

/// Turns transparent huge pages off for this process. mimalloc asks the kernel for them on its
/// arenas (`MADV_HUGEPAGE`), and a 2 MiB page is resident whole as soon as one byte of it is
/// touched: at 1,000,000 comments 46–82 MiB of the server's RSS while serving were such pages,
/// and without them RSS fell from 195–250 to 131–165 MiB with the same load
/// (docs/loadtest.md, "Where the server's memory goes"). The heap is a few hundred MiB, too
/// small for huge pages to save measurable TLB misses. Where the kernel lacks the switch the
/// server runs as before.
#[cfg(target_os = "linux")]
fn keep_heap_out_of_huge_pages() {
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        eprintln!("warning: cannot turn transparent huge pages off: {e}");
    }
}

#[cfg(not(target_os = "linux"))]
fn keep_heap_out_of_huge_pages() {}

/// Threads of tokio's blocking pool (store reads, projection writes, policy reloads).
const MAX_BLOCKING_THREADS: usize = 8;

fn main() -> ExitCode {
    keep_heap_out_of_huge_pages();
    let cli = Cli::parse();
    // tokio's default of 512 blocking threads let every concurrent store read or projection
    // write start a thread, and each keeps its own allocator heap: 32 writers grew the server
    // by 26 threads and ~150 MiB (docs/projections.md, "Memory"). The blocking work is SQLite
    // on a handful of connections, so a few threads serve it as fast.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result: anyhow::Result<()> = match cli.command {
        None => runtime.block_on(serve(cli.serve)),
        Some(Command::Serve(args)) => runtime.block_on(serve(*args)),
        Some(Command::HashToken) => hash_token_from_stdin(),
        Some(Command::Projections(cmd)) => runtime
            .block_on(saring::service::projections_cli::run(
                cmd,
                &mut std::io::stdout(),
            ))
            .map_err(anyhow::Error::from),
        Some(Command::Moderator(ModeratorCommand::Add { name })) => add_moderator(&name),
        Some(Command::Import(command)) => runtime.block_on(import(command)),
        Some(Command::Export(command)) => runtime
            .block_on(saring::migrate::cli::export(command))
            .map_err(Into::into),
        Some(Command::Privacy(command)) => runtime
            .block_on(saring::privacy::cli::run(command))
            .map(|out| println!("{out}"))
            .map_err(Into::into),
        Some(Command::Backup(args)) => runtime
            .block_on(saring::migrate::cli::backup(args))
            .map_err(Into::into),
        Some(Command::Restore(args)) => runtime
            .block_on(saring::migrate::cli::restore(args))
            .map_err(Into::into),
        Some(Command::Policy(PolicyCommand::Check { dir })) => {
            let dir = dir.unwrap_or_else(|| PathBuf::from("policies"));
            saring::policy::cli::check(&dir, &mut std::io::stdout()).map_err(anyhow::Error::from)
        }
        Some(Command::Policy(PolicyCommand::Test { policy, file })) => saring::policy::cli::test(
            &policy,
            &file,
            &mut std::io::stdout(),
            &mut std::io::stderr(),
        )
        .map_err(anyhow::Error::from),
        Some(Command::Policy(PolicyCommand::Backtest {
            policy,
            with_learned,
            serve,
        })) => runtime.block_on(backtest(policy, with_learned, *serve)),
        Some(Command::Policy(PolicyCommand::Train { data, out, split })) => {
            saring::policy::dataset::train_files(
                &data,
                &out,
                split,
                &saring::policy::model::TrainConfig::default(),
                &mut std::io::stderr(),
            )
            .map(|_| ())
            .map_err(anyhow::Error::from)
        }
        Some(Command::Policy(PolicyCommand::Eval {
            datasets,
            policy,
            fold_english,
        })) => saring::policy::eval::evaluate(&datasets, &policy, fold_english)
            .and_then(|r| saring::policy::eval::write_report(&r, &mut std::io::stdout()))
            .map_err(anyhow::Error::from),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `saring import …`.
async fn import(command: saring::migrate::cli::ImportCommand) -> anyhow::Result<()> {
    use saring::migrate::{Source, cli};
    match command {
        cli::ImportCommand::Wxr(args) => cli::import_source(Source::WordPress, args).await?,
        cli::ImportCommand::Disqus(args) => cli::import_source(Source::Disqus, args).await?,
        cli::ImportCommand::Isso(args) => cli::import_source(Source::Isso, args).await?,
        cli::ImportCommand::Events { file, serve } => cli::import_events(file, *serve).await?,
    }
    Ok(())
}

/// `saring hash-token`: one line from standard input, at least 24 characters, hashed.
fn hash_token_from_stdin() -> anyhow::Result<()> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| anyhow::anyhow!("reading the token from standard input: {e}"))?;
    let token = line.trim_end_matches(['\r', '\n']);
    if token.chars().count() < saring::auth::MIN_TOKEN_CHARS {
        anyhow::bail!(
            "the token must be at least {} characters (give it on standard input, e.g. `printf %s \"$TOKEN\" | saring hash-token`)",
            saring::auth::MIN_TOKEN_CHARS
        );
    }
    let hash =
        saring::auth::hash_token(token).map_err(|e| anyhow::anyhow!("hashing the token: {e}"))?;
    println!("{hash}");
    Ok(())
}

/// `saring moderator add NAME`: the password twice from a terminal (not echoed), once from a pipe.
fn add_moderator(name: &str) -> anyhow::Result<()> {
    use saring::console::accounts;
    use std::io::IsTerminal;
    let name = saring::domain::values::ModeratorName::parse(name)?;
    let name = name.as_str();
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Again: ")?;
        if first != second {
            anyhow::bail!("the two passwords differ");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| anyhow::anyhow!("reading the password from standard input: {e}"))?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    if password.chars().count() < accounts::MIN_PASSWORD_CHARS
        || password.len() > accounts::MAX_PASSWORD_BYTES
    {
        anyhow::bail!(
            "the password must have at least {} characters (and at most {} bytes)",
            accounts::MIN_PASSWORD_CHARS,
            accounts::MAX_PASSWORD_BYTES
        );
    }
    let hash = accounts::hash_password(&password)?;
    eprintln!("Add these lines to saring.toml:");
    print!("{}", accounts::account_lines(name, &hash));
    Ok(())
}
