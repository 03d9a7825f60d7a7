//! Mastodon's entities as its serializers shape them: Account (`REST::AccountSerializer`), the
//! token owner's CredentialAccount, Relationship (`REST::RelationshipSerializer`), the v1 and v2
//! Instance, and the timestamps they carry.
//!
//! The seed only names accounts, but clients parse whole entities, so the remaining fields
//! (counts, the last status date) are derived deterministically from the account ID, and the
//! creation date from the ID's timestamp bits (Mastodon's IDs are milliseconds shifted left by
//! 16): the same account always looks the same.

use serde_json::{Value, json};

use super::config::InstanceConfig;
use super::state::AccountRec;
use crate::emulator::seed::mix;

/// Epoch milliseconds as Ruby's `Time#iso8601(6)` writes a UTC time:
/// `2020-09-08T13:25:00.019000Z` (the emulator's clock has millisecond precision).
pub fn iso8601_micros(ms: i64) -> String {
    let (secs, milli) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    format!("{}.{:06}Z", date_time(secs), milli * 1000)
}

/// A date's midnight as `ActiveSupport::TimeWithZone#as_json` writes it:
/// `2022-11-03T00:00:00.000Z` (`created_at` of an account).
pub fn midnight(ms: i64) -> String {
    let (y, m, d) = civil(ms.div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02}T00:00:00.000Z")
}

/// A date as `Date#iso8601` writes it: `2024-05-01` (`last_status_at`).
pub fn date(ms: i64) -> String {
    let (y, m, d) = civil(ms.div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02}")
}

fn date_time(secs: i64) -> String {
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// When an account was created: the timestamp bits of its ID.
pub fn created_ms(id: u64) -> i64 {
    i64::try_from(id >> 16).unwrap_or(i64::MAX)
}

/// The latest `last_status_at` the derived data uses (2025-01-01), so dates stay in the past.
const LAST_STATUS_CAP_MS: i64 = 1_735_689_600_000;

/// An account as `REST::AccountSerializer` shapes it. A suspended account shows as Mastodon
/// shows an unavailable one: `suspended: true` and its profile blanked.
pub fn account(a: &AccountRec, local_domain: &str) -> Value {
    let h = mix(a.id);
    let host = a.domain.as_deref().unwrap_or(local_domain);
    let acct = match &a.domain {
        Some(d) => format!("{}@{d}", a.username),
        None => a.username.clone(),
    };
    let unavailable = a.suspended;
    let statuses_count = if unavailable { 0 } else { h % 5_000 };
    let created = created_ms(a.id);
    let last_status_at = (statuses_count > 0).then(|| {
        let span = (LAST_STATUS_CAP_MS - created).max(1);
        date(created + ((h >> 13) as i64).rem_euclid(span))
    });
    let avatar = format!("https://{local_domain}/avatars/original/missing.png");
    let header = format!("https://{local_domain}/headers/original/missing.png");
    let mut v = json!({
        "id": a.id.to_string(),
        "username": a.username,
        "acct": acct,
        "display_name": if unavailable { "" } else { a.display_name.as_str() },
        "locked": !unavailable && h.is_multiple_of(23),
        "bot": !unavailable && h.is_multiple_of(41),
        "discoverable": !unavailable && !h.is_multiple_of(3),
        "indexable": !unavailable && h.is_multiple_of(4),
        "group": false,
        "created_at": midnight(created),
        "note": if unavailable { String::new() } else { format!("<p>{}</p>", a.display_name) },
        "url": format!("https://{host}/@{}", a.username),
        "uri": format!("https://{host}/users/{}", a.username),
        "avatar": avatar,
        "avatar_static": avatar,
        "avatar_description": "",
        "header": header,
        "header_static": header,
        "header_description": "",
        "followers_count": if unavailable { 0 } else { (h >> 4) % 3_000 },
        "following_count": if unavailable { 0 } else { (h >> 20) % 900 },
        "statuses_count": statuses_count,
        "last_status_at": last_status_at,
        "hide_collections": Value::Null,
        "emojis": [],
        "fields": [],
    });
    if let Value::Object(map) = &mut v {
        if unavailable {
            map.insert("suspended".into(), Value::Bool(true));
        }
        if a.domain.is_none() {
            map.insert("noindex".into(), Value::Bool(false));
            map.insert("roles".into(), json!([]));
        }
    }
    v
}

/// The token owner as `verify_credentials` shapes it (`REST::CredentialAccountSerializer`):
/// the account with its `source` and `role`.
pub fn credential_account(a: &AccountRec, local_domain: &str) -> Value {
    let mut v = account(a, local_domain);
    if let Value::Object(map) = &mut v {
        let discoverable = map.get("discoverable").cloned().unwrap_or(Value::Null);
        let indexable = map.get("indexable").cloned().unwrap_or(Value::Null);
        map.insert(
            "source".into(),
            json!({
                "privacy": "public",
                "sensitive": false,
                "language": Value::Null,
                "note": a.display_name,
                "fields": [],
                "follow_requests_count": 0,
                "hide_collections": Value::Null,
                "discoverable": discoverable,
                "indexable": indexable,
                "attribution_domains": [],
            }),
        );
        map.insert(
            "role".into(),
            json!({"id": "-99", "name": "", "permissions": "65536", "color": "", "highlighted": false}),
        );
    }
    v
}

/// What a Relationship says about one account, as seen by the requesting user. Follows,
/// mutes and notes are not modelled: they are always off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relation {
    /// The other account.
    pub id: u64,
    /// The user blocks it.
    pub blocking: bool,
    /// It blocks the user.
    pub blocked_by: bool,
    /// The user blocks its domain.
    pub domain_blocking: bool,
}

