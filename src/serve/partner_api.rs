//! The partner download API (publication.md, "Partner download API"):
//! partners read their views of the lists they are entitled to, with a
//! bearer token, ETags, ranges and gzip; every request, allowed or
//! refused, goes to the audit log.
//!
//! A missing, unknown or revoked token gets 401. A list, publication or
//! file outside the partner's entitlement gets 404, the same answer as one
//! that does not exist; so does a view cut for a wider entitlement than the
//! partner has now (columns, regions, formats).
//!
//! Nothing on disk is trusted: a file is found only by a plain name its
//! view's manifest lists, the manifest's signature is verified (when the
//! server knows the regulator's public key), a symlink is refused, and the
//! bytes served must have the SHA-256 the manifest names.
//!
//! The audit log fails closed: a request whose audit row cannot be written
//! is answered 503 and nothing it asked for is sent.

use std::io::Write;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use sha2::{Digest, Sha256};
use utoipa::OpenApi;

use super::listener::{self, Limits, Peer, RateLimits};
use super::tokens::token_hash;
use crate::base::printable::printable;
use crate::base::sign;
use crate::base::store::{AuditEntry, Store};
use crate::base::warehouse::Warehouse;
use crate::config::partners::{Format, Partner};
use crate::stages::publish::entries::PublicationId;
use crate::stages::publish::files::{self, Manifest};
use crate::stages::publish::{self};

/// What the server needs: the warehouse, the entitlements, the database,
/// the request-rate limits, and the key manifests must verify with.
pub struct ApiState {
    pub warehouse: Warehouse,
    pub partners: Vec<Partner>,
    pub store: Store,
    pub rates: Arc<RateLimits>,
    /// The regulator's public key; `None` serves unsigned development
    /// warehouses (hashes are still checked).
    pub public_key: Option<minisign::PublicKey>,
}

/// The partner a request was authenticated as.
#[derive(Clone)]
struct Caller(Partner);

/// A list the caller may read.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ListInfo {
    pub list_id: String,
    /// The newest publication id, if the list was ever published.
    pub latest: Option<String>,
}

/// Publication ids of a list, oldest first.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Publications {
    pub list_id: String,
    pub publications: Vec<String>,
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
pub struct After {
    /// Only publications after this id.
    pub after: Option<String>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ApiError {
    pub error: String,
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(ApiError { error: message.to_string() })).into_response()
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found")
}

// A path the router matched but whose pieces are not text (`%ff`) names
// no list or file: it is not found, in JSON like every answer of the API.

/// A query string that does not parse (`after` twice): 400 in JSON.
fn unreadable_query(rejection: &QueryRejection) -> Response {
    error(StatusCode::BAD_REQUEST, &printable(&rejection.body_text(), 200))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "credence partner download API", version = "1", description = "Signed blacklist publications for partner agencies. Every request carries `Authorization: Bearer <token>`."),
    paths(lists, publications, publication_file, latest_file, openapi_json),
    components(schemas(ListInfo, Publications, ApiError)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document, generated from the handlers below.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The router: the API under `/api/v1`, and `/healthz`.
pub fn router(state: Arc<ApiState>) -> Router {
    let api = Router::new()
        .route("/lists", get(lists))
        .route("/lists/{list}/publications", get(publications))
        .route("/lists/{list}/publications/{id}/{file}", get(publication_file))
        .route("/lists/{list}/latest/{file}", get(latest_file))
        .route("/openapi.json", get(openapi_json))
        .fallback(|| async { not_found() })
        .layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(|| async { not_found() })
        .layer(middleware::from_fn_with_state(state.clone(), limit_address))
        .layer(middleware::from_fn_with_state(state.clone(), audit))
        .with_state(state)
}

fn too_many() -> Response {
    let mut r = error(StatusCode::TOO_MANY_REQUESTS, "too many requests: slow down");
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    r
}

/// Requests per minute from one address.
async fn limit_address(State(state): State<Arc<ApiState>>, req: Request, next: Next) -> Response {
    if !state.rates.address(Peer::of(&req)) {
        return too_many();
    }
    next.run(req).await
}

/// Bearer token → partner, or 401 (rate-limited per address); requests per
/// minute per token.
async fn authenticate(State(state): State<Arc<ApiState>>, mut req: Request, next: Next) -> Response {
    let peer = Peer::of(&req);
    let refuse = |message: &str| {
        if state.rates.unauthenticated(peer) {
            unauthorized(message)
        } else {
            too_many()
        }
    };
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return refuse("missing bearer token");
    };
    let hash = token_hash(token);
    let partner_id = state.store.token_partner(&hash);
    let partner = match partner_id {
        Ok(Some(id)) => state.partners.iter().find(|p| p.id == id).cloned(),
        Ok(None) => None,
        Err(e) => {
            tracing::error!(error = %e, "token lookup failed");
            return error(StatusCode::SERVICE_UNAVAILABLE, "try again later");
        }
    };
    let Some(partner) = partner else {
        return refuse("unknown or revoked token");
    };
    if !state.rates.token(&hash) {
        return too_many();
    }
    req.extensions_mut().insert(Caller(partner));
    next.run(req).await
}

