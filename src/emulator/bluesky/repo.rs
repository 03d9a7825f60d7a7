//! The repo methods: listing and reading records (no authentication), deleting, creating and
//! batching writes (an access token for the repo's own account).
//!
//! The details a bulk unblocker depends on were each checked against the reference PDS:
//! `listRecords` returns a cursor on every non-empty page, the last included, and an empty
//! page without one; deleting a missing record answers 200 `{}`; `applyWrites` is atomic and
//! answers a 500 that hides its reason when one write cannot apply (a record already gone);
//! `createRecord` of a block first deletes every older block of the same subject, while
//! `applyWrites` creates do not. Input is checked the way the PDS's lexicon validation checks
//! it, with its messages, before any point is charged.

use serde_json::{Map, Value, json};

use super::session::Authed;
use super::state::{Applied, State, Write, record_uri};
use super::syntax::{
    is_at_identifier, is_datetime, is_did, is_nsid, is_record_key, record_uri as parse_uri,
};
use super::xrpc::{Body, Incoming, Reply};
use super::{BLOCK, FOLLOW, LIST, LISTBLOCK};
use crate::emulator::bluesky::config::{AppViewState, Limits};
use crate::emulator::bluesky::route::Endpoint;

/// A syntax check of an identifier.
type Syntax = fn(&str) -> bool;

const CREATE: &str = "com.atproto.repo.applyWrites#create";
const UPDATE: &str = "com.atproto.repo.applyWrites#update";
const DELETE: &str = "com.atproto.repo.applyWrites#delete";

/// How a value is shown in a validation message: scalars and arrays as JSON, objects by
/// their keys (`{"collection": ..., "rkey": ...}`), as the PDS's validator shows them.
fn got(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let keys: Vec<String> = map
                .keys()
                .map(|k| format!("{}: ...", Value::from(k.as_str())))
                .collect();
            format!("{{{}}}", keys.join(", "))
        }
        other => other.to_string(),
    }
}

/// Checks a query's parameters as the lexicon does: `Err` is the 400 the PDS gives before
/// authenticating or charging anything.
pub fn check_params(endpoint: Endpoint, req: &Incoming) -> Result<(), Reply> {
    let fail = |issue: String| {
        Err(Reply::invalid(&format!(
            "Invalid {} params: {issue}",
            endpoint.name()
        )))
    };
    let required = |key: &str| {
        req.param(key)
            .ok_or_else(|| format!("Missing required key \"{key}\""))
    };
    let checks: &[(&str, Syntax, &str)] = match endpoint {
        Endpoint::ListRecords => &[
            ("repo", is_at_identifier, "AT identifier"),
            ("collection", is_nsid, "NSID"),
        ],
        Endpoint::GetRecord => &[
            ("repo", is_at_identifier, "AT identifier"),
            ("collection", is_nsid, "NSID"),
            ("rkey", is_record_key, "record key"),
        ],
        Endpoint::ResolveHandle => &[("handle", super::syntax::is_handle, "handle")],
        _ => &[],
    };
    for (key, valid, what) in checks {
        match required(key) {
            Err(issue) => return fail(issue),
            Ok(value) if !valid(value) => {
                return fail(format!("Invalid {what} (got {})", Value::from(value)));
            }
            Ok(_) => {}
        }
    }
    if endpoint == Endpoint::ListRecords {
        limit(req, 50).map_err(|issue| {
            Reply::invalid(&format!("Invalid {} params: {issue}", endpoint.name()))
        })?;
        if let Some(reverse) = req.param("reverse")
            && !matches!(reverse, "true" | "false")
        {
            return fail(format!(
                "Expected boolean value type (got {})",
                Value::from(reverse)
            ));
        }
    }
    Ok(())
}

