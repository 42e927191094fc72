//! A JSON-RPC server of Core's shape, for simulators: HTTP/1.1 POST, basic auth, the
//! `{"result", "error", "id"}` envelope, errors as HTTP 500 with the error object (as Core
//! does).

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::net::TcpListener;

/// An RPC error as Core reports it (`RPC_INVALID_ADDRESS_OR_KEY` is -5, `RPC_METHOD_NOT_FOUND`
/// -32601, `RPC_INVALID_PARAMETER` -8...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcFailure {
    pub code: i64,
    pub message: String,
}

impl RpcFailure {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcFailure {
            code,
            message: message.into(),
        }
    }
}

/// What answers each call: `(method, params) -> result`.
pub type Handler = Arc<dyn Fn(&str, &Value) -> Result<Value, RpcFailure> + Send + Sync>;

/// Requests larger than this are refused (a `submitblock` of a full block is ~8 MB of hex).
const MAX_REQUEST: usize = 16 * 1024 * 1024;

/// Serve `handler` on `listener` until the future is dropped. With `credentials`
/// (`"user:password"`), requests without them get 401.
pub async fn serve(listener: TcpListener, credentials: Option<String>, handler: Handler) {
    let expected = credentials.map(|c| {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(c)
        )
    });
    let expected = Arc::new(expected);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (handler, expected) = (handler.clone(), expected.clone());
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let (handler, expected) = (handler.clone(), expected.clone());
                async move { Ok::<_, std::convert::Infallible>(answer(req, &expected, &handler).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

async fn answer(
    req: Request<Incoming>,
    expected: &Option<String>,
    handler: &Handler,
) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, body: Value| {
        let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
        *r.status_mut() = status;
        r
    };
    if let Some(expected) = expected {
        let given = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if given != Some(expected.as_str()) {
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            return r;
        }
    }
    let body = match Limited::new(req.into_body(), MAX_REQUEST).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return reply(StatusCode::PAYLOAD_TOO_LARGE, Value::Null),
    };
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    let Ok(call) = parsed else {
        let e = json!({"result": null, "error": {"code": -32700, "message": "Parse error"}, "id": null});
        return reply(StatusCode::INTERNAL_SERVER_ERROR, e);
    };
    // A JSON-RPC batch (an array of calls) is answered with an array, always 200, as Core
    // does.
    if let Value::Array(calls) = call {
        let answers: Vec<Value> = calls.iter().map(|c| one(c, handler).1).collect();
        return reply(StatusCode::OK, Value::Array(answers));
    }
    let (status, body) = one(&call, handler);
    reply(status, body)
}

/// Answer one call: its HTTP status (when alone) and its envelope.
fn one(call: &Value, handler: &Handler) -> (StatusCode, Value) {
    let id = call.get("id").cloned().unwrap_or(Value::Null);
    let method = call.get("method").and_then(Value::as_str).unwrap_or("");
    let params = call.get("params").cloned().unwrap_or(json!([]));
    match handler(method, &params) {
        Ok(result) => (
            StatusCode::OK,
            json!({"result": result, "error": null, "id": id}),
        ),
        Err(f) => {
            let status = if f.code == -32601 {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            (
                status,
                json!({"result": null, "error": {"code": f.code, "message": f.message}, "id": id}),
            )
        }
    }
}