fn unauthorized(message: &str) -> Response {
    let mut r = error(StatusCode::UNAUTHORIZED, message);
    r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

/// Writes every request, allowed or refused, to the audit log; a request
/// whose row cannot be written gets 503 instead of its answer.
async fn audit(State(state): State<Arc<ApiState>>, req: Request, next: Next) -> Response {
    let peer = Peer::of(&req);
    let method = req.method().clone();
    let path = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| token_hash(t.trim()));
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let bytes =
        if method == Method::HEAD { 0 } else { http_body::Body::size_hint(response.body()).exact().unwrap_or(0) };
    let store = &state.store;
    let actor = match (&token, status) {
        (Some(hash), s) if s != 401 => store.token_partner(hash).ok().flatten(),
        _ => None,
    };
    let detail = response.extensions().get::<AuditNote>().map(|n| n.0.clone());
    let detail = match detail {
        Some(d) => format!("from {}; {d}", peer.0.ip()),
        None => format!("from {}", peer.0.ip()),
    };
    if let Err(e) = store.audit(&AuditEntry {
        actor: actor.as_deref(),
        method: method.as_str(),
        path: &path,
        status,
        bytes,
        detail: Some(&detail),
    }) {
        tracing::error!(error = %e, %path, "audit log write failed: the request is refused");
        return error(StatusCode::SERVICE_UNAVAILABLE, "the audit log cannot be written: try again later");
    }
    tracing::info!(partner = actor.as_deref().unwrap_or("-"), method = %method, path = %printable(&path, 256), status, bytes, "request");
    response
}

/// Why a request was refused, for its audit row.
#[derive(Clone)]
struct AuditNote(String);

fn not_found_because(why: impl Into<String>) -> Response {
    let mut r = not_found();
    r.extensions_mut().insert(AuditNote(why.into()));
    r
}

/// The lists the partner may read, each with its newest publication id.
#[utoipa::path(get, path = "/api/v1/lists", responses((status = 200, body = [ListInfo]), (status = 401, body = ApiError)))]
async fn lists(State(state): State<Arc<ApiState>>, Extension(Caller(partner)): Extension<Caller>) -> Response {
    let out: Vec<ListInfo> = partner
        .lists
        .iter()
        .map(|l| ListInfo {
            list_id: l.clone(),
            latest: visible(&state.warehouse, &partner, l).last().map(|id| id.to_string()),
        })
        .collect();
    Json(out).into_response()
}

/// Publications of `list` up to LATEST that have a view for `partner`.
fn visible(wh: &Warehouse, partner: &Partner, list: &str) -> Vec<PublicationId> {
    publish::history(wh, list)
        .unwrap_or_default()
        .into_iter()
        .filter(|id| view_dir(wh, list, *id, &partner.id).join("manifest.json").exists())
        .collect()
}

