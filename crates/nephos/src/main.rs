//! The `nephos` binary: command line, logging, wiring of services, and the server loop.

mod coverage;

// Requests allocate and free many small buffers across worker threads; mimalloc's
// thread-local free lists measured faster than glibc malloc here (see bench/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use nephos_core::Clock;
use nephos_gateway::{Config, Gateway};
use nephos_storage::Storage;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// The AWS developer cloud on one machine: every service on one port.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "NEPHOS_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 picks a free one and prints it).
    #[arg(long, env = "NEPHOS_PORT", default_value_t = 4566)]
    port: u16,
    /// Keep state in this directory and survive restarts; without it state is ephemeral.
    #[arg(long, env = "NEPHOS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Account of requests whose access key is not a 12-digit account id.
    #[arg(long, env = "NEPHOS_DEFAULT_ACCOUNT", default_value = nephos_core::DEFAULT_ACCOUNT)]
    default_account: String,
    /// Region of requests that are not signed for one.
    #[arg(long, env = "NEPHOS_DEFAULT_REGION", default_value = nephos_core::DEFAULT_REGION)]
    default_region: String,
    /// Reject requests whose SigV4 signature does not verify.
    #[arg(long, env = "NEPHOS_VERIFY_SIGNATURES")]
    verify_signatures: bool,
    /// With --verify-signatures: the secret key of every access key nephos did not issue.
    #[arg(long, env = "NEPHOS_SECRET_ACCESS_KEY", default_value = "test")]
    secret_access_key: String,
    /// Refuse what AWS's IAM refuses: every request signed by an IAM user's key, a role
    /// session or a federated user is decided by its identity policies, permissions
    /// boundary, session policies and the resource's policy (decisions are listed at
    /// /_nephos/iam/decisions); role trust policies are evaluated by STS; deliveries by a
    /// service (SNS to a queue, S3 to a queue or topic) that the target's resource policy
    /// does not allow are dropped. Without the flag, account root and every identity may
    /// do everything, and such deliveries go through with a warning.
    #[arg(long, env = "NEPHOS_ENFORCE_IAM")]
    enforce_iam: bool,
    /// DynamoDB tables in PROVISIONED mode enforce their read and write capacity
    /// (ProvisionedThroughputExceededException beyond it, with AWS's burst capacity).
    #[arg(long, env = "NEPHOS_DYNAMODB_THROTTLING")]
    dynamodb_throttling: bool,
    /// The Python interpreter that runs python3.x Lambda functions (boto3 inside a function
    /// comes from its environment).
    #[arg(long, env = "NEPHOS_LAMBDA_PYTHON", default_value = "python3")]
    lambda_python: String,
    /// The Node.js interpreter that runs nodejs Lambda functions.
    #[arg(long, env = "NEPHOS_LAMBDA_NODE", default_value = "node")]
    lambda_node: String,
    /// Concurrent Lambda executions per account (AWS's default quota).
    #[arg(long, env = "NEPHOS_LAMBDA_MAX_CONCURRENCY", default_value_t = 1000)]
    lambda_max_concurrency: u32,
    /// Seconds an unused Lambda execution environment stays warm.
    #[arg(long, env = "NEPHOS_LAMBDA_IDLE_SECONDS", default_value_t = 600)]
    lambda_idle_seconds: u64,
    /// Worker threads serving requests (default: one per core).
    #[arg(long, env = "NEPHOS_WORKER_THREADS")]
    worker_threads: Option<usize>,
    /// Only warnings and errors (no per-request lines).
    #[arg(short, long, env = "NEPHOS_QUIET", conflicts_with = "verbose")]
    quiet: bool,
    /// Debug output from every part of nephos.
    #[arg(short, long, env = "NEPHOS_VERBOSE")]
    verbose: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the operation coverage table (docs/coverage.md) and exit.
    Coverage,
}

