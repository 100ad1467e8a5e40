//! Notifications: programs ask to notify a person, with an urgency; which channels carry it
//! is decided here. Email is the channel today; SMS (through an HTTP gateway) has its place.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }
}

impl FromStr for Channel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "email" => Ok(Channel::Email),
            "sms" => Ok(Channel::Sms),
            _ => Err(format!("{s:?} is not a channel (email, sms)")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// Reaches the person on their preferred channel.
    Normal,
    /// Also goes out on every other channel that can reach them.
    Urgent,
}

/// Someone Jinguo notifies. Contact details never appear in `Debug` output (logs).
#[derive(Clone, PartialEq)]
pub struct Person {
    pub id: Uuid,
    pub display_name: String,
    pub email: String,
    pub phone: Option<String>,
    pub preferred_channel: Channel,
}

impl fmt::Debug for Person {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Person")
            .field("id", &self.id)
            .field("preferred_channel", &self.preferred_channel)
            .finish_non_exhaustive()
    }
}

/// The channels a notification goes out on, preferred first. `available` lists the channels
/// this deployment can send on (email always; SMS once a gateway is configured). Never empty:
/// email is the fallback.
pub fn channels(person: &Person, urgency: Urgency, available: &[Channel]) -> Vec<Channel> {
    let reachable = |c: Channel| {
        available.contains(&c)
            && match c {
                Channel::Email => !person.email.is_empty(),
                Channel::Sms => person.phone.is_some(),
            }
    };
    let mut out = Vec::new();
    if reachable(person.preferred_channel) {
        out.push(person.preferred_channel);
    }
    if urgency == Urgency::Urgent || out.is_empty() {
        for c in [Channel::Email, Channel::Sms] {
            if !out.contains(&c) && reachable(c) {
                out.push(c);
            }
        }
    }
    if out.is_empty() {
        out.push(Channel::Email);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(preferred: Channel, phone: Option<&str>) -> Person {
        Person {
            id: Uuid::from_u128(1),
            display_name: "王芳".into(),
            email: "wangfang@example.cn".into(),
            phone: phone.map(str::to_owned),
            preferred_channel: preferred,
        }
    }

    #[test]
    fn email_is_the_channel_until_sms_exists() {
        let p = person(Channel::Sms, Some("13800000000"));
        assert_eq!(
            channels(&p, Urgency::Normal, &[Channel::Email]),
            [Channel::Email]
        );
        assert_eq!(
            channels(&p, Urgency::Urgent, &[Channel::Email]),
            [Channel::Email]
        );
    }

    #[test]
    fn preferred_first_and_urgent_uses_every_channel() {
        let both = [Channel::Email, Channel::Sms];
        let p = person(Channel::Sms, Some("13800000000"));
        assert_eq!(channels(&p, Urgency::Normal, &both), [Channel::Sms]);
        assert_eq!(
            channels(&p, Urgency::Urgent, &both),
            [Channel::Sms, Channel::Email]
        );
        let no_phone = person(Channel::Sms, None);
        assert_eq!(
            channels(&no_phone, Urgency::Normal, &both),
            [Channel::Email]
        );
    }

    #[test]
    fn contact_details_stay_out_of_debug_output() {
        let p = person(Channel::Email, Some("13800000000"));
        let shown = format!("{p:?}");
        assert!(!shown.contains("wangfang") && !shown.contains("1380") && !shown.contains("王芳"));
    }
}
