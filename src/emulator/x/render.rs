//! User objects as the real API shapes them, v1.1 and v2.
//!
//! The seed only names users, but clients parse whole v1.1 user objects, so the remaining fields
//! (counts, creation date, a last status) are derived deterministically from the user ID: the
//! same user always looks the same, and IDs from the snowflake era get a matching creation date.

use serde::Serialize;

use super::seed::{SeedUser, UserState};
use crate::emulator::seed::mix;

/// Milliseconds between the Unix epoch and the snowflake epoch.
const SNOWFLAKE_EPOCH_MS: i64 = 1_288_834_974_657;

/// Options of a v1.1 user rendering.
#[derive(Clone, Copy, Debug)]
pub struct V1Options {
    /// Leave out `status` (`skip_status` true, t or 1).
    pub skip_status: bool,
    /// Keep `entities` (unless `include_entities` false, f or 0).
    pub include_entities: bool,
}

impl V1Options {
    /// Reads the `skip_status` and `include_entities` parameters.
    pub fn from_params(skip_status: Option<&str>, include_entities: Option<&str>) -> V1Options {
        V1Options {
            skip_status: skip_status.is_some_and(truthy),
            include_entities: !include_entities.is_some_and(falsy),
        }
    }
}

/// `true`, `t` or `1`, as the docs spell it.
pub fn truthy(v: &str) -> bool {
    matches!(v, "true" | "t" | "1")
}

fn falsy(v: &str) -> bool {
    matches!(v, "false" | "f" | "0")
}

/// A v1.1 user object (the field set of real bodies).
#[derive(Serialize)]
pub struct V1User<'a> {
    id: u64,
    id_str: String,
    name: &'a str,
    screen_name: &'a str,
    location: &'static str,
    description: &'static str,
    url: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entities: Option<Entities>,
    protected: bool,
    followers_count: u64,
    friends_count: u64,
    listed_count: u64,
    created_at: String,
    favourites_count: u64,
    utc_offset: Option<i32>,
    time_zone: Option<&'static str>,
    geo_enabled: bool,
    verified: bool,
    statuses_count: u64,
    lang: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<V1Status>,
    profile_image_url_https: String,
    default_profile: bool,
    default_profile_image: bool,
    following: bool,
    follow_request_sent: bool,
    notifications: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    suspended: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    needs_phone_verification: Option<bool>,
}

#[derive(Serialize)]
struct Entities {
    description: Urls,
}

#[derive(Serialize)]
struct Urls {
    urls: [(); 0],
}

#[derive(Serialize)]
struct V1Status {
    created_at: String,
    id: u64,
    id_str: String,
    text: &'static str,
    truncated: bool,
    source: &'static str,
    in_reply_to_status_id: Option<u64>,
    retweet_count: u64,
    favorite_count: u64,
    favorited: bool,
    retweeted: bool,
    lang: &'static str,
}

const TEXTS: [&str; 4] = [
    "Just setting up my twttr",
    "good morning everyone",
    "new post is up, link in bio",
    "can't believe it's already Friday",
];

/// Renders a user as v1.1 does.
pub fn v1_user(user: &SeedUser, opts: V1Options) -> V1User<'_> {
    let h = mix(user.id);
    let created_ms = created_ms(user.id);
    let statuses_count = h % 40_000;
    let status = (!opts.skip_status && statuses_count > 0 && user.state == UserState::Active)
        .then(|| {
            let at = created_ms + ((h >> 20) % 300_000_000_000) as i64;
            let at = at.min(1_760_000_000_000);
            let id = (((at - SNOWFLAKE_EPOCH_MS).max(0) as u64) << 22) | (h & 0x3f_ffff);
            V1Status {
                created_at: twitter_date(at),
                id,
                id_str: id.to_string(),
                text: TEXTS[(h % TEXTS.len() as u64) as usize],
                truncated: false,
                source: "<a href=\"https://mobile.twitter.com\" rel=\"nofollow\">Twitter Web App</a>",
                in_reply_to_status_id: None,
                retweet_count: (h >> 8) % 20,
                favorite_count: (h >> 12) % 150,
                favorited: false,
                retweeted: false,
                lang: "en",
            }
        });
    V1User {
        id: user.id,
        id_str: user.id.to_string(),
        name: &user.name,
        screen_name: &user.screen_name,
        location: "",
        description: "",
        url: None,
        entities: opts.include_entities.then_some(Entities {
            description: Urls { urls: [] },
        }),
        protected: h.is_multiple_of(17),
        followers_count: (h >> 4) % 12_000,
        friends_count: (h >> 16) % 2_000,
        listed_count: (h >> 24) % 60,
        created_at: twitter_date(created_ms),
        favourites_count: (h >> 28) % 25_000,
        utc_offset: None,
        time_zone: None,
        geo_enabled: false,
        verified: false,
        statuses_count,
        lang: None,
        status,
        profile_image_url_https: if h.is_multiple_of(5) {
            "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png".into()
        } else {
            format!(
                "https://pbs.twimg.com/profile_images/{}/photo_normal.jpg",
                h % 1_000_000_000_000
            )
        },
        default_profile: h.is_multiple_of(3),
        default_profile_image: h.is_multiple_of(5),
        following: false,
        follow_request_sent: false,
        notifications: false,
        suspended: None,
        needs_phone_verification: None,
    }
}

