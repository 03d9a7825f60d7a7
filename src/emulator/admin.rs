//! Unauthenticated views of an emulator for people and tests: its state, its request log, and
//! its knobs (readable, and patchable at runtime).
//!
//! Every network mounts the same routes with its own state view and knobs, by merging
//! [`routes`] into its router: they read its [`Handle`] through [`NetworkState`]. These routes are
//! not part of the emulated API: they are neither logged nor rate limited.

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;
use serde_json::Value;

use super::config::Knobs;
use super::log::LoggedRequest;
use super::network::{Handle, NetworkState};

/// The admin routes, to merge into a network's router before its fallback:
///
/// - `GET /admin/state`: [`Handle::state_view`];
/// - `GET /admin/requests?since=N`: the log from sequence number N on (all by default);
/// - `GET /admin/config`: the knobs;
/// - `POST /admin/config`: a JSON merge patch (RFC 7396) over the knobs; 422 names what is
///   wrong with the result, and nothing changes.
pub fn routes<S: NetworkState>() -> Router<Handle<S>> {
    Router::new()
        .route("/admin/state", get(state::<S>))
        .route("/admin/requests", get(requests::<S>))
        .route("/admin/config", get(config::<S>).post(patch_config::<S>))
}

async fn state<S: NetworkState>(State(emulator): State<Handle<S>>) -> Json<S::StateView> {
    Json(emulator.state_view())
}

#[derive(Deserialize)]
struct Since {
    #[serde(default)]
    since: u64,
}

async fn requests<S: NetworkState>(
    State(emulator): State<Handle<S>>,
    Query(q): Query<Since>,
) -> Json<Vec<LoggedRequest<S::Endpoint>>> {
    Json(emulator.requests_since(q.since))
}

async fn config<S: NetworkState>(State(emulator): State<Handle<S>>) -> Json<S::Config> {
    Json(emulator.config())
}

async fn patch_config<S: NetworkState>(
    State(emulator): State<Handle<S>>,
    Json(patch): Json<Value>,
) -> Result<Json<Value>, (StatusCode, String)> {
    let mut value = serde_json::to_value(emulator.config())
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    merge_patch(&mut value, patch);
    let invalid = |e: String| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("invalid config: {e}"),
        )
    };
    let next: S::Config = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
    // Checked before it is put in force for the next request: the knob is named, and
    // nothing changes.
    next.validate().map_err(|e| invalid(e.to_string()))?;
    emulator.update_config(|c| *c = next);
    let now = serde_json::to_value(emulator.config())
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(now))
}

/// Applies a JSON merge patch (RFC 7396): objects merge key by key, `null` removes a key, and
/// anything else replaces the target.
pub fn merge_patch(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(&k);
                } else {
                    merge_patch(t.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut doc = json!({"a": {"b": 1, "c": 2}, "d": [1, 2], "e": 5});
        merge_patch(
            &mut doc,
            json!({"a": {"b": 9, "c": null, "n": true}, "d": [3], "e": null}),
        );
        assert_eq!(doc, json!({"a": {"b": 9, "n": true}, "d": [3]}));
        merge_patch(&mut doc, json!("whole"));
        assert_eq!(doc, json!("whole"));
    }
}