/// The `limit` parameter: an integer from 1 to 100, `default` when absent.
pub fn limit(req: &Incoming, default: usize) -> Result<usize, String> {
    let Some(raw) = req.param("limit") else {
        return Ok(default);
    };
    let n: i64 = raw
        .parse()
        .map_err(|_| format!("Expected integer value type (got {})", Value::from(raw)))?;
    if n < 1 {
        return Err(format!("integer too small (minimum 1, got {n})"));
    }
    if n > 100 {
        return Err(format!("integer too big (maximum 100, got {n})"));
    }
    Ok(usize::try_from(n).unwrap_or(100))
}

/// Checks a procedure's body as the PDS does before authenticating the rate limits: the
/// encoding, the JSON, and the lexicon's required keys and formats.
pub fn check_input(endpoint: Endpoint, req: &Incoming) -> Result<(), Reply> {
    if !matches!(
        endpoint,
        Endpoint::CreateSession
            | Endpoint::DeleteRecord
            | Endpoint::CreateRecord
            | Endpoint::ApplyWrites
    ) {
        return Ok(());
    }
    let body = match &req.body {
        Body::Missing => {
            return Err(Reply::invalid(
                "Request encoding (Content-Type) required but not provided",
            ));
        }
        Body::WrongType(content_type) => {
            return Err(Reply::invalid(&format!(
                "Wrong request encoding (Content-Type): {content_type}"
            )));
        }
        Body::BadJson(message) => return Err(Reply::error(400, "SyntaxError", message)),
        Body::Json(Value::Object(body)) => body,
        Body::Json(other) => {
            return Err(Reply::invalid(&format!(
                "Expected object value type (got {}) at $",
                got(other)
            )));
        }
    };
    let fields: &[(&str, Format, bool)] = match endpoint {
        Endpoint::CreateSession => &[
            ("identifier", Format::String, true),
            ("password", Format::String, true),
        ],
        Endpoint::DeleteRecord => &[
            ("repo", Format::AtIdentifier, true),
            ("collection", Format::Nsid, true),
            ("rkey", Format::RecordKey, true),
        ],
        Endpoint::CreateRecord => &[
            ("repo", Format::AtIdentifier, true),
            ("collection", Format::Nsid, true),
            ("rkey", Format::RecordKey, false),
            ("validate", Format::Boolean, false),
            ("record", Format::Object, true),
        ],
        _ => &[
            ("repo", Format::AtIdentifier, true),
            ("validate", Format::Boolean, false),
            ("writes", Format::Array, true),
        ],
    };
    check_fields(body, fields, "$")?;
    if endpoint == Endpoint::ApplyWrites {
        let writes = body.get("writes").and_then(Value::as_array);
        for (i, write) in writes.into_iter().flatten().enumerate() {
            let path = format!("$.writes[{i}]");
            let Some(write) = write.as_object().filter(|w| w.contains_key("$type")) else {
                return Err(Reply::invalid(&format!(
                    "Expected an object which includes the \"$type\" property value type (got {}) at {path}",
                    got(write)
                )));
            };
            let fields: &[(&str, Format, bool)] = match write.get("$type").and_then(Value::as_str) {
                Some(CREATE) => &[
                    ("collection", Format::Nsid, true),
                    ("rkey", Format::RecordKey, false),
                    ("value", Format::Object, true),
                ],
                Some(UPDATE) => &[
                    ("collection", Format::Nsid, true),
                    ("rkey", Format::RecordKey, true),
                    ("value", Format::Object, true),
                ],
                Some(DELETE) => &[
                    ("collection", Format::Nsid, true),
                    ("rkey", Format::RecordKey, true),
                ],
                _ => {
                    return Err(Reply::invalid(&format!(
                        "Expected one of \"{CREATE}\", \"{UPDATE}\" or \"{DELETE}\" (got {}) at {path}.$type",
                        got(&write["$type"])
                    )));
                }
            };
            check_fields(write, fields, &path)?;
        }
    }
    Ok(())
}

/// A lexicon field's type and format.
#[derive(Clone, Copy)]
enum Format {
    String,
    AtIdentifier,
    Nsid,
    RecordKey,
    Boolean,
    Object,
    Array,
}

