//! `GET /v1/tasks/{id}/events`: the task's status as server-sent events, until it is final.
//!
//! Brown never hears from Bayko, so it watches the status object: a conditional GET
//! (`If-None-Match` on the last ETag) costs a 304 while nothing changes, and the interval grows
//! while the task is quiet and shrinks again when it moves. Every event carries the status'
//! `updated_at` (milliseconds) as its id: a client that reconnects with `Last-Event-ID` gets only
//! what is newer. Keep-alive comments hold idle connections open; the stream ends with the final
//! status, when Brown stops, or after `BROWN_EVENTS_MAX_SECONDS` (the client then resumes).

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::{Path, State},
    http::HeaderMap,
    response::sse::{Event, KeepAlive, KeepAliveStream, Sse},
};
use shared::{keys::TaskKey, sse::STATUS_EVENT};
use tokio::{sync::mpsc, time::Instant};
use tokio_stream::wrappers::ReceiverStream;

use crate::{
    app::AppState,
    auth::CallerTenant,
    error::ApiError,
    routes::tasks::{StatusView, task_key, view, with_links},
    store::Watched,
    watchers::Watching,
};

/// The status is looked at this often while it changes, and at most this rarely when quiet.
const FASTEST: Duration = Duration::from_millis(200);
const SLOWEST: Duration = Duration::from_secs(3);

type EventStream = Sse<KeepAliveStream<ReceiverStream<Result<Event, Infallible>>>>;

pub async fn events(
    State(state): State<AppState>,
    CallerTenant(tenant): CallerTenant,
    Path(task_id): Path<String>,
    headers: HeaderMap,
) -> Result<EventStream, ApiError> {
    let key = task_key(tenant, &task_id)?;
    // An unknown task is a 404 now, not an empty stream.
    let first = view(&state, &key).await?;
    let watching = state
        .watchers
        .try_watch(&key.tenant)
        .ok_or(ApiError::TooManyWatchers(state.watchers.limit()))?;
    let last_seen = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<i64>().ok());
    let (events, stream) = mpsc::channel(8);
    tokio::spawn(watch(
        state.clone(),
        key,
        first,
        last_seen,
        events,
        watching,
    ));
    Ok(Sse::new(ReceiverStream::new(stream))
        .keep_alive(KeepAlive::new().interval(state.config.events_keep_alive)))
}

/// Sends every status newer than `last_seen` until the task is final, the client leaves, or the
/// stream's time is up. Holds the tenant's watcher place while it runs.
async fn watch(
    state: AppState,
    key: TaskKey,
    first: StatusView,
    mut last_seen: Option<i64>,
    events: mpsc::Sender<Result<Event, Infallible>>,
    _watching: Watching,
) {
    let until = Instant::now() + state.config.events_max_duration;
    let mut etag: Option<String> = None;
    let mut interval = FASTEST;
    let mut current = Some(first);
    loop {
        if let Some(view) = current.take() {
            let id = view.updated_at.timestamp_millis();
            let is_final = view.status.is_final();
            if last_seen.is_none_or(|seen| id > seen) {
                last_seen = Some(id);
                let Ok(event) = Event::default()
                    .event(STATUS_EVENT)
                    .id(id.to_string())
                    .json_data(&view)
                else {
                    return;
                };
                if events.send(Ok(event)).await.is_err() {
                    return; // the client left
                }
            }
            if is_final {
                return;
            }
            interval = FASTEST;
        } else {
            interval = (interval * 2).min(SLOWEST);
        }
        tokio::select! {
            () = events.closed() => return,
            () = state.watchers.closed() => return,
            () = tokio::time::sleep_until((Instant::now() + interval).min(until)) => {}
        }
        if Instant::now() >= until {
            return;
        }
        current = match state.store.status_if_changed(&key, etag.as_deref()).await {
            Ok(Watched::Changed { status, etag: new }) => {
                etag = new;
                with_links(&state, &key, *status).await.ok()
            }
            // Unchanged, still queued, or S3 briefly unreachable: look again later.
            Ok(Watched::Unchanged | Watched::NoStatus) | Err(_) => None,
        };
    }
}
