//! `jinguo dlq`: list, show and replay dead letters (the same SQL on both transports).

use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use jinguo_config::Config;
use jinguo_store::dead_letters;

#[derive(Debug, Subcommand)]
pub(crate) enum Dlq {
    /// List dead letters not yet replayed, newest first.
    List {
        /// Include those already replayed.
        #[arg(long)]
        all: bool,
    },
    /// Show one dead letter: its message, error and attempt history.
    Show { id: i64 },
    /// Send a dead letter (or all not yet replayed) to its consumer again.
    Replay {
        /// The dead letter's id.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        /// Replay every dead letter not yet replayed.
        #[arg(long)]
        all: bool,
    },
}

pub(crate) async fn run(config: Arc<Config>, command: Dlq) -> anyhow::Result<()> {
    let bus = crate::open_bus(config).await?;
    match command {
        Dlq::List { all } => {
            let list = bus
                .store
                .read(|c| Box::pin(dead_letters::list(c, !all)))
                .await
                .context("reading dead letters")?;
            if list.is_empty() {
                outln!("没有死信 (no dead letters)");
            }
            for d in list {
                outln!(
                    "{:>6}  {}  {:<16} {:<28} attempt {:<3} {}{}",
                    d.id,
                    d.dead_at.format("%Y-%m-%d %H:%M:%S"),
                    d.consumer,
                    jinguo_core::text::printable(&d.envelope.kind),
                    d.envelope.attempt,
                    jinguo_core::text::printable(&d.error),
                    if d.replayed_at.is_some() {
                        "  (replayed)"
                    } else {
                        ""
                    }
                );
            }
        }
        Dlq::Show { id } => {
            let d = bus
                .store
                .read(|c| Box::pin(dead_letters::get(c, id)))
                .await
                .context("reading dead letter")?
                .with_context(|| format!("no dead letter {id}"))?;
            outln!("id:        {}", d.id);
            outln!("consumer:  {}", d.consumer);
            outln!("dead at:   {}", d.dead_at.to_rfc3339());
            if let Some(r) = d.replayed_at {
                outln!("replayed:  {}", r.to_rfc3339());
            }
            outln!("error:     {}", jinguo_core::text::printable(&d.error));
            outln!("history:");
            for f in &d.envelope.failures {
                outln!(
                    "  attempt {} at {} by {}: {}",
                    f.attempt,
                    f.at.to_rfc3339(),
                    f.consumer,
                    jinguo_core::text::printable(&f.error)
                );
            }
            outln!("message:");
            outln!("{}", serde_json::to_string_pretty(&d.envelope)?);
        }
        Dlq::Replay { id: Some(id), .. } => {
            jinguo_bus::dlq::replay(&bus, id).await?;
            outln!("已重放死信 {id} (replayed {id})");
        }
        Dlq::Replay { id: None, .. } => {
            let ids = jinguo_bus::dlq::replay_all(&bus).await?;
            outln!("已重放 {} 条死信 (replayed {})", ids.len(), ids.len());
        }
    }
    Ok(())
}
