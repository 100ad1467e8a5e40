//! `jinguo keys`: re-seal personal data at rest with the current data key, and count what each
//! key still seals (see docs/keys.md).

use std::num::NonZeroU32;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use jinguo_auth::rotate;
use jinguo_config::Config;

#[derive(Debug, Subcommand)]
pub(crate) enum Keys {
    /// Re-seal every sealed value with the current key (crypto.data_key_current), in batches,
    /// each its own transaction; an interrupted run continues where it stopped.
    Rotate {
        /// Rows per transaction.
        #[arg(long, default_value = "500")]
        batch: NonZeroU32,
    },
    /// Per place, how many values each key seals: an old key can be removed once it seals none.
    Status,
}

pub(crate) async fn run(config: Arc<Config>, command: Keys) -> anyhow::Result<()> {
    let store = crate::open_store(&config).await?;
    store.migrate().await.context("migrating")?;
    match command {
        Keys::Rotate { batch } => {
            let sealer = Arc::new(
                jinguo_nominations::sealer_from(&config).context("configuration: crypto")?,
            );
            let rotation = rotate::rotate(&store, sealer, batch, None)
                .await
                .context("rotating the data key")?;
            for done in &rotation.places {
                let mut line = format!(
                    "{}: 已重新加密 {} (re-sealed {}), 当前密钥 (current key) {}",
                    done.place, done.resealed, done.resealed, rotation.key_id
                );
                if done.changed_meanwhile > 0 {
                    line.push_str(&format!(
                        "; {} changed while rotating, left as they were: run again",
                        done.changed_meanwhile
                    ));
                }
                outln!("{line}");
            }
        }
        Keys::Status => {
            let current = &config.crypto.data_key_current;
            let configured: Vec<&str> = config
                .crypto
                .data_keys
                .iter()
                .map(|(id, _)| id.as_str())
                .collect();
            let census = rotate::census(&store)
                .await
                .context("counting sealed values")?;
            for (place, counts) in census {
                let count_of = |id: &str| {
                    counts
                        .iter()
                        .find(|c| c.key_id.as_deref() == Some(id))
                        .map_or(0, |c| c.values)
                };
                let mut parts: Vec<String> = configured
                    .iter()
                    .map(|id| {
                        let mark = if *id == current { " (current)" } else { "" };
                        format!("{id}{mark} {}", count_of(id))
                    })
                    .collect();
                for c in &counts {
                    match &c.key_id {
                        Some(id) if configured.contains(&id.as_str()) => {}
                        Some(id) => parts.push(format!(
                            "{} (not configured!) {}",
                            jinguo_core::text::printable(id),
                            c.values
                        )),
                        None => parts.push(format!("not sealed! {}", c.values)),
                    }
                }
                outln!("{place}: {}", parts.join(", "));
            }
        }
    }
    Ok(())
}
