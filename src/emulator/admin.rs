//! Unauthenticated views of an emulator for people and tests: its state, its request log, and
//! its knobs (readable, and patchable at runtime).
//!
//! Every network mounts the same routes with its own state view and knobs, by implementing
//! [`Admin`] on its emulator handle and merging [`routes`] into its router. These routes are
//! not part of the emulated API: they are neither logged nor rate limited.

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::log::{EndpointKind, LoggedRequest};

/// What a network's emulator handle shows on the admin routes.
pub trait Admin: Clone + Send + Sync + 'static {
    /// The network's endpoints, as its request log names them.
    type Endpoint: EndpointKind + Serialize;
    /// The body of `GET /admin/state`: accounts, counts and counters, never a credential.
    type StateView: Serialize;
    /// The knobs, as a scenario file spells them.
    type Config: Serialize + DeserializeOwned;

    /// The log from sequence number `seq` on.
    fn requests_since(&self, seq: u64) -> Vec<LoggedRequest<Self::Endpoint>>;

    /// The state view.
    fn state_view(&self) -> Self::StateView;

    /// The current knobs.
    fn config(&self) -> Self::Config;

    /// Checks `next` and, when the network can honour it, puts it in force for the next
    /// request; otherwise says why, naming the knob.
    fn replace_config(&self, next: Self::Config) -> Result<(), String>;
}

/// The admin routes, to merge into a network's router before its fallback:
///
/// - `GET /admin/state`: [`Admin::state_view`];
/// - `GET /admin/requests?since=N`: the log from sequence number N on (all by default);
/// - `GET /admin/config`: the knobs;
/// - `POST /admin/config`: a JSON merge patch (RFC 7396) over the knobs; 422 names what is
///   wrong with the result, and nothing changes.
pub fn routes<A: Admin>() -> Router<A> {
    Router::new()
        .route("/admin/state", get(state::<A>))
        .route("/admin/requests", get(requests::<A>))
        .route("/admin/config", get(config::<A>).post(patch_config::<A>))
}

async fn state<A: Admin>(State(admin): State<A>) -> Json<A::StateView> {
    Json(admin.state_view())
}

#[derive(Deserialize)]
struct Since {
    #[serde(default)]
    since: u64,
}

async fn requests<A: Admin>(
    State(admin): State<A>,
    Query(q): Query<Since>,
) -> Json<Vec<LoggedRequest<A::Endpoint>>> {
    Json(admin.requests_since(q.since))
}

async fn config<A: Admin>(State(admin): State<A>) -> Json<A::Config> {
    Json(admin.config())
}

async fn patch_config<A: Admin>(
    State(admin): State<A>,
    Json(patch): Json<Value>,
) -> Result<Json<Value>, (StatusCode, String)> {
    let mut value = serde_json::to_value(admin.config())
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    merge_patch(&mut value, patch);
    let invalid = |e: String| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("invalid config: {e}"),
        )
    };
    let next: A::Config = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
    admin.replace_config(next).map_err(invalid)?;
    let now = serde_json::to_value(admin.config())
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
