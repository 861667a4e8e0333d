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
    /// Apply pending database migrations and exit.
    Migrate,
    /// Set the password of the `admin` user (creating it if needed).
    ResetAdminPassword(PasswordArgs),
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

/// The plugins this server is built with.
fn builder() -> AppBuilder {
    App::builder(SettingsSources::from_environment()).plugin(pulp_file::FilePlugin)
}

/// Runs one command to completion.
pub async fn run(cli: Cli) -> Result<(), ServerError> {
    let roles = match cli.command {
        Command::Serve => Roles::all(),
        Command::Api => Roles::api(),
        Command::Content => Roles::content(),
        Command::Worker { burst } => Roles::worker(burst),
        Command::Migrate => {
            let app = builder().build().await?;
            let applied = app.migrate().await?;
            println!("applied {applied} migration(s)");
            return Ok(());
        }
        Command::ResetAdminPassword(args) => {
            let app = builder().build().await?;
            app.migrate().await?;
            let password = match args.password {
                Some(password) => password,
                None => random_password(),
            };
            Users::new(app.db())
                .set_password("admin", &password, true)
                .await?;
            if args.random {
                println!("admin password: {password}");
            } else {
                println!("admin password changed");
            }
            return Ok(());
        }
    };
    let app = builder().build().await?;
    run_roles(app, roles).await
}