/// Renders the token owner as `verify_credentials` does (with the account flags).
pub fn v1_self(user: &SeedUser, opts: V1Options) -> V1User<'_> {
    let mut u = v1_user(user, opts);
    u.suspended = Some(false);
    u.needs_phone_verification = Some(false);
    u
}

/// A v2 user object with the default fields.
#[derive(Serialize)]
pub struct V2User<'a> {
    id: String,
    name: &'a str,
    username: &'a str,
}

/// Renders a user as v2 does by default.
pub fn v2_user(user: &SeedUser) -> V2User<'_> {
    V2User {
        id: user.id.to_string(),
        name: &user.name,
        username: &user.screen_name,
    }
}

/// When the user joined: the snowflake time for snowflake IDs, a stable date in 2006–2013 for
/// the older sequential IDs.
fn created_ms(id: u64) -> i64 {
    if id >= 1 << 40 {
        (id >> 22) as i64 + SNOWFLAKE_EPOCH_MS
    } else {
        1_142_000_000_000 + ((mix(id) % 230_000_000) as i64) * 1000
    }
}

/// The v1.1 date format, `Tue Feb 20 14:35:54 +0000 2007`.
pub fn twitter_date(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    // `Tue, 20 Feb 2007 14:35:54 GMT` → `Tue Feb 20 14:35:54 +0000 2007`
    let http = httpdate::fmt_http_date(t);
    let parts: Vec<&str> = http.split(' ').collect();
    match parts.as_slice() {
        [wd, day, mon, year, time, _] => {
            format!(
                "{} {mon} {day} {time} +0000 {year}",
                wd.trim_end_matches(',')
            )
        }
        _ => http,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_use_the_v1_format() {
        assert_eq!(
            twitter_date(1_171_982_154_000),
            "Tue Feb 20 14:35:54 +0000 2007"
        );
    }

    #[test]
    fn snowflake_ids_date_from_their_bits() {
        // 1072250532645998596 was created in December 2018.
        let d = twitter_date(created_ms(1_072_250_532_645_998_596));
        assert!(d.ends_with("2018") && d.contains("Dec"), "{d}");
    }

    #[test]
    fn v1_user_keeps_id_str_and_honours_skip_status() {
        let user = SeedUser::active(1_072_250_532_645_998_596, "TweepyDev", "Tweepy Testing");
        let on = serde_json::to_value(v1_user(
            &user,
            V1Options {
                skip_status: false,
                include_entities: true,
            },
        ))
        .expect("serializes");
        assert_eq!(on["id_str"], "1072250532645998596");
        assert_eq!(on["id"].as_u64(), Some(1_072_250_532_645_998_596));
        assert!(on.get("entities").is_some());
        assert!(on["url"].is_null() && on.get("url").is_some());
        let off = serde_json::to_value(v1_user(
            &user,
            V1Options {
                skip_status: true,
                include_entities: false,
            },
        ))
        .expect("serializes");
        assert!(off.get("status").is_none());
        assert!(off.get("entities").is_none());
        assert!(off.get("suspended").is_none());
    }
}
