//! The endpoints: the token owner's account, lookup, relationships, block and unblock, the
//! blocks list, domain blocks, and the instance.
//!
//! Handlers run under the state lock after the throttles and authentication have passed; they
//! only read parameters, change the block rows and shape the answer, as the matching Mastodon
//! controller does.

use std::collections::{BTreeMap, HashSet};
use std::ops::Bound;

use serde_json::{Value, json};

use super::render::{self, InstanceStats};
use super::reply::{Incoming, Reply};
use super::seed::valid_domain;
use super::state::{State, normalize_domain};

/// Ruby's `String#to_i`: leading blanks, an optional sign, then digits up to the first other
/// character; 0 when there are none (saturating instead of growing a bignum).
pub fn ruby_to_i(raw: &str) -> i64 {
    let s = raw.trim_start();
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if negative { -n } else { n }
}

/// `ActiveModel::Type::Boolean` casting of a parameter (`truthy_param?`).
fn truthy(raw: Option<String>) -> bool {
    raw.is_some_and(|v| {
        !matches!(
            v.to_ascii_lowercase().as_str(),
            "" | "0" | "f" | "false" | "off"
        )
    })
}

/// `limit_param`: the default without `limit`, else `|limit.to_i|` capped at the maximum.
fn limit_param(req: &Incoming, default: usize, max: usize) -> usize {
    match req.param("limit") {
        None => default,
        Some(raw) => usize::try_from(ruby_to_i(&raw).unsigned_abs())
            .unwrap_or(usize::MAX)
            .min(max),
    }
}

/// `GET /api/v1/accounts/verify_credentials`.
pub fn verify_credentials(state: &State, user: u64) -> Reply {
    match state.accounts.get(&user) {
        Some(a) => Reply::ok(&render::credential_account(a, &state.domain)),
        None => Reply::not_found(),
    }
}

/// `GET /api/v1/accounts/lookup?acct=`.
pub fn lookup(state: &State, req: &Incoming) -> Reply {
    let found = req
        .present("acct")
        .and_then(|acct| state.lookup(&acct))
        .and_then(|id| state.accounts.get(&id));
    match found {
        Some(a) => Reply::ok(&render::account(a, &state.domain)),
        None => Reply::not_found(),
    }
}

/// `GET /api/v1/accounts/:id`: the account by ID (`Account.find`), a suspended one marked and
/// blanked as everywhere; 404 for an ID the instance does not know.
pub fn account(state: &State, req: &Incoming) -> Reply {
    let found = req
        .route
        .id
        .as_deref()
        .and_then(super::seed::parse_id)
        .and_then(|id| state.accounts.get(&id));
    match found {
        Some(a) => Reply::ok(&render::account(a, &state.domain)),
        None => Reply::not_found(),
    }
}

/// `GET /api/v1/accounts/relationships?id[]=`: one Relationship per known ID, in the order
/// asked, suspended accounts left out unless `with_suspended` is truthy.
pub fn relationships(state: &State, user: u64, req: &Incoming) -> Reply {
    let with_suspended = truthy(req.param("with_suspended"));
    let list: Vec<Value> = req
        .list("id")
        .iter()
        .filter_map(|raw| u64::try_from(ruby_to_i(raw)).ok())
        .filter(|id| {
            state
                .accounts
                .get(id)
                .is_some_and(|a| with_suspended || !a.suspended)
        })
        .map(|id| render::relationship(state.relation(user, id)))
        .collect();
    Reply::ok(&list)
}

/// `POST /api/v1/accounts/:id/block` and `/unblock`: the Relationship after the change, 200
/// also when nothing changed; 404 for an ID the instance does not know. A suspended account is
/// found by ID like any other.
pub fn block_write(state: &mut State, user: u64, req: &Incoming, block: bool) -> Reply {
    let target = req
        .route
        .id
        .as_deref()
        .and_then(super::seed::parse_id)
        .filter(|id| state.accounts.contains_key(id));
    let Some(target) = target else {
        return Reply::not_found();
    };
    if block {
        if state.block(user, target) {
            state.log.counters().blocks_applied += 1;
        }
    } else if state.unblock(user, target) {
        state.log.counters().unblocks_applied += 1;
    }
    Reply::ok(&render::relationship(state.relation(user, target)))
}

/// One page of rows, newest first: below `max_id`, above `since_id` (both row IDs, read with
/// `to_i`), `limit` of the rows `keep` accepts (`paginate_by_max_id`).
///
/// The two IDs become bounds of a range on the rows, so a page costs its own length rather
/// than a walk through every newer row. The comparison is the signed one of the query: a row
/// ID past `i64::MAX` reads as `i64::MAX`.
fn page<'a, T>(
    rows: &'a BTreeMap<u64, T>,
    req: &Incoming,
    limit: usize,
    keep: impl Fn(&T) -> bool,
) -> Vec<(u64, &'a T)> {
    let max_id = req.present("max_id").map(|v| ruby_to_i(&v));
    let since_id = req.present("since_id").map(|v| ruby_to_i(&v));
    // `row < max_id`: nothing when max_id is not above zero.
    let upper = match max_id.map(u64::try_from) {
        None => Bound::Unbounded,
        Some(Ok(m)) => Bound::Excluded(m),
        Some(Err(_)) => return Vec::new(),
    };
    // `row > since_id`: every row when since_id is negative, none when it is `i64::MAX`.
    let lower = match since_id {
        None => Bound::Unbounded,
        Some(s) if s < 0 => Bound::Unbounded,
        Some(i64::MAX) => return Vec::new(),
        Some(s) => Bound::Excluded(s.unsigned_abs()),
    };
    if let (Bound::Excluded(low), Bound::Excluded(high)) = (lower, upper)
        && low >= high
    {
        return Vec::new();
    }
    rows.range((lower, upper))
        .rev()
        .filter(|(_, item)| keep(item))
        .take(limit)
        .map(|(row, item)| (*row, item))
        .collect()
}

