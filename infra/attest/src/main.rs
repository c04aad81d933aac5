//! `attest`: run Attest locally (`attest serve`) and mint local tokens (`attest token`).

use std::path::PathBuf;
use std::process::ExitCode;

use attest::data_dir::{DataDir, DEFAULT_DATA_DIR};
use attest::server;
use attest::token::{self, TokenRequest};
use attest_domain::identity::Role;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "attest",
    version,
    about = "Attest compliance manager: local server and tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the Attest API over an embedded store (no AWS account needed).
    Serve {
        /// Where the database and token secret live; kept across restarts.
        #[arg(long, env = "ATTEST_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// Port to listen on (0 picks a free one).
        #[arg(long, env = "ATTEST_PORT", default_value_t = 8080)]
        port: u16,
        /// Address to listen on.
        #[arg(long, env = "ATTEST_HOST", default_value = "127.0.0.1")]
        host: String,
        /// Where data lives: the embedded store in the data dir, or a DynamoDB table.
        #[arg(long, env = "ATTEST_STORE", value_enum, default_value_t = StoreKind::Embedded)]
        store: StoreKind,
        /// The DynamoDB table (with --store dynamodb).
        #[arg(long, env = "TABLE_NAME", default_value = "attest")]
        table: String,
        /// Create the DynamoDB table first (for DynamoDB Local).
        #[arg(long)]
        create_table: bool,
        /// Largest evidence file accepted, in MB.
        #[arg(long, env = "ATTEST_MAX_EVIDENCE_MB", default_value_t = 100)]
        max_evidence_mb: u64,
    },
    /// Print a bearer token that `attest serve` on the same data dir accepts.
    Token {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        user: String,
        /// A role (repeat for several): reader, contributor, assessor, administrator,
        /// global_admin, connector_admin.
        #[arg(long = "role", required = true, value_parser = parse_role)]
        roles: Vec<Role>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// Hours until the token expires.
        #[arg(long, default_value_t = 12)]
        hours: u32,
        #[arg(long, env = "ATTEST_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum StoreKind {
    Embedded,
    Dynamodb,
}

fn parse_role(value: &str) -> Result<Role, String> {
    Role::parse(value).map_err(|e| e.to_string())
}

fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("attest: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    match command {
        Command::Serve {
            data_dir,
            port,
            host,
            store,
            table,
            create_table,
            max_evidence_mb,
        } => {
            init_logging();
            let data = DataDir::open(&data_dir)?;
            let (backend, place) = match store {
                StoreKind::Embedded => (
                    server::embedded_store(&data)?,
                    data.database().display().to_string(),
                ),
                StoreKind::Dynamodb => (
                    server::dynamodb_store(&table, create_table).await?,
                    format!("DynamoDB table {table}"),
                ),
            };
            let listener = tokio::net::TcpListener::bind(server::bind_addr(&host, port)?).await?;
            let addr = listener.local_addr()?;
            let app = server::app(
                backend,
                data.token_secret()?,
                data.root().join("blobs"),
                &format!("http://{addr}"),
                max_evidence_mb * 1024 * 1024,
            );
            println!(
                "attest: data in {place} (token secret in {})",
                data.root().display()
            );
            println!("attest: listening on http://{addr}/api/compliance");
            server::serve(listener, app).await?;
        }
        Command::Token {
            tenant,
            user,
            roles,
            name,
            email,
            hours,
            data_dir,
        } => {
            // Check the claims the server will check, so a bad token is refused here.
            attest_domain::ids::TenantId::parse(&tenant)?;
            attest_domain::ids::UserId::parse(&user)?;
            let secret = DataDir::open(&data_dir)?.token_secret()?;
            let token = token::mint(
                &secret,
                &TokenRequest {
                    tenant: &tenant,
                    user: &user,
                    roles: &roles,
                    name: name.as_deref(),
                    email: email.as_deref(),
                    ttl: chrono::Duration::hours(i64::from(hours)),
                },
            )?;
            println!("{token}");
        }
    }
    Ok(())
}