/// A Relationship as `REST::RelationshipSerializer` shapes it.
pub fn relationship(r: Relation) -> Value {
    json!({
        "id": r.id.to_string(),
        "following": false,
        "showing_reblogs": false,
        "notifying": false,
        "languages": Value::Null,
        "followed_by": false,
        "blocking": r.blocking,
        "blocked_by": r.blocked_by,
        "muting": false,
        "muting_notifications": false,
        "requested": false,
        "requested_by": false,
        "domain_blocking": r.domain_blocking,
        "endorsed": false,
        "note": "",
    })
}

/// Counts the instance endpoints report.
#[derive(Clone, Copy, Debug)]
pub struct InstanceStats {
    /// Local accounts.
    pub users: usize,
    /// Domains of remote accounts.
    pub domains: usize,
}

/// `GET /api/v1/instance` (`REST::V1::InstanceSerializer`).
pub fn instance_v1(domain: &str, config: &InstanceConfig, stats: InstanceStats) -> Value {
    json!({
        "uri": domain,
        "title": "Mastodon",
        "short_description": "An emulated Mastodon instance for trying bulk unblocking safely.",
        "description": "",
        "email": format!("admin@{domain}"),
        "version": config.version,
        "urls": {"streaming_api": format!("wss://{domain}")},
        "stats": {"user_count": stats.users, "status_count": 0, "domain_count": stats.domains},
        "thumbnail": format!("https://{domain}/packs/media/images/preview.png"),
        "languages": ["en"],
        "registrations": false,
        "approval_required": false,
        "invites_enabled": true,
        "configuration": configuration(domain),
        "contact_account": Value::Null,
        "rules": [],
    })
}