/// The `Link` header of a page: `rel="next"` (older rows) only when the page was full,
/// `rel="prev"` (newer rows) when it was not empty. Each URL keeps the request's `limit` and
/// adds `max_id` or `since_id`, keys sorted as Rails' `to_query` sorts them.
fn link(req: &Incoming, path: &str, rows: &[u64], limit: usize) -> Option<String> {
    let base = format!("{}://{}{path}", req.scheme, req.host);
    let url = |key: &str, row: u64| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(limit) = req.param("limit") {
            query.append_pair("limit", &limit);
        }
        query.append_pair(key, &row.to_string());
        format!("{base}?{}", query.finish())
    };
    let mut links = Vec::new();
    if let (Some(&last), true) = (rows.last(), rows.len() == limit) {
        links.push(format!("<{}>; rel=\"next\"", url("max_id", last)));
    }
    if let Some(&first) = rows.first() {
        links.push(format!("<{}>; rel=\"prev\"", url("since_id", first)));
    }
    (!links.is_empty()).then(|| links.join(", "))
}

/// A paged list answer: the page of `rows` as `page` picks it, each row rendered (a row
/// `render` declines is left out of the body but still counts for the `Link` header).
fn list_page<'a, T, V: serde::Serialize>(
    req: &Incoming,
    path: &str,
    rows: &'a BTreeMap<u64, T>,
    limit: usize,
    keep: impl Fn(&T) -> bool,
    render: impl Fn(&'a T) -> Option<V>,
) -> Reply {
    let rows = page(rows, req, limit, keep);
    let body: Vec<V> = rows.iter().filter_map(|(_, item)| render(item)).collect();
    let ids: Vec<u64> = rows.iter().map(|(row, _)| *row).collect();
    let reply = Reply::ok(&body);
    match link(req, path, &ids, limit) {
        Some(l) => reply.with_header("link", l),
        None => reply,
    }
}

/// `GET /api/v1/blocks`: the blocked accounts, newest block first, suspended accounts left
/// out (before the limit applies, as the query excludes them), paged by block row ID.
pub fn blocks(state: &State, user: u64, req: &Incoming) -> Reply {
    let r = &state.config.replies;
    let limit = limit_param(req, r.blocks_page, r.blocks_page_max);
    let Some(u) = state.user(user) else {
        return Reply::ok(&json!([]));
    };
    list_page(
        req,
        "/api/v1/blocks",
        &u.blocks,
        limit,
        |target| state.accounts.get(target).is_some_and(|a| !a.suspended),
        |target| {
            state
                .accounts
                .get(target)
                .map(|a| render::account(a, &state.domain))
        },
    )
}

/// `GET /api/v1/domain_blocks`: the blocked domains as strings, newest first, paged by row ID.
pub fn domain_blocks(state: &State, user: u64, req: &Incoming) -> Reply {
    let r = &state.config.replies;
    let limit = limit_param(req, r.domain_blocks_page, r.domain_blocks_page_max);
    let Some(u) = state.user(user) else {
        return Reply::ok(&json!([]));
    };
    list_page(
        req,
        "/api/v1/domain_blocks",
        &u.domain_blocks,
        limit,
        |_| true,
        Some,
    )
}

/// `POST /api/v1/domain_blocks` and `DELETE /api/v1/domain_blocks` (`domain` from the query,
/// a form or a JSON body): `{}`. Lifting a domain that is not blocked is no error; blocking
/// needs a valid domain (422 as the model's validation says). The counters of blocks applied
/// count account blocks only; domain block writes show in the per-endpoint counts.
pub fn domain_block_write(state: &mut State, user: u64, req: &Incoming, block: bool) -> Reply {
    let domain = req.param("domain").map(|d| normalize_domain(&d));
    if block {
        match domain {
            None => return Reply::error(422, "Validation failed: Domain can't be blank"),
            Some(d) if d.is_empty() => {
                return Reply::error(422, "Validation failed: Domain can't be blank");
            }
            Some(d) if !valid_domain(&d) => {
                return Reply::error(422, "Validation failed: Domain is not a valid domain name");
            }
            Some(d) => {
                state.block_domain(user, &d);
            }
        }
    } else if let Some(d) = domain {
        state.unblock_domain(user, &d);
    }
    Reply::ok(&json!({}))
}

/// `GET /api/v1/instance` and `GET /api/v2/instance`.
pub fn instance(state: &State, v2: bool) -> Reply {
    let domains: HashSet<&str> = state
        .accounts
        .values()
        .filter_map(|a| a.domain.as_deref())
        .collect();
    let stats = InstanceStats {
        users: state
            .accounts
            .values()
            .filter(|a| a.domain.is_none())
            .count(),
        domains: domains.len(),
    };
    let config = &state.config.instance;
    if v2 {
        Reply::ok(&render::instance_v2(&state.domain, config, stats))
    } else {
        Reply::ok(&render::instance_v1(&state.domain, config, stats))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_i_reads_as_ruby_does() {
        for (raw, n) in [
            ("80", 80),
            (" 12abc", 12),
            ("abc", 0),
            ("-5", -5),
            ("+7", 7),
            ("", 0),
            ("99999999999999999999", i64::MAX),
        ] {
            assert_eq!(ruby_to_i(raw), n, "{raw}");
        }
        assert!(truthy(Some("true".into())) && truthy(Some("1".into())));
        assert!(!truthy(Some("false".into())) && !truthy(Some("0".into())) && !truthy(None));
    }
}