fn view_dir(wh: &Warehouse, list: &str, id: PublicationId, partner: &str) -> std::path::PathBuf {
    publish::folder(wh, list, id).join("partners").join(partner)
}

/// Publication ids of a list, oldest first (after `after` when given).
#[utoipa::path(
    get,
    path = "/api/v1/lists/{list}/publications",
    params(("list" = String, Path, description = "list id"), After),
    responses((status = 200, body = Publications), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 404, body = ApiError))
)]
async fn publications(
    State(state): State<Arc<ApiState>>,
    Extension(Caller(partner)): Extension<Caller>,
    list: Result<Path<String>, PathRejection>,
    after: Result<Query<After>, QueryRejection>,
) -> Response {
    let Ok(Path(list)) = list else { return not_found() };
    let after = match after {
        Ok(Query(after)) => after,
        Err(r) => return unreadable_query(&r),
    };
    if !partner.may_read(&list) {
        return not_found();
    }
    let after = match after.after.as_deref().map(str::parse::<PublicationId>) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(e)) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let ids = visible(&state.warehouse, &partner, &list)
        .into_iter()
        .filter(|id| after.is_none_or(|a| *id > a))
        .map(|id| id.to_string())
        .collect();
    Json(Publications { list_id: list, publications: ids }).into_response()
}

/// One file of the partner's view of a publication.
#[utoipa::path(
    get,
    path = "/api/v1/lists/{list}/publications/{id}/{file}",
    params(("list" = String, Path), ("id" = String, Path, description = "publication id, such as 2026-11-27 or 2026-11-27.2"), ("file" = String, Path, description = "a file the view's manifest names, or manifest.json / manifest.json.minisig")),
    responses(
        (status = 200, description = "the file; ETag is its SHA-256"),
        (status = 206, description = "the requested byte range"),
        (status = 304, description = "If-None-Match matched the ETag"),
        (status = 401, body = ApiError),
        (status = 404, body = ApiError),
        (status = 416, description = "the range is outside the file")
    )
)]
async fn publication_file(
    State(state): State<Arc<ApiState>>,
    Extension(Caller(partner)): Extension<Caller>,
    path: Result<Path<(String, String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let Ok(Path((list, id, file))) = path else { return not_found() };
    let Ok(id) = id.parse::<PublicationId>() else { return not_found() };
    serve_view_file(&state, &partner, &list, id, &file, &headers)
}

/// The same for the newest publication.
#[utoipa::path(
    get,
    path = "/api/v1/lists/{list}/latest/{file}",
    params(("list" = String, Path), ("file" = String, Path)),
    responses((status = 200), (status = 206), (status = 304), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 416))
)]
async fn latest_file(
    State(state): State<Arc<ApiState>>,
    Extension(Caller(partner)): Extension<Caller>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let Ok(Path((list, file))) = path else { return not_found() };
    if !partner.may_read(&list) {
        return not_found();
    }
    match visible(&state.warehouse, &partner, &list).last() {
        Some(id) => {
            // The id, so that a client fetching several files pins them to one publication.
            let mut r = serve_view_file(&state, &partner, &list, *id, &file, &headers);
            if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
                r.headers_mut().insert("x-credence-publication", v);
            }
            if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/lists/{list}/publications/{id}/{file}")) {
                r.headers_mut().insert(header::CONTENT_LOCATION, v);
            }
            r
        }
        None => not_found(),
    }
}

/// This API's OpenAPI document.
#[utoipa::path(get, path = "/api/v1/openapi.json", responses((status = 200, description = "OpenAPI 3.1 document")))]
async fn openapi_json() -> Response {
    Json(openapi()).into_response()
}

