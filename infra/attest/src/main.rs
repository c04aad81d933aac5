//! `attest`: run Attest locally (`attest serve`) and mint local tokens (`attest token`).

use std::io::Write;
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
        /// Seconds a client has to send a request's line and headers, counted from when the
        /// connection opens or the previous response ends; then the connection is closed.
        /// This also closes idle kept-alive connections.
        #[arg(
            long,
            env = "ATTEST_HEADER_TIMEOUT",
            value_name = "SECONDS",
            default_value_t = server::Timeouts::DEFAULT_HEADER_SECS as f64,
            value_parser = parse_seconds
        )]
        header_timeout: f64,
        /// Seconds a client has to send a request's whole body once its headers have arrived;
        /// then the request is answered 408 and the connection closed. Raise it to upload
        /// large evidence files over a slow link.
        #[arg(
            long,
            env = "ATTEST_BODY_TIMEOUT",
            value_name = "SECONDS",
            default_value_t = server::Timeouts::DEFAULT_BODY_SECS as f64,
            value_parser = parse_seconds
        )]
        body_timeout: f64,
        /// How often every active connector runs (`24h`, `30m`, `90s`; `off`: only when
        /// asked with `POST /connectors/{id}/run`).
        #[arg(
            long,
            env = "ATTEST_IMPORT_EVERY",
            value_name = "INTERVAL",
            default_value = "24h",
            value_parser = parse_interval
        )]
        import_every: Interval,
    },
    /// Print a bearer token that `attest serve` on the same data dir accepts (with --link, a
    /// sign-in link to the web app that carries it).
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
        /// Print a link that signs the user in to the web app (`BASE_URL/#token=...`) instead
        /// of the bare token.
        #[arg(long)]
        link: bool,
        /// Where the web app is served, for --link.
        #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
        base_url: String,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum StoreKind {
    Embedded,
    Dynamodb,
}

/// A time limit in seconds: fractions allowed, more than zero and at most a day.
fn parse_seconds(value: &str) -> Result<f64, String> {
    match value.trim().parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 86_400.0 => Ok(s),
        _ => Err(format!(
            "{value:?} is not a number of seconds between 0 and 86400 (fractions allowed)"
        )),
    }
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

/// Lets the server hold as many connections as the system allows: raises the soft limit on open
/// files towards the hard limit (at most 65536). With the common soft limit of 1024, a thousand
/// stalled clients would otherwise starve new connections until the header timeout closes them.
#[cfg(unix)]
fn raise_open_file_limit() {
    const WANTED: libc::rlim_t = 65536;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct they are given. A failure
    // leaves the limit as it was, which is fine.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < WANTED {
            limit.rlim_cur = WANTED.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

#[cfg(not(unix))]
fn raise_open_file_limit() {}

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

/// An import interval; `None`: off.
#[derive(Debug, Clone, Copy)]
struct Interval(Option<std::time::Duration>);

/// `24h`, `30m`, `90s`, `2d`, or `off`.
fn parse_interval(s: &str) -> Result<Interval, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("off") {
        return Ok(Interval(None));
    }
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?}: give a number and a unit (s, m, h, d), or off"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{s:?}: the unit is s, m, h or d")),
    };
    if secs == 0 {
        return Err(format!("{s:?}: give a positive interval, or off"));
    }
    Ok(Interval(Some(std::time::Duration::from_secs(secs))))
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
            header_timeout,
            body_timeout,
            import_every,
        } => {
            init_logging();
            raise_open_file_limit();
            let library = attest_library::init()?;
            tracing::info!(version = library.version(), "template library");
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
            let secret = data.token_secret()?;
            let app = server::app(
                backend,
                secret.clone(),
                data.root().join("blobs"),
                &format!("http://{addr}"),
                max_evidence_mb * 1024 * 1024,
                server::LocalConnectors {
                    secrets_dir: data.root().to_path_buf(),
                    import_every: import_every.0,
                },
            )
            .await
            .merge(attest_web::router(attest_web::Config::local()));
            // Tests read the first two lines (where data lives, where the API listens) and may
            // close the pipe then: the three lines go out in one write, and a reader that has
            // gone away does not stop the server.
            let banner = format!(
                "attest: data in {place} (token secret in {})\n\
                 attest: listening on http://{addr}/api/compliance\n\
                 attest: sign in: {}\n",
                data.root().display(),
                token::sign_in_link(&web_base(addr), &local_admin_token(&secret)?)
            );
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
            drop(out);
            let timeouts = server::Timeouts {
                header: std::time::Duration::from_secs_f64(header_timeout),
                body: std::time::Duration::from_secs_f64(body_timeout),
            };
            server::serve_with(listener, app, timeouts).await?;
        }
        Command::Token {
            tenant,
            user,
            roles,
            name,
            email,
            hours,
            data_dir,
            link,
            base_url,
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
            if link {
                println!("{}", token::sign_in_link(&base_url, &token));
            } else {
                println!("{token}");
            }
        }
    }
    Ok(())
}

/// Where a browser on this machine reaches the server: a wildcard address (`0.0.0.0`) is
/// reached on loopback.
fn web_base(addr: std::net::SocketAddr) -> String {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}", std::net::SocketAddr::new(ip, addr.port()))
}

/// A token for the local administrator of the sign-in link `attest serve` prints.
fn local_admin_token(secret: &[u8]) -> Result<String, jsonwebtoken::errors::Error> {
    token::mint(
        secret,
        &TokenRequest {
            tenant: token::LOCAL_ADMIN_TENANT,
            user: token::LOCAL_ADMIN_USER,
            roles: token::LOCAL_ADMIN_ROLES,
            name: None,
            email: None,
            ttl: chrono::Duration::hours(token::LINK_HOURS),
        },
    )
}
