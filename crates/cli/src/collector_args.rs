//! `burn-edge collector`: operations on the SQLite telemetry store outside the server: `backup`
//! (online, while `serve` runs) and `restore` (with the server stopped). See
//! `collector/backup.rs` for what each guarantees.

use std::path::PathBuf;

use anyhow::Result;

use crate::collector::backup;

const DEFAULT_DB: &str = ".burn-edge/telemetry.sqlite";

#[derive(clap::Args)]
pub struct CollectorArgs {
    #[command(subcommand)]
    command: CollectorCommand,
}

#[derive(clap::Subcommand)]
enum CollectorCommand {
    /// Copy the telemetry database to --out as one consistent state, while `serve` may be
    /// ingesting into it. --out is replaced only by a complete, checked copy.
    Backup {
        /// The telemetry database (serve's --telemetry-db).
        #[arg(long, default_value = DEFAULT_DB)]
        db: PathBuf,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Restore a backup as the telemetry database. Stop the server first (a database in use is
    /// refused); the database replaced is kept beside it as <db>.replaced-<time>.
    Restore {
        /// The backup file.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        #[arg(long, default_value = DEFAULT_DB)]
        db: PathBuf,
    },
}

const MB: f64 = 1024.0 * 1024.0;

pub fn run(args: CollectorArgs) -> Result<()> {
    match args.command {
        CollectorCommand::Backup { db, out } => {
            let c = backup::backup(&db, &out)?;
            println!(
                "backed up {} events ({:.1} MiB) from {} to {} in {:.2} s",
                c.events,
                c.bytes as f64 / MB,
                db.display(),
                out.display(),
                c.seconds
            );
        }
        CollectorCommand::Restore { from, db } => {
            let c = backup::restore(&from, &db)?;
            println!(
                "restored {} events ({:.1} MiB) from {} to {} in {:.2} s",
                c.events,
                c.bytes as f64 / MB,
                from.display(),
                db.display(),
                c.seconds
            );
            if let Some(aside) = c.replaced {
                println!("the database it replaced is kept as {}", aside.display());
            }
        }
    }
    Ok(())
}