/// Whether a view cut for `m` is within the partner's entitlement now: its
/// list, its partner, its columns, and its regions (no wider than the
/// partner's prefixes).
fn within_entitlement(m: &Manifest, partner: &Partner, list: &str) -> Result<(), String> {
    if m.list_id != list || m.partner.as_deref() != Some(partner.id.as_str()) {
        return Err(format!(
            "the view's manifest names list {} and {}",
            m.list_id,
            files::audience(m.partner.as_deref())
        ));
    }
    let columns = m.columns.clone().unwrap_or_else(files::all_columns);
    if let Some(c) = columns.iter().find(|c| !partner.columns.contains(c)) {
        return Err(format!("the view has column {c}, outside the partner's entitlement"));
    }
    if !partner.regions.is_empty() {
        if m.regions.is_empty() {
            return Err("the view has every region, the partner only some".into());
        }
        if let Some(r) = m.regions.iter().find(|r| !partner.regions.iter().any(|p| r.starts_with(p.as_str()))) {
            return Err(format!("the view has region {r}, outside the partner's regions"));
        }
    }
    Ok(())
}

/// A file name a manifest may name: a plain name, no folder, no dot first.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Reads a regular file of `dir` without following a symlink.
fn read_regular(dir: &std::path::Path, name: &str) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(dir.join(name))?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"));
    }
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The view's manifest, parsed and (with a public key) its signature verified.
fn verified_manifest(state: &ApiState, dir: &std::path::Path) -> Result<(Manifest, Vec<u8>), String> {
    let text = read_regular(dir, "manifest.json").map_err(|e| format!("manifest.json: {e}"))?;
    let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| format!("manifest.json: {e}"))?;
    if let Some(pk) = &state.public_key {
        let sig = read_regular(dir, "manifest.json.minisig").map_err(|e| format!("manifest.json.minisig: {e}"))?;
        let sig = String::from_utf8(sig).map_err(|_| "manifest.json.minisig is not text".to_string())?;
        sign::verify(pk, &text, &sig).map_err(|e| format!("manifest.json: {e}"))?;
    }
    Ok((manifest, text))
}

/// One file of a partner's view: its bytes when they may be served
/// ([`view_file_bytes`]), sent as the request asks ([`send_file`]).
fn serve_view_file(
    state: &ApiState,
    partner: &Partner,
    list: &str,
    id: PublicationId,
    file: &str,
    headers: &HeaderMap,
) -> Response {
    match view_file_bytes(state, partner, list, id, file) {
        Ok(bytes) => send_file(bytes, file, headers),
        Err(NotServed::Unknown) => not_found(),
        Err(NotServed::Because(why)) => not_found_because(why),
    }
}

/// Why a view's file is not served: a 404 either way, the partner told
/// no more than "not found"; `Because` is audited with the reason.
enum NotServed {
    Unknown,
    Because(String),
}

/// The bytes of one file of `partner`'s view of a publication, when it
/// may be served: a publication the partner sees, its manifest verified
/// and within the entitlement, and only the manifest, its signature or a
/// file the manifest names in an entitled format, matching its hash.
fn view_file_bytes(
    state: &ApiState,
    partner: &Partner,
    list: &str,
    id: PublicationId,
    file: &str,
) -> Result<Vec<u8>, NotServed> {
    if !partner.may_read(list) || !visible(&state.warehouse, partner, list).contains(&id) {
        return Err(NotServed::Unknown);
    }
    let dir = view_dir(&state.warehouse, list, id, &partner.id);
    let (manifest, manifest_bytes) = verified_manifest(state, &dir).map_err(|why| {
        tracing::error!(%list, publication = %id, partner = %partner.id, %why, "a view that does not verify is not served");
        NotServed::Because(format!("refused: {why}"))
    })?;
    within_entitlement(&manifest, partner, list).map_err(|why| NotServed::Because(format!("entitlement: {why}")))?;
    match file {
        "manifest.json" => Ok(manifest_bytes),
        "manifest.json.minisig" => read_regular(&dir, file).map_err(|_| NotServed::Unknown),
        name => {
            let Some(f) = manifest.file(name).filter(|f| plain_name(&f.name)) else { return Err(NotServed::Unknown) };
            let format = if f.name.ends_with(".csv") { Format::Csv } else { Format::Parquet };
            if !partner.formats.contains(&format) {
                return Err(NotServed::Because(format!("entitlement: format {} not entitled", format.extension())));
            }
            let bytes =
                read_regular(&dir, &f.name).map_err(|e| NotServed::Because(format!("refused: {}: {e}", f.name)))?;
            if hex::encode(Sha256::digest(&bytes)) != f.sha256 {
                tracing::error!(%list, publication = %id, file = %f.name, "a file differs from its manifest: not served");
                return Err(NotServed::Because(format!("refused: {} differs from its manifest", f.name)));
            }
            Ok(bytes)
        }
    }
}