fn main() -> std::process::ExitCode {
    let started = Instant::now();
    // A Lambda environment's launcher: the binary re-executed by nephos itself.
    let mut args = std::env::args_os();
    if args
        .nth(1)
        .is_some_and(|a| a == nephos_lambda::sandbox::ARG)
    {
        nephos_lambda::sandbox::main(args.collect());
    }
    let cli = Cli::parse();
    if let Some(Command::Coverage) = cli.command {
        print!("{}", coverage::markdown(&providers_for_listing()));
        return std::process::ExitCode::SUCCESS;
    }
    init_logging(&cli);
    nephos_policy::set_enforce_iam(cli.enforce_iam);
    if !nephos_core::is_account_id(&cli.default_account) {
        eprintln!("nephos: --default-account must be a 12-digit account id");
        return std::process::ExitCode::from(2);
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = cli.worker_threads {
        builder.worker_threads(n.max(1));
    }
    let runtime = builder
        .enable_all()
        .thread_name("nephos")
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(cli, started)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nephos: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, started: Instant) -> Result<(), String> {
    let storage = match &cli.data_dir {
        Some(dir) => Storage::open(dir)
            .map_err(|e| format!("cannot open data dir {}: {e}", dir.display()))?,
        None => Storage::ephemeral(),
    };
    let clock = Arc::new(Clock::new());
    let config = Config {
        default_account: cli.default_account.clone(),
        default_region: cli.default_region.clone(),
        verify_signatures: cli.verify_signatures,
        default_secret_key: cli.secret_access_key.clone(),
    };
    // Providers that call other services get this handle; it is wired once the gateway
    // (which owns the providers) exists.
    let dispatcher = nephos_core::Dispatcher::new();
    let mut gateway = Gateway::new(config, clock.clone(), storage.clone());
    let sns = Arc::new(nephos_sns::SnsProvider::new(
        storage.clone(),
        dispatcher.clone(),
        clock.clone(),
    )?);
    gateway.register(sns.clone());
    let sts = Arc::new(nephos_sts::StsProvider::new(
        storage.clone(),
        &cli.default_account,
        dispatcher.clone(),
        clock.clone(),
    )?);
    gateway.add_credentials(sts.clone());
    gateway.register(sts);
    let iam = Arc::new(nephos_iam::IamProvider::new(
        storage.clone(),
        dispatcher.clone(),
    )?);
    gateway.add_credentials(iam.clone());
    if cli.enforce_iam {
        gateway.set_authorizer(iam.clone());
    }
    gateway.register(iam);
    let dynamodb = nephos_dynamodb::DynamoDb::open(storage.clone(), clock.clone())?;
    dynamodb.set_dispatcher(dispatcher.clone());
    dynamodb.set_throttling(cli.dynamodb_throttling);
    gateway.register(Arc::new(nephos_dynamodb::DynamoDbStreams::new(
        dynamodb.clone(),
    )));
    gateway.register(dynamodb);
    gateway.register(Arc::new(nephos_sqs::SqsProvider::new(storage.clone())?));
    let lambda = Arc::new(nephos_lambda::LambdaProvider::new(
        storage.clone(),
        cli.data_dir.as_deref(),
        clock.clone(),
        dispatcher.clone(),
        Arc::new(nephos_gateway::runtime_api::HyperRuntimeServer),
        nephos_lambda::Settings {
            python: cli.lambda_python.clone(),
            node: cli.lambda_node.clone(),
            max_concurrency: cli.lambda_max_concurrency,
            idle_seconds: cli.lambda_idle_seconds,
        },
    )?);
    lambda.start()?;
    gateway.register(lambda.clone());
    gateway.register(Arc::new(nephos_logs::LogsProvider::new(
        storage.clone(),
        dispatcher.clone(),
    )?));
    let s3 = nephos_s3::S3Provider::new(
        storage,
        cli.data_dir.as_deref(),
        clock.clone(),
        dispatcher.clone(),
    )?;
    gateway.register(nephos_s3::S3ControlProvider::new(s3.clone()));
    gateway.register(s3);
    let gateway = Arc::new(gateway);
    dispatcher.set(gateway.in_process());

    let listener = tokio::net::TcpListener::bind((cli.host.as_str(), cli.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", cli.host, cli.port))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let endpoint = format!(
        "http://{}:{}",
        if cli.host == "0.0.0.0" {
            "localhost"
        } else {
            &cli.host
        },
        addr.port()
    );
    sns.set_endpoint(&endpoint);
    lambda.set_endpoint(&endpoint);
    let data = match &cli.data_dir {
        Some(d) => format!("persistent in {}", d.display()),
        None => "ephemeral (in memory; use --data-dir to keep state)".to_owned(),
    };
    let shutdown = shutdown_signal().map_err(|e| format!("cannot install signal handlers: {e}"))?;
    // The banner goes to stdout unconditionally: tools wait for the "ready" line.
    println!(
        "nephos {} ready on {endpoint} in {:.1} ms\n  data: {data}\n  signatures: {}\n  try:  AWS_ENDPOINT_URL={endpoint} aws sts get-caller-identity\n        (or aws --endpoint-url {endpoint} ...; boto3: endpoint_url=\"{endpoint}\")",
        env!("CARGO_PKG_VERSION"),
        started.elapsed().as_secs_f64() * 1000.0,
        if cli.verify_signatures {
            "verified"
        } else {
            "accepted without verification"
        },
    );
    nephos_gateway::serve(listener, gateway.clone(), shutdown).await;
    lambda.shutdown();
    gateway.flush_request_log();
    tracing::info!("nephos stopped");
    Ok(())
}

/// Registers SIGTERM and SIGINT handlers now, so a signal that arrives right after the
/// "ready" banner is not lost, and resolves when one arrives.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down");
    })
}

