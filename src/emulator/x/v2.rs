//! The v2 endpoints: users/me, users/by, users/by/username, users (by ID), and the blocking
//! list, block and unblock.
//!
//! v2 differs from v1.1 in shape only: string IDs, `data`/`meta`/`errors` envelopes with empty
//! parts omitted, and problem JSON for errors. Block and unblock are Enterprise-only on the
//! real network; `replies.v2_blocks_forbidden` emulates an app below that tier.

use serde_json::{Value, json};

use super::cursor;
use super::render::v2_user;
use super::reply::{Incoming, PROBLEMS, Reply};
use super::seed::{SeedUser, UserState, check_screen_name};
use super::state::State;

fn forbidden(detail: &str) -> Reply {
    Reply::problem_json(
        403,
        json!({"title": "Forbidden", "type": "about:blank", "status": 403, "detail": detail}),
    )
}

/// The access-tier 403 an app below Enterprise gets from the block endpoints.
pub fn client_forbidden() -> Reply {
    Reply::problem_json(
        403,
        json!({
            "client_id": "0",
            "required_enrollment": "Enterprise",
            "registration_url": "https://developer.x.com/en/portal/product",
            "title": "Client Forbidden",
            "detail": "This request must be made using an approved developer account that is enrolled in the requested endpoint. Learn more by visiting our documentation.",
            "reason": "client-not-enrolled",
            "type": "https://api.x.com/2/problems/client-forbidden",
        }),
    )
}

/// The 403 a read-only app gets from a write endpoint. The shape is the one users of other
/// clients report (PLhery/node-twitter-api-v2#493 and others), not one from X's reference, which
/// documents none; `type` is under `api.twitter.com` in those reports.
pub fn oauth1_permissions() -> Reply {
    Reply::problem_json(
        403,
        json!({
            "title": "Forbidden",
            "status": 403,
            "detail": "Your client app is not configured with the appropriate oauth1 app permissions for this endpoint.",
            "type": format!("{PROBLEMS}/oauth1-permissions"),
        }),
    )
}

/// Parses the `{id}` path parameter at `index` and checks it is the authenticated user.
fn own_id(state: &State, account: usize, req: &Incoming, index: usize) -> Result<u64, Reply> {
    let raw = req
        .route
        .path_params
        .get(index)
        .map(String::as_str)
        .unwrap_or("");
    let id = raw.parse::<u64>().map_err(|_| {
        Reply::invalid_request(
            "id",
            raw,
            format!("The `id` query parameter value [{raw}] is not valid"),
        )
    })?;
    match state.accounts.get(account) {
        Some(acc) if acc.user_id == id => Ok(id),
        _ => Err(forbidden("You are not permitted to act for another user.")),
    }
}

/// An active user by ID, or the 403 the emulator answers for anyone else.
fn active_target(state: &State, raw: &str, parameter: &str) -> Result<u64, Reply> {
    let id = raw.parse::<u64>().map_err(|_| {
        Reply::invalid_request(
            parameter,
            raw,
            format!("The `{parameter}` parameter value [{raw}] is not valid"),
        )
    })?;
    match state.users.get(&id) {
        Some(u) if u.state == UserState::Active => Ok(id),
        _ => Err(forbidden("You are not permitted to perform this action.")),
    }
}

/// `GET /2/users/me`.
pub fn me(state: &State, account: usize) -> Reply {
    match state
        .accounts
        .get(account)
        .and_then(|a| state.users.get(&a.user_id))
    {
        Some(user) => Reply::v2(&json!({"data": v2_user(user)})),
        None => Reply::problem(401, "Unauthorized"),
    }
}

/// `DELETE /2/users/{source}/blocking/{target}` and `POST /2/users/{id}/blocking`.
pub fn block_write(state: &mut State, account: usize, req: &Incoming, create: bool) -> Reply {
    if let Err(reply) = own_id(state, account, req, 0) {
        return reply;
    }
    let target = if create {
        let raw = req
            .json
            .as_ref()
            .and_then(|j| j.get("target_user_id"))
            .and_then(Value::as_str);
        match raw {
            Some(raw) => active_target(state, raw, "target_user_id"),
            None => Err(Reply::invalid_request(
                "target_user_id",
                "",
                "The `target_user_id` body field is missing.".into(),
            )),
        }
    } else {
        let raw = req
            .route
            .path_params
            .get(1)
            .map(String::as_str)
            .unwrap_or("");
        active_target(state, raw, "target_user_id")
    };
    let target = match target {
        Ok(id) => id,
        Err(reply) => return reply,
    };
    let Some(acc) = state.accounts.get_mut(account) else {
        return Reply::problem(401, "Unauthorized");
    };
    if create {
        if acc.blocked.insert(target) {
            state.log.counters().blocks_applied += 1;
        }
    } else if acc.blocked.remove(&target) {
        state.log.counters().unblocks_applied += 1;
    }
    Reply::v2(&json!({"data": {"blocking": create}}))
}