/// `bytes` as the answer to a GET of `file`: its SHA-256 as the `ETag`
/// (304 on `If-None-Match`), one `Range` (206, or 416 outside the file),
/// else the whole file, a CSV gzipped when the client accepts it.
fn send_file(bytes: Vec<u8>, file: &str, headers: &HeaderMap) -> Response {
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let etag = format!("\"{sha256}\"");
    let content_type = match file.rsplit('.').next() {
        Some("csv") => "text/csv; charset=utf-8",
        Some("json") => "application/json",
        Some("minisig") => "text/plain; charset=utf-8",
        _ => "application/vnd.apache.parquet",
    };
    let base = |status: StatusCode| {
        let mut b = Response::builder()
            .status(status)
            .header(header::ETAG, &etag)
            .header(header::ACCEPT_RANGES, "bytes")
            .header(header::VARY, "Accept-Encoding")
            .header(header::CACHE_CONTROL, "private, no-cache");
        if status != StatusCode::NOT_MODIFIED {
            b = b.header(header::CONTENT_TYPE, content_type);
        }
        b
    };
    if let Some(inm) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        if inm.split(',').map(str::trim).any(|t| t == "*" || t == etag || t.strip_prefix("W/") == Some(etag.as_str())) {
            return base(StatusCode::NOT_MODIFIED).body(Body::empty()).expect("response");
        }
    }
    let len = bytes.len() as u64;
    if let Some(range) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        match parse_range(range, len) {
            Some(Ok((start, end))) => {
                let part = bytes[start as usize..=end as usize].to_vec();
                return base(StatusCode::PARTIAL_CONTENT)
                    .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"))
                    .header(header::CONTENT_LENGTH, part.len())
                    .body(Body::from(part))
                    .expect("response");
            }
            Some(Err(())) => {
                return base(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header(header::CONTENT_RANGE, format!("bytes */{len}"))
                    .body(Body::empty())
                    .expect("response");
            }
            None => {}
        }
    }
    let gzip = file.ends_with(".csv") && accepts_gzip(headers);
    if gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let compressed = enc.write_all(&bytes).and_then(|_| enc.finish());
        if let Ok(body) = compressed {
            return base(StatusCode::OK)
                .header(header::CONTENT_ENCODING, "gzip")
                .header(header::CONTENT_LENGTH, body.len())
                .body(Body::from(body))
                .expect("response");
        }
    }
    base(StatusCode::OK).header(header::CONTENT_LENGTH, bytes.len()).body(Body::from(bytes)).expect("response")
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let q = parts.find_map(|p| p.strip_prefix("q=")).and_then(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
            (name.eq_ignore_ascii_case("gzip") || name == "*") && q > 0.0
        },
    )
}

/// A single `bytes=` range of a file of `len` bytes: `Some(Ok((first, last)))`,
/// `Some(Err(()))` when unsatisfiable, `None` when absent, malformed or multiple
/// (the whole file is then served).
pub fn parse_range(header: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 || len == 0 {
            return Some(Err(()));
        }
        (len.saturating_sub(n), len - 1)
    } else {
        let start: u64 = a.parse().ok()?;
        let end: u64 = if b.is_empty() { u64::MAX } else { b.parse().ok()? };
        if end < start {
            return None;
        }
        if start >= len {
            return Some(Err(()));
        }
        (start, end.min(len - 1))
    };
    Some(Ok(range))
}