fn init_logging(cli: &Cli) {
    let default = if cli.quiet {
        "warn"
    } else if cli.verbose {
        "debug,hyper=info,h2=info"
    } else {
        "info"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("NEPHOS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
}

/// Providers as the coverage table sees them: built ephemeral, never served.
fn providers_for_listing() -> Vec<Arc<dyn nephos_core::Provider>> {
    let dynamodb = nephos_dynamodb::DynamoDb::open(Storage::ephemeral(), Arc::new(Clock::new()))
        .expect("ephemeral dynamodb");
    let s3 = nephos_s3::S3Provider::new(
        Storage::ephemeral(),
        None,
        Arc::new(Clock::new()),
        nephos_core::Dispatcher::new(),
    )
    .expect("ephemeral s3");
    vec![
        Arc::new(
            nephos_sns::SnsProvider::new(
                Storage::ephemeral(),
                nephos_core::Dispatcher::new(),
                Arc::new(Clock::new()),
            )
            .expect("ephemeral sns"),
        ),
        Arc::new(
            nephos_sts::StsProvider::new(
                Storage::ephemeral(),
                nephos_core::DEFAULT_ACCOUNT,
                nephos_core::Dispatcher::new(),
                Arc::new(Clock::new()),
            )
            .expect("ephemeral sts"),
        ),
        Arc::new(nephos_sqs::SqsProvider::new(Storage::ephemeral()).expect("ephemeral sqs")),
        Arc::new(
            nephos_iam::IamProvider::new(Storage::ephemeral(), nephos_core::Dispatcher::new())
                .expect("ephemeral iam"),
        ),
        Arc::new(
            nephos_logs::LogsProvider::new(Storage::ephemeral(), nephos_core::Dispatcher::new())
                .expect("ephemeral logs"),
        ),
        s3.clone(),
        nephos_s3::S3ControlProvider::new(s3),
        dynamodb.clone(),
        Arc::new(nephos_dynamodb::DynamoDbStreams::new(dynamodb)),
        Arc::new(
            nephos_lambda::LambdaProvider::new(
                Storage::ephemeral(),
                None,
                Arc::new(Clock::new()),
                nephos_core::Dispatcher::new(),
                Arc::new(nephos_gateway::runtime_api::HyperRuntimeServer),
                nephos_lambda::Settings::default(),
            )
            .expect("ephemeral lambda"),
        ),
    ]
}