/// `GET /api/v2/instance` (`REST::InstanceSerializer`).
pub fn instance_v2(domain: &str, config: &InstanceConfig, stats: InstanceStats) -> Value {
    let mut configuration = configuration(domain);
    if let Value::Object(map) = &mut configuration {
        map.insert(
            "urls".into(),
            json!({
                "streaming": format!("wss://{domain}"),
                "status": Value::Null,
                "about": format!("https://{domain}/about"),
                "privacy_policy": format!("https://{domain}/privacy-policy"),
                "terms_of_service": Value::Null,
            }),
        );
        map.insert("vapid".into(), json!({"public_key": ""}));
        map.insert("translation".into(), json!({"enabled": false}));
    }
    let mut v = json!({
        "domain": domain,
        "title": "Mastodon",
        "version": config.version,
        "source_url": "https://github.com/mastodon/mastodon",
        "description": "An emulated Mastodon instance for trying bulk unblocking safely.",
        "usage": {"users": {"active_month": stats.users}},
        "thumbnail": {"url": format!("https://{domain}/packs/media/images/preview.png")},
        "icon": [],
        "languages": ["en"],
        "configuration": configuration,
        "registrations": {"enabled": false, "approval_required": false, "message": Value::Null, "url": Value::Null},
        "contact": {"email": format!("admin@{domain}"), "account": Value::Null},
        "rules": [],
    });
    if let (Value::Object(map), Some(api)) = (&mut v, config.api_version) {
        map.insert("api_versions".into(), json!({ "mastodon": api }));
    }
    v
}

fn configuration(domain: &str) -> Value {
    json!({
        "urls": {"streaming_api": format!("wss://{domain}")},
        "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
        "statuses": {"max_characters": 500, "max_media_attachments": 4, "characters_reserved_per_url": 23},
        "media_attachments": {
            "supported_mime_types": ["image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4"],
            "image_size_limit": 16_777_216,
            "image_matrix_limit": 33_177_600,
            "video_size_limit": 103_809_024,
            "video_frame_rate_limit": 120,
            "video_matrix_limit": 8_294_400,
        },
        "polls": {"max_options": 4, "max_characters_per_option": 50, "min_expiration": 300, "max_expiration": 2_629_746},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_written_as_ruby_writes_them() {
        assert_eq!(
            iso8601_micros(1_599_571_500_019),
            "2020-09-08T13:25:00.019000Z"
        );
        assert_eq!(iso8601_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            iso8601_micros(951_782_400_000),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(iso8601_micros(-1), "1969-12-31T23:59:59.999000Z");
        assert_eq!(midnight(1_667_433_600_123), "2022-11-03T00:00:00.000Z");
        assert_eq!(date(4_102_444_799_000), "2099-12-31");
    }

    #[test]
    fn accounts_local_remote_and_suspended() {
        let local = AccountRec {
            id: 109_276_928_409_644_247,
            username: "demo_owner".into(),
            domain: None,
            display_name: "Demo Owner".into(),
            suspended: false,
        };
        let v = account(&local, "mastodon.test");
        assert_eq!(v["id"], "109276928409644247");
        assert_eq!(v["acct"], "demo_owner");
        assert_eq!(v["url"], "https://mastodon.test/@demo_owner");
        assert_eq!(v["created_at"], "2022-11-03T00:00:00.000Z");
        assert!(v.get("suspended").is_none() && v["roles"].is_array());
        let remote = AccountRec {
            domain: Some("other.example".into()),
            suspended: true,
            ..local.clone()
        };
        let v = account(&remote, "mastodon.test");
        assert_eq!(v["acct"], "demo_owner@other.example");
        assert_eq!(v["uri"], "https://other.example/users/demo_owner");
        assert_eq!(
            (v["suspended"].clone(), v["display_name"].clone()),
            (json!(true), json!(""))
        );
        assert!(v.get("roles").is_none());
        let me = credential_account(&local, "mastodon.test");
        assert_eq!(me["source"]["privacy"], "public");
        let r = relationship(Relation {
            id: 7,
            blocking: true,
            ..Relation::default()
        });
        assert_eq!(
            (r["id"].clone(), r["blocking"].clone()),
            (json!("7"), json!(true))
        );
        assert_eq!(r.as_object().map(|m| m.len()), Some(15));
    }
}