fn check_fields(
    body: &Map<String, Value>,
    fields: &[(&str, Format, bool)],
    path: &str,
) -> Result<(), Reply> {
    for (key, format, required) in fields {
        let Some(value) = body.get(*key) else {
            if *required {
                return Err(Reply::invalid(&format!(
                    "Missing required key \"{key}\" at {path}"
                )));
            }
            continue;
        };
        let at = format!("{path}.{key}");
        let expected = match format {
            Format::Boolean if !value.is_boolean() => "boolean",
            Format::Object if !value.is_object() => "object",
            Format::Array if !value.is_array() => "array",
            Format::String | Format::AtIdentifier | Format::Nsid | Format::RecordKey
                if !value.is_string() =>
            {
                "string"
            }
            _ => "",
        };
        if !expected.is_empty() {
            return Err(Reply::invalid(&format!(
                "Expected {expected} value type (got {}) at {at}",
                got(value)
            )));
        }
        let text = value.as_str().unwrap_or_default();
        let (valid, what) = match format {
            Format::AtIdentifier => (is_at_identifier(text), "AT identifier"),
            Format::Nsid => (is_nsid(text), "NSID"),
            Format::RecordKey => (is_record_key(text), "record key"),
            _ => (true, ""),
        };
        if !valid {
            return Err(Reply::invalid(&format!(
                "Invalid {what} (got {}) at {at}",
                got(value)
            )));
        }
    }
    Ok(())
}

/// The write points a checked request costs (`applyWrites`: the sum of its writes, however
/// many there are: the cap is checked after charging).
pub fn points(limits: &Limits, endpoint: Endpoint, req: &Incoming) -> u32 {
    match endpoint {
        Endpoint::DeleteRecord => limits.delete_points,
        Endpoint::CreateRecord => limits.create_points,
        Endpoint::ApplyWrites => req
            .json()
            .and_then(|b| b.get("writes"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|w| match w.get("$type").and_then(Value::as_str) {
                Some(CREATE) => limits.create_points,
                Some(UPDATE) => limits.update_points,
                _ => limits.delete_points,
            })
            .fold(0u32, u32::saturating_add),
        _ => 0,
    }
}

fn field<'a>(req: &'a Incoming, key: &str) -> Option<&'a Value> {
    req.json().and_then(|b| b.get(key))
}

fn text<'a>(req: &'a Incoming, key: &str) -> &'a str {
    field(req, key).and_then(Value::as_str).unwrap_or_default()
}

/// The DID of the repo a write names, which must be the caller's: 403 `AccountNotFound` for
/// an account not hosted here, 401 `AuthenticationRequired` for another account's.
fn own_repo(state: &State, req: &Incoming, authed: Authed) -> Result<String, Reply> {
    let Some(account) = state.account_of(text(req, "repo")) else {
        return Err(Reply::error(403, "AccountNotFound", "Account not found"));
    };
    if account != authed.account {
        return Err(Reply::status(401));
    }
    Ok(state.accounts[account].did.clone())
}

