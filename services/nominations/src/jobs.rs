//! The program's messages and the worker that handles them.

use jinguo_core::nominations::{Level, State};
use jinguo_store::Conn;
use uuid::Uuid;

use crate::publicity::{PUBLICITY_ENDED, publicity_ended};
use crate::refusal::Refusal;
use crate::review::{REVIEW_REMINDER, hand_over, remind};
use crate::settings::{Links, links_from, sealer_from};

/// The nominations service: it ends 公示 periods when their timers fire, reminds reviewers
/// before deadlines, and hands a disabled reviewer's open tasks on.
pub struct Nominations {
    pub links: Links,
}

impl jinguo_bus::Handler for Nominations {
    fn handle<'a>(
        &'a self,
        conn: &'a mut Conn<'_>,
        message: &'a jinguo_bus::Envelope,
    ) -> jinguo_store::BoxFuture<'a, Result<(), jinguo_bus::HandlerError>> {
        Box::pin(async move {
            if message.kind == jinguo_auth::staff::DISABLED
                || message.kind == jinguo_auth::staff::ROLES_CHANGED
            {
                let Some(person) = message.payload["person"]
                    .as_str()
                    .and_then(|s| s.parse::<Uuid>().ok())
                else {
                    return Err(jinguo_bus::HandlerError::permanent(
                        "staff message without person",
                    ));
                };
                return match hand_over(conn, person, &self.links, jinguo_bus::now()).await {
                    Ok(_) => Ok(()),
                    Err(Refusal::Store(e)) => Err(e.into()),
                    Err(other) => Err(jinguo_bus::HandlerError::permanent(other.to_string())),
                };
            }
            if message.kind == REVIEW_REMINDER {
                let id = message.payload["nomination"]
                    .as_str()
                    .and_then(|s| s.parse::<Uuid>().ok());
                let level = serde_json::from_value::<Level>(message.payload["level"].clone()).ok();
                let (Some(id), Some(level)) = (id, level) else {
                    return Err(jinguo_bus::HandlerError::permanent(
                        "review_reminder without nomination and level",
                    ));
                };
                return match remind(conn, id, level, &self.links, jinguo_bus::now()).await {
                    Ok(_) => Ok(()),
                    Err(Refusal::Store(e)) => Err(e.into()),
                    Err(other) => Err(jinguo_bus::HandlerError::permanent(other.to_string())),
                };
            }
            if message.kind != PUBLICITY_ENDED {
                return Ok(());
            }
            let id = message.payload["nomination"]
                .as_str()
                .and_then(|s| s.parse::<Uuid>().ok());
            let state = message.payload["state"]
                .as_str()
                .and_then(|s| s.parse::<State>().ok());
            let (Some(id), Some(state)) = (id, state) else {
                return Err(jinguo_bus::HandlerError::permanent(
                    "publicity_ended without nomination and state",
                ));
            };
            match publicity_ended(conn, id, state, &self.links, jinguo_bus::now()).await {
                Ok(_) => Ok(()),
                Err(Refusal::Store(e)) => Err(e.into()),
                Err(other) => Err(jinguo_bus::HandlerError::permanent(other.to_string())),
            }
        })
    }
}

/// The nominations service as a consuming worker.
pub fn worker(
    config: &jinguo_config::Config,
) -> Result<jinguo_bus::Worker, jinguo_config::ConfigError> {
    let calendar = std::sync::Arc::new(config.calendar.load()?);
    let sealer = std::sync::Arc::new(sealer_from(config)?);
    Ok(jinguo_bus::Worker {
        name: "nominations".into(),
        bindings: vec![
            "nomination.#".into(),
            jinguo_auth::staff::DISABLED.into(),
            jinguo_auth::staff::ROLES_CHANGED.into(),
        ],
        handler: std::sync::Arc::new(Nominations {
            links: links_from(config, calendar, sealer),
        }),
    })
}