/// Serves until SIGINT or SIGTERM, then finishes the requests under way.
pub async fn serve(state: Arc<ApiState>, listener: tokio::net::TcpListener, limits: Limits) -> std::io::Result<()> {
    let rates = state.rates.clone();
    listener::serve(listener, router(state), limits, rates, super::shutdown::signal()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (k.clone(), HeaderValue::from_str(v).unwrap())).collect()
    }

    /// RFC 9110: `If-None-Match` compares weakly (a `W/` tag matches), any
    /// tag of a list may match, and `*` matches any file.
    #[test]
    fn if_none_match_compares_weakly_and_takes_a_list() {
        let bytes = b"entity_id\r\n".to_vec();
        let etag = format!("\"{}\"", hex::encode(Sha256::digest(&bytes)));
        let status =
            |inm: &str| send_file(bytes.clone(), "entries.csv", &headers(&[(header::IF_NONE_MATCH, inm)])).status();
        for matching in [etag.clone(), format!("W/{etag}"), format!("\"other\", {etag}"), "*".to_string()] {
            assert_eq!(status(&matching), StatusCode::NOT_MODIFIED, "{matching}");
        }
        assert_eq!(status("\"other\""), StatusCode::OK);
        assert_eq!(status(&etag[..etag.len() - 2]), StatusCode::OK, "a tag cut short");
    }

    /// A partner's file may be kept only by the partner's own client
    /// (`private`) and is checked by its ETag before each use
    /// (`no-cache`); a cache keeps gzipped and plain answers apart
    /// (`Vary`); each file says its type.
    #[test]
    fn files_are_private_revalidated_and_typed() {
        let etag = format!("\"{}\"", hex::encode(Sha256::digest(b"x")));
        for (file, kind) in [
            ("entries.csv", "text/csv; charset=utf-8"),
            ("manifest.json", "application/json"),
            ("manifest.json.minisig", "text/plain; charset=utf-8"),
            ("entries.parquet", "application/vnd.apache.parquet"),
        ] {
            let r = send_file(b"x".to_vec(), file, &HeaderMap::new());
            let h = r.headers();
            assert_eq!(h[header::CACHE_CONTROL], "private, no-cache", "{file}");
            assert_eq!(h[header::VARY], "Accept-Encoding", "{file}");
            assert_eq!(h[header::CONTENT_TYPE], kind, "{file}");
            assert_eq!(h[header::ETAG], etag.as_str(), "{file}");
        }
    }

    /// RFC 9110: a coding with `q=0` is not acceptable; `*` stands for any.
    #[test]
    fn gzip_is_sent_when_accepted_and_only_for_csv() {
        let accepts = |v: &str| accepts_gzip(&headers(&[(header::ACCEPT_ENCODING, v)]));
        for yes in ["gzip", "GZIP", "br, gzip;q=0.5", "*", "deflate, *;q=0.1"] {
            assert!(accepts(yes), "{yes}");
        }
        for no in ["gzip;q=0", "identity", "*;q=0", "br", "gzip; q=0.0"] {
            assert!(!accepts(no), "{no}");
        }
        assert!(!accepts_gzip(&HeaderMap::new()));
        let bytes = b"entity_id\r\n".repeat(100);
        let gzip = headers(&[(header::ACCEPT_ENCODING, "gzip")]);
        let csv = send_file(bytes.clone(), "entries.csv", &gzip);
        assert_eq!(csv.headers()[header::CONTENT_ENCODING], "gzip");
        let parquet = send_file(bytes, "entries.parquet", &gzip);
        assert!(parquet.headers().get(header::CONTENT_ENCODING).is_none(), "Parquet is compressed already");
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(Ok((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=95-200", 100), Some(Ok((95, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=-0", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=5-1", 100), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }

    #[test]
    fn the_openapi_document_names_every_route() {
        let doc = serde_json::to_value(openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for p in [
            "/api/v1/lists",
            "/api/v1/lists/{list}/publications",
            "/api/v1/lists/{list}/publications/{id}/{file}",
            "/api/v1/lists/{list}/latest/{file}",
            "/api/v1/openapi.json",
        ] {
            assert!(paths.contains_key(p), "{p}");
        }
    }
}