/// `GET /2/users/{id}/blocking`.
pub fn blocking(state: &State, account: usize, req: &Incoming) -> Reply {
    if let Err(reply) = own_id(state, account, req, 0) {
        return reply;
    }
    let max = match req.param("max_results") {
        None => 100,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Reply::invalid_request(
                    "max_results",
                    raw,
                    format!(
                        "The `max_results` query parameter value [{raw}] is not between 1 and 1000"
                    ),
                );
            }
        },
    };
    let after = match req.param("pagination_token") {
        None => None,
        Some(raw) => match cursor::from_token(raw) {
            Some(id) => Some(id),
            None => {
                return Reply::invalid_request(
                    "pagination_token",
                    raw,
                    format!("The `pagination_token` query parameter value [{raw}] is not valid"),
                );
            }
        },
    };
    let Some(acc) = state.accounts.get(account) else {
        return Reply::problem(401, "Unauthorized");
    };
    let (page, next) = super::v1::page_after(&acc.blocked, after, max);
    let users: Vec<_> = page
        .iter()
        .filter_map(|id| state.users.get(id))
        .filter(|u| u.state == UserState::Active)
        .map(v2_user)
        .collect();
    let mut meta = json!({"result_count": users.len()});
    if next != 0
        && let (Some(&last), Value::Object(m)) = (page.last(), &mut meta)
    {
        m.insert("next_token".into(), Value::String(cursor::token(last)));
    }
    let mut body = json!({"meta": meta});
    if !users.is_empty()
        && let Value::Object(m) = &mut body
    {
        m.insert("data".into(), json!(users));
    }
    Reply::v2(&body)
}

/// `GET /2/users/by?usernames=a,b`: found users in `data`, the rest as partial errors.
pub fn users_by(state: &State, req: &Incoming) -> Reply {
    let raw = req.param("usernames").unwrap_or("");
    let names: Vec<&str> = raw.split(',').map(str::trim).collect();
    let valid = |n: &&str| check_screen_name(n).is_ok();
    if raw.is_empty() || names.len() > 100 || !names.iter().all(valid) {
        return Reply::invalid_request(
            "usernames",
            raw,
            "The `usernames` query parameter must hold 1 to 100 names of 1 to 15 letters, digits or `_`".into(),
        );
    }
    let found = names
        .into_iter()
        .map(|name| (name, state.user_by_name(name)));
    partial_lookup(found, "usernames")
}

/// The partial error for a name or ID a lookup did not find as an active user: suspended users
/// are `Forbidden`, the rest `Not Found Error`.
fn lookup_error(value: &str, user: Option<&SeedUser>, parameter: &str) -> Value {
    let (title, detail) = match user {
        Some(u) if u.state == UserState::Suspended => {
            ("Forbidden", format!("User has been suspended: [{value}]."))
        }
        _ => (
            "Not Found Error",
            format!("Could not find user with {parameter}: [{value}]."),
        ),
    };
    json!({
        "value": value,
        "detail": detail,
        "title": title,
        "resource_type": "user",
        "parameter": parameter,
        "resource_id": value,
        "type": format!("{PROBLEMS}/resource-not-found"),
    })
}

/// Found users in `data`, the rest as partial errors naming `parameter` (`usernames`, `ids`),
/// as `users/by` and `users` answer: omitted fields stay out of the body.
fn partial_lookup<'a>(
    found: impl Iterator<Item = (&'a str, Option<&'a SeedUser>)>,
    parameter: &str,
) -> Reply {
    let mut data = Vec::new();
    let mut errors = Vec::new();
    for (value, user) in found {
        match user {
            Some(u) if u.state == UserState::Active => data.push(v2_user(u)),
            _ => errors.push(lookup_error(value, user, parameter)),
        }
    }
    let mut body = serde_json::Map::new();
    if !data.is_empty() {
        body.insert("data".into(), json!(data));
    }
    if !errors.is_empty() {
        body.insert("errors".into(), Value::Array(errors));
    }
    Reply::v2(&body)
}

/// `GET /2/users/by/username/{username}`: the user in `data` (an object, not a list), or 200
/// with only the partial error, as the lookups of several users answer for each one missing.
pub fn user_by_username(state: &State, req: &Incoming) -> Reply {
    let raw = req
        .route
        .path_params
        .first()
        .map(String::as_str)
        .unwrap_or("");
    if check_screen_name(raw).is_err() {
        return Reply::invalid_request(
            "username",
            raw,
            format!(
                "The `username` query parameter value [{raw}] does not match ^[A-Za-z0-9_]{{1,15}}$"
            ),
        );
    }
    match state.user_by_name(raw) {
        Some(u) if u.state == UserState::Active => Reply::v2(&json!({"data": v2_user(u)})),
        user => Reply::v2(&json!({"errors": [lookup_error(raw, user, "username")]})),
    }
}

/// `GET /2/users?ids=1,2`: found users in `data`, the rest as partial errors, like `users/by`.
pub fn users_by_id(state: &State, req: &Incoming) -> Reply {
    let raw = req.param("ids").unwrap_or("");
    let ids: Option<Vec<(&str, u64)>> = raw
        .split(',')
        .map(str::trim)
        .map(|s| s.parse::<u64>().ok().map(|id| (s, id)))
        .collect();
    let ids = match ids {
        Some(ids) if !raw.is_empty() && ids.len() <= 100 => ids,
        _ => {
            return Reply::invalid_request(
                "ids",
                raw,
                "The `ids` query parameter must hold 1 to 100 numeric user IDs".into(),
            );
        }
    };
    let found = ids
        .into_iter()
        .map(|(text, id)| (text, state.users.get(&id)));
    partial_lookup(found, "ids")
}

/// The 403 for a suspended token owner.
pub fn forbidden_suspended() -> Reply {
    forbidden("Your account is suspended and is not permitted to access this feature.")
}