/// `GET com.atproto.repo.listRecords`: newest key first (oldest with `reverse=true`), pages
/// after the cursor key, a cursor on every non-empty page.
pub fn list_records(state: &State, req: &Incoming) -> Reply {
    let repo = req.param("repo").unwrap_or_default();
    let Some(did) = state.repo_did(repo) else {
        return Reply::invalid(&format!("Could not find repo: {repo}"));
    };
    let collection = req.param("collection").unwrap_or_default();
    let limit = limit(req, 50).unwrap_or(50);
    let reverse = req.param("reverse") == Some("true");
    let cursor = req.param("cursor");
    let records = state
        .repos
        .get(&did)
        .and_then(|r| r.collections.get(collection));
    let page: Vec<Value> = match records {
        None => Vec::new(),
        Some(records) => {
            use std::ops::Bound::{Excluded, Unbounded};
            // The page starts after the cursor: a range of the key order, not a scan of it.
            let (above, below) = match cursor {
                None => (Unbounded, Unbounded),
                Some(c) if reverse => (Excluded(c), Unbounded),
                Some(c) => (Unbounded, Excluded(c)),
            };
            let range = records.range::<str, _>((above, below));
            let entries: Box<dyn Iterator<Item = _>> = if reverse {
                Box::new(range)
            } else {
                Box::new(range.rev())
            };
            entries
                .take(limit)
                .map(|(rkey, r)| {
                    json!({"uri": record_uri(&did, collection, rkey), "cid": r.cid, "value": r.value})
                })
                .collect()
        }
    };
    let cursor = page
        .last()
        .and_then(|r| r["uri"].as_str())
        .and_then(|uri| uri.rsplit('/').next())
        .map(str::to_owned);
    let mut body = json!({ "records": page });
    if let Some(cursor) = cursor {
        body["cursor"] = Value::from(cursor);
    }
    Reply::ok(&body)
}

/// `GET com.atproto.repo.getRecord`.
pub fn get_record(state: &State, req: &Incoming) -> Reply {
    let param = |key| req.param(key).unwrap_or_default();
    let Some(did) = state.repo_did(param("repo")) else {
        // Not a repo of this PDS: the PDS asks the AppView, when it has one.
        let uri = format!(
            "at://{}/{}/{}",
            param("repo"),
            param("collection"),
            param("rkey")
        );
        return match state.config.appview.state {
            AppViewState::Absent => Reply::invalid("Could not locate record"),
            AppViewState::Down => {
                Reply::error(502, "UpstreamFailure", "Upstream service unreachable")
            }
            AppViewState::Up => Reply::error(
                400,
                "RecordNotFound",
                &format!("Could not locate record: {uri}"),
            ),
        };
    };
    let (collection, rkey) = (param("collection"), param("rkey"));
    let uri = record_uri(&did, collection, rkey);
    match state.record(&did, collection, rkey) {
        Some(r) if req.param("cid").is_none_or(|c| c == r.cid) => {
            Reply::ok(&json!({"uri": uri, "cid": r.cid, "value": r.value}))
        }
        _ => Reply::error(
            400,
            "RecordNotFound",
            &format!("Could not locate record: {uri}"),
        ),
    }
}

/// `POST com.atproto.repo.deleteRecord`: a missing record is 200 `{}`, no commit.
pub fn delete_record(state: &mut State, req: &Incoming, authed: Authed) -> Reply {
    let did = match own_repo(state, req, authed) {
        Ok(did) => did,
        Err(reply) => return reply,
    };
    let (collection, rkey) = (text(req, "collection"), text(req, "rkey"));
    if !state.has_record(&did, collection, rkey) {
        return Reply::ok(&json!({}));
    }
    let write = Write::Delete {
        collection: collection.to_owned(),
        rkey: rkey.to_owned(),
    };
    match state.apply(&did, &[write]) {
        Some((commit, _)) => Reply::ok(&json!({ "commit": commit })),
        None => Reply::status(500),
    }
}

