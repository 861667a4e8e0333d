//! The command line: one subcommand per process role, plus administration commands.

use clap::{Args, Parser, Subcommand};
use pulp_core::auth::{random_password, Users};
use pulp_core::settings::SettingsSources;
use pulp_core::{App, AppBuilder};

use crate::roles::{run_roles, Roles, ServerError};

/// pulp-rs: mirror, version, curate, publish and serve repositories of software content.
///
/// Settings come from built-in defaults, the file named by PULP_SETTINGS (default
/// /etc/pulp/settings.toml) and PULP_* environment variables.
#[derive(Debug, Parser)]
#[command(name = "pulp-server", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the API, the content app and one worker in this process (the embedded default).
    Serve,
    /// Run the REST API only.
    Api,
    /// Run the content app only.
    Content,
    /// Run a worker only.
    Worker {
        /// Drain the task queue, then exit.
        #[arg(long)]
        burst: bool,
    },
    /// Apply pending database migrations and exit (the only role that migrates, besides
    /// `serve`).
    Migrate,
    /// Check settings, database (reachable, migrated), storage (writable) and the content
    /// origin; print one line per problem and exit non-zero when there is one.
    Check,
    /// Print a reverse-proxy configuration routing the REST API, the content app and every
    /// plugin route to this host's listeners (`api_bind`, `content_bind`).
    WebserverConfig {
        /// The web server.
        #[arg(value_enum)]
        server: crate::webserver::WebServer,
        /// The port the web server listens on.
        #[arg(long, default_value_t = 80)]
        listen: u16,
        /// The REST API's address (default: the `api_bind` setting).
        #[arg(long)]
        api_upstream: Option<String>,
        /// The content app's address (default: the `content_bind` setting).
        #[arg(long)]
        content_upstream: Option<String>,
    },
    /// Set the password of the `admin` user (creating it if needed).
    ResetAdminPassword(PasswordArgs),
    /// Set the password of a user (creating it if needed); a user who is not a superuser may
    /// do what the access policies allow (see `/pulp/api/v3/access_policies/`).
    SetUserPassword {
        /// The user's name.
        username: String,
        /// Make the user a superuser (without it, a new user is not one and an existing
        /// user keeps what they are).
        #[arg(long)]
        superuser: bool,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Add a signing service (as pulpcore's `add-signing-service`): SCRIPT signs a file with
    /// the GnuPG key KEY_ID; it is checked by signing a test file.
    AddSigningService {
        /// The service's unique name.
        name: String,
        /// The absolute path of the signing script.
        script: String,
        /// The key (id or fingerprint) the script signs with.
        #[arg(long = "key-id")]
        key_id: String,
        /// The GnuPG home holding the key (default: gpg's own).
        #[arg(long)]
        gnupghome: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct PasswordArgs {
    /// The new password.
    #[arg(long)]
    password: Option<String>,
    /// Generate a random password and print it.
    #[arg(long)]
    random: bool,
}

/// The plugins this server is built with (cargo features `file` and `container`, both
/// default).
fn builder() -> AppBuilder {
    let builder = App::builder(SettingsSources::from_environment());
    #[cfg(feature = "file")]
    let builder = builder.plugin(pulp_file::FilePlugin);
    #[cfg(feature = "container")]
    let builder = builder.plugin(pulp_container::ContainerPlugin);
    builder
}

/// Sets (or creates) `username` with the given or a random password (printed).
async fn set_user_password(
    username: &str,
    superuser: bool,
    args: PasswordArgs,
) -> Result<(), ServerError> {
    if username.trim().is_empty() {
        return Err(ServerError::Usage("the user name is empty".into()));
    }
    let app = build_app().await?;
    app.migrate().await?;
    let password = match args.password {
        Some(password) => password,
        None => random_password(),
    };
    let users = Users::new(app.db());
    // Setting a password never takes superuser rights away.
    let superuser = superuser
        || users
            .stored(username)
            .await?
            .is_some_and(|u| u.is_superuser);
    users.set_password(username, &password, superuser).await?;
    if args.random {
        println!("{username} password: {password}");
    } else {
        println!("{username} password changed");
    }
    Ok(())
}

/// Loads the settings, starts logging as they say, and builds the app.
async fn build_app() -> Result<App, ServerError> {
    let builder = builder();
    let settings = match builder.load_settings() {
        Ok(settings) => settings,
        Err(e) => {
            crate::logging::init_default();
            return Err(e.into());
        }
    };
    crate::logging::init(&settings.logging);
    Ok(builder.build_with(settings).await?)
}

/// Runs one command to completion.
pub async fn run(cli: Cli) -> Result<(), ServerError> {
    let roles = match cli.command {
        Command::Serve => Roles::all(),
        Command::Api => Roles::api(),
        Command::Content => Roles::content(),
        Command::Worker { burst } => Roles::worker(burst),
        Command::Migrate => {
            let app = build_app().await?;
            let applied = app.migrate().await?;
            println!("applied {applied} migration(s)");
            return Ok(());
        }
        Command::WebserverConfig {
            server,
            listen,
            api_upstream,
            content_upstream,
        } => {
            let app = build_app().await?;
            let (api, content) = crate::webserver::prefixes(&app);
            let upstreams = crate::webserver::Upstreams {
                api: api_upstream.unwrap_or_else(|| app.settings().api_bind.clone()),
                content: content_upstream.unwrap_or_else(|| app.settings().content_bind.clone()),
                listen,
            };
            print!(
                "{}",
                crate::webserver::render(server, &upstreams, &api, &content)
            );
            return Ok(());
        }
        Command::Check => {
            crate::logging::init_default();
            let problems = crate::check::problems(builder()).await;
            for problem in &problems {
                println!("{problem}");
            }
            if problems.is_empty() {
                println!("ready");
                return Ok(());
            }
            return Err(ServerError::Usage(format!(
                "{} problem(s) found",
                problems.len()
            )));
        }
        Command::ResetAdminPassword(args) => {
            set_user_password("admin", true, args).await?;
            return Ok(());
        }
        Command::SetUserPassword {
            username,
            superuser,
            password,
        } => {
            set_user_password(&username, superuser, password).await?;
            return Ok(());
        }
        Command::AddSigningService {
            name,
            script,
            key_id,
            gnupghome,
        } => {
            let app = build_app().await?;
            app.migrate().await?;
            let service = pulp_core::signing::add_signing_service(
                app.db(),
                &name,
                &script,
                &key_id,
                gnupghome.as_deref(),
            )
            .await
            .map_err(|e| ServerError::Usage(e.to_string()))?;
            println!(
                "signing service {} added (key {})",
                service.name, service.pubkey_fingerprint
            );
            return Ok(());
        }
    };
    let app = build_app().await?;
    run_roles(app, roles).await
}