/// Checks a record against its collection's lexicon (the collections the emulator knows;
/// others are `unknown`), filling a missing `$type`. `Ok` carries the validation status.
fn validate_record(collection: &str, value: &mut Value, path: &str) -> Result<&'static str, Reply> {
    let Some(record) = value.as_object_mut() else {
        return Err(Reply::invalid(&format!(
            "Expected object value type at {path}"
        )));
    };
    match record.get("$type").and_then(Value::as_str) {
        None => {
            record.insert("$type".to_owned(), Value::from(collection));
        }
        Some(t) if t != collection => {
            return Err(Reply::invalid(&format!(
                "Invalid $type: expected {collection}, got {t}"
            )));
        }
        Some(_) => {}
    }
    let subject: Option<(Syntax, &str)> = match collection {
        BLOCK | FOLLOW => Some((is_did, "DID")),
        LISTBLOCK => Some((|s| parse_uri(s).is_some(), "AT URI")),
        LIST => None,
        _ => return Ok("unknown"),
    };
    let invalid = |issue: String| {
        Err(Reply::invalid(&format!(
            "Invalid {collection} record: {issue}"
        )))
    };
    // Property by property, in the lexicon's order, as the PDS's validator goes.
    let properties: &[(&str, Option<(Syntax, &str)>)] = match subject {
        Some(check) => &[
            ("subject", Some(check)),
            ("createdAt", Some((is_datetime, "datetime"))),
        ],
        None => &[
            ("purpose", None),
            ("name", None),
            ("createdAt", Some((is_datetime, "datetime"))),
        ],
    };
    for (key, format) in properties {
        let Some(value) = record.get(*key) else {
            return invalid(format!("Missing required key \"{key}\" at {path}"));
        };
        if let Some((valid, what)) = format
            && !value.as_str().is_some_and(*valid)
        {
            return invalid(format!(
                "Invalid {what} (got {}) at {path}.{key}",
                got(value)
            ));
        }
    }
    Ok("valid")
}

/// `POST com.atproto.repo.createRecord`: with validation on (the default), a block or follow
/// first deletes the repo's older records of the same subject, in the same commit.
pub fn create_record(state: &mut State, req: &Incoming, authed: Authed) -> Reply {
    let did = match own_repo(state, req, authed) {
        Ok(did) => did,
        Err(reply) => return reply,
    };
    let collection = text(req, "collection").to_owned();
    let validate = field(req, "validate").and_then(Value::as_bool) != Some(false);
    let mut value = field(req, "record").cloned().unwrap_or_default();
    let status = if validate {
        match validate_record(&collection, &mut value, "$.record") {
            Ok(status) => Some(status),
            Err(reply) => return reply,
        }
    } else {
        None
    };
    let mut writes = Vec::new();
    if validate
        && matches!(collection.as_str(), BLOCK | FOLLOW)
        && let Some(subject) = value.get("subject").and_then(Value::as_str)
    {
        writes.extend(
            state
                .keys_with_subject(&did, &collection, subject)
                .into_iter()
                .map(|rkey| Write::Delete {
                    collection: collection.clone(),
                    rkey,
                }),
        );
    }
    writes.push(Write::Create {
        collection,
        rkey: field(req, "rkey")
            .and_then(Value::as_str)
            .map(str::to_owned),
        value,
    });
    match state.apply(&did, &writes) {
        Some((commit, applied)) => match applied.last() {
            Some(Applied::Created { uri, cid }) => {
                let mut body = json!({"uri": uri, "cid": cid, "commit": commit});
                if let Some(status) = status {
                    body["validationStatus"] = Value::from(status);
                }
                Reply::ok(&body)
            }
            _ => Reply::status(500),
        },
        None => Reply::status(500),
    }
}

/// `POST com.atproto.repo.applyWrites`: at most `replies.max_writes` writes, all or none.
pub fn apply_writes(state: &mut State, req: &Incoming, authed: Authed) -> Reply {
    let did = match own_repo(state, req, authed) {
        Ok(did) => did,
        Err(reply) => return reply,
    };
    let raw = field(req, "writes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let max = state.config.replies.max_writes;
    if raw.len() > max {
        return Reply::invalid(&format!("Too many writes. Max: {max}"));
    }
    let validate = field(req, "validate").and_then(Value::as_bool) != Some(false);
    let mut writes = Vec::with_capacity(raw.len());
    let mut statuses = Vec::with_capacity(raw.len());
    for (i, w) in raw.into_iter().enumerate() {
        let s = |key: &str| w.get(key).and_then(Value::as_str).map(str::to_owned);
        let collection = s("collection").unwrap_or_default();
        let kind = w.get("$type").and_then(Value::as_str).unwrap_or(DELETE);
        let mut value = w.get("value").cloned().unwrap_or_default();
        let status = if kind != DELETE && validate {
            match validate_record(&collection, &mut value, &format!("$.writes[{i}].record")) {
                Ok(status) => Some(status),
                Err(reply) => return reply,
            }
        } else {
            None
        };
        writes.push(match kind {
            CREATE => Write::Create {
                collection,
                rkey: s("rkey"),
                value,
            },
            UPDATE => Write::Update {
                collection,
                rkey: s("rkey").unwrap_or_default(),
                value,
            },
            _ => Write::Delete {
                collection,
                rkey: s("rkey").unwrap_or_default(),
            },
        });
        statuses.push(status);
    }
    let Some((commit, applied)) = state.apply(&did, &writes) else {
        return Reply::status(500);
    };
    let results: Vec<Value> = applied
        .into_iter()
        .zip(statuses)
        .map(|(applied, status)| {
            let mut result = match applied {
                Applied::Created { uri, cid } => {
                    json!({"$type": "com.atproto.repo.applyWrites#createResult", "uri": uri, "cid": cid})
                }
                Applied::Updated { uri, cid } => {
                    json!({"$type": "com.atproto.repo.applyWrites#updateResult", "uri": uri, "cid": cid})
                }
                Applied::Deleted => json!({"$type": "com.atproto.repo.applyWrites#deleteResult"}),
            };
            if let Some(status) = status {
                result["validationStatus"] = Value::from(status);
            }
            result
        })
        .collect();
    Reply::ok(&json!({"commit": commit, "results": results}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::bluesky::Host;
    use crate::emulator::bluesky::route::resolve;

    fn post(nsid: &str, body: Body) -> Incoming {
        Incoming {
            host: Host::Pds,
            method: "POST".into(),
            path: format!("/xrpc/{nsid}"),
            route: resolve("POST", &format!("/xrpc/{nsid}")),
            params: Vec::new(),
            body,
            authorization: None,
            ip: "127.0.0.1".into(),
        }
    }

    fn get(nsid: &str, query: &[(&str, &str)]) -> Incoming {
        let mut req = post(nsid, Body::Missing);
        req.method = "GET".into();
        req.params = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        req
    }

    fn message(result: Result<(), Reply>) -> String {
        let reply = result.expect_err("refused");
        let body: Value = serde_json::from_slice(&reply.body).expect("json");
        body["message"].as_str().unwrap_or_default().to_owned()
    }

    #[test]
    fn query_parameters_get_the_lexicon_messages() {
        let list = |q: &[(&str, &str)]| {
            message(check_params(
                Endpoint::ListRecords,
                &get("com.atproto.repo.listRecords", q),
            ))
        };
        let base = [("repo", "did:plc:a"), ("collection", BLOCK)];
        assert_eq!(
            list(&[base[0], base[1], ("limit", "101")]),
            "Invalid com.atproto.repo.listRecords params: integer too big (maximum 100, got 101)"
        );
        assert_eq!(
            list(&[base[0], base[1], ("limit", "0")]),
            "Invalid com.atproto.repo.listRecords params: integer too small (minimum 1, got 0)"
        );
        assert_eq!(
            list(&[base[0], base[1], ("limit", "abc")]),
            "Invalid com.atproto.repo.listRecords params: Expected integer value type (got \"abc\")"
        );
        assert_eq!(
            list(&[base[0]]),
            "Invalid com.atproto.repo.listRecords params: Missing required key \"collection\""
        );
        assert_eq!(
            list(&[("repo", "not a repo"), base[1]]),
            "Invalid com.atproto.repo.listRecords params: Invalid AT identifier (got \"not a repo\")"
        );
        assert_eq!(
            list(&[base[0], base[1], ("reverse", "1")]),
            "Invalid com.atproto.repo.listRecords params: Expected boolean value type (got \"1\")"
        );
        assert!(check_params(Endpoint::ListRecords, &get("x", &base)).is_ok());
        assert_eq!(
            message(check_params(
                Endpoint::ResolveHandle,
                &get("x", &[("handle", "@alice.test")])
            )),
            "Invalid com.atproto.identity.resolveHandle params: Invalid handle (got \"@alice.test\")"
        );
    }

    #[test]
    fn bodies_get_the_lexicon_messages() {
        let input = |nsid: &str, body: Body| {
            let req = post(nsid, body);
            message(check_input(req.route.endpoint, &req))
        };
        assert_eq!(
            input("com.atproto.repo.createRecord", Body::Missing),
            "Request encoding (Content-Type) required but not provided"
        );
        assert_eq!(
            input(
                "com.atproto.repo.deleteRecord",
                Body::Json(json!({"repo": "did:plc:a", "collection": BLOCK}))
            ),
            "Missing required key \"rkey\" at $"
        );
        assert_eq!(
            input(
                "com.atproto.repo.deleteRecord",
                Body::Json(json!({"repo": "did:plc:a", "collection": BLOCK, "rkey": "a/b"}))
            ),
            "Invalid record key (got \"a/b\") at $.rkey"
        );
        assert_eq!(
            input(
                "com.atproto.repo.applyWrites",
                Body::Json(json!({"repo": "did:plc:a", "writes": 5}))
            ),
            "Expected array value type (got 5) at $.writes"
        );
        assert_eq!(
            input(
                "com.atproto.repo.applyWrites",
                Body::Json(
                    json!({"repo": "did:plc:a", "writes": [{"$type": DELETE, "collection": BLOCK}]})
                )
            ),
            "Missing required key \"rkey\" at $.writes[0]"
        );
        assert!(
            input(
                "com.atproto.repo.applyWrites",
                Body::Json(json!({"repo": "did:plc:a", "writes": [{"$type": "x#frob"}]}))
            )
            .starts_with("Expected one of \"com.atproto.repo.applyWrites#create\"")
        );
    }

    #[test]
    fn records_are_validated_and_typed() {
        let mut v = json!({"subject": "did:plc:a", "createdAt": "2024-01-01T00:00:00Z"});
        assert_eq!(validate_record(BLOCK, &mut v, "$.record"), Ok("valid"));
        assert_eq!(v["$type"], BLOCK);
        let mut v = json!({"$type": FOLLOW, "subject": "did:plc:a"});
        let err = validate_record(BLOCK, &mut v, "$.record").expect_err("wrong type");
        assert!(
            String::from_utf8_lossy(&err.body).contains(
                "Invalid $type: expected app.bsky.graph.block, got app.bsky.graph.follow"
            )
        );
        let mut v = json!({"subject": "carol.test", "createdAt": "2024-01-01T00:00:00Z"});
        let err = validate_record(BLOCK, &mut v, "$.record").expect_err("bad subject");
        assert!(String::from_utf8_lossy(&err.body).contains(
            "Invalid app.bsky.graph.block record: Invalid DID (got \\\"carol.test\\\") at $.record.subject"
        ));
        // Property by property: a bad subject is reported before a missing createdAt.
        let mut v = json!({"$type": BLOCK, "subject": "x"});
        let err = validate_record(BLOCK, &mut v, "$.writes[0].record").expect_err("bad subject");
        assert!(
            String::from_utf8_lossy(&err.body)
                .contains("Invalid DID (got \\\"x\\\") at $.writes[0].record.subject")
        );
        assert_eq!(
            got(&json!({"collection": 1, "rkey": 2})),
            r#"{"collection": ..., "rkey": ...}"#
        );
        assert_eq!(got(&json!([1])), "[1]");
        let mut v = json!({"anything": 1});
        assert_eq!(
            validate_record("com.example.thing", &mut v, "$.record"),
            Ok("unknown")
        );
        let mut v = json!({"subject": "at://did:plc:a/app.bsky.graph.list/3kabcdefghijk", "createdAt": "2024-01-01T00:00:00Z"});
        assert_eq!(validate_record(LISTBLOCK, &mut v, "$.record"), Ok("valid"));
    }
}
