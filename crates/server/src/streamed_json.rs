//! A JSON object body whose one large string member (base64 file content) streams into the
//! blob store as it arrives, decoded on the way, while every other member is read as a small
//! value. Memory does not grow with the content's size: the parser runs on a blocking thread
//! over the body, and hands the decoded bytes over a bounded channel to the upload.
//!
//! Member names are matched case-insensitively (they are lowercased), a member given twice is
//! refused, and all members but the streamed one together may hold at most `budget` bytes.

use assetlib_core::Code;
use assetlib_core::library::uploads::Received;
use assetlib_core::ports::ByteStream;
use assetlib_core::{Error, Result};
use axum::body::Body;
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use serde_json::{Map, Value};
use std::future::Future;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use struson::reader::{JsonReader, JsonStreamReader, ReaderError, ValueType};
use tokio::sync::mpsc;

/// Base64 text decoded per chunk: a multiple of 4 characters.
const CHUNK_CHARS: usize = 64 * 1024;

/// Standard alphabet, padding optional (clients differ), non-canonical trailing bits refused.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// What the body held besides the streamed member, and what became of that one.
pub struct StreamedObject {
    /// Every other member, names lowercased.
    pub fields: Map<String, Value>,
    /// The streamed member's upload, when it was there as a string.
    pub received: Option<Received>,
}

enum Event {
    /// The streamed member starts; the members read so far.
    Streaming(Map<String, Value>),
    Done(Map<String, Value>),
    Failed(Error),
}

/// Reads `body` as a JSON object. When the member named `streamed` (lowercase) holds a string,
/// `upload` is called with the members read before it and the decoded content as a stream,
/// and its result is kept. An error anywhere leaves nothing behind: a received upload is
/// handed back through `discard`.
pub async fn read_object<U, F, D, DF>(
    body: Body,
    streamed: &'static str,
    budget: u64,
    upload: U,
    discard: D,
) -> Result<StreamedObject>
where
    U: FnOnce(Map<String, Value>, ByteStream) -> F,
    F: Future<Output = Result<Received>>,
    D: FnOnce(Received) -> DF,
    DF: Future<Output = ()>,
{
    let (events_tx, mut events) = mpsc::channel::<Event>(1);
    let (chunks_tx, chunks_rx) = mpsc::channel::<Result<Bytes>>(2);
    let reader = tokio_util::io::StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
    let bridge = tokio_util::io::SyncIoBridge::new(reader);
    tokio::task::spawn_blocking(move || {
        let event = match parse(bridge, streamed, budget, &events_tx, chunks_tx) {
            Ok(fields) => Event::Done(fields),
            Err(e) => Event::Failed(e),
        };
        let _ = events_tx.blocking_send(event);
    });
    let mut upload = Some(upload);
    let mut chunks = Some(chunks_rx);
    let mut received: Option<Received> = None;
    let mut failure = None;
    while let Some(event) = events.recv().await {
        match event {
            Event::Streaming(fields) => {
                let (Some(upload), Some(rx)) = (upload.take(), chunks.take()) else { continue };
                let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
                match upload(fields, stream.boxed()).await {
                    Ok(r) => received = Some(r),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            Event::Done(fields) => return Ok(StreamedObject { fields, received }),
            Event::Failed(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    if let Some(r) = received {
        discard(r).await;
    }
    Err(failure.unwrap_or_else(|| Error::internal("the JSON body reader stopped without an answer")))
}

/// Counts what the parser reads outside the streamed member, and notices the first byte that
/// is not whitespace (an empty body gets its own message).
struct Budget<R> {
    inner: R,
    outside: Arc<AtomicU64>,
    streaming: Arc<AtomicBool>,
    limit: u64,
    seen_text: Arc<AtomicBool>,
    /// Why reading failed, as the client is to hear it: the parser rewraps read errors (its
    /// string reader in a private type), so the cause is noted here, where it is first seen.
    failure: Arc<std::sync::Mutex<Option<Error>>>,
    budget: u64,
}

impl<R> Budget<R> {
    fn fail(&self, error: Error) -> std::io::Error {
        if let Ok(mut failure) = self.failure.lock() {
            failure.get_or_insert(error);
        }
        std::io::Error::other(OverBudget)
    }
}

#[derive(Debug)]
struct OverBudget;

impl std::fmt::Display for OverBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the JSON body is over its limit")
    }
}

impl std::error::Error for OverBudget {}

impl<R: Read> Read for Budget<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            // The body's own error, as the stream reader passes it on inside an io error.
            Err(e) if e.get_ref().is_some_and(|inner| crate::http::is_body_timeout(inner)) => {
                return Err(self.fail(crate::http::body_timeout_error()));
            }
            Err(e) => return Err(e),
        };
        if !self.seen_text.load(Ordering::Relaxed) && buf[..n].iter().any(|b| !b.is_ascii_whitespace()) {
            self.seen_text.store(true, Ordering::Relaxed);
        }
        if !self.streaming.load(Ordering::Relaxed)
            && self.outside.fetch_add(n as u64, Ordering::Relaxed) + n as u64 > self.limit
        {
            return Err(self.fail(crate::dialects::json_too_large(self.budget)));
        }
        Ok(n)
    }
}

fn parse<R: Read>(
    input: R,
    streamed: &str,
    budget: u64,
    events: &mpsc::Sender<Event>,
    chunks: mpsc::Sender<Result<Bytes>>,
) -> Result<Map<String, Value>> {
    let streaming = Arc::new(AtomicBool::new(false));
    let seen_text = Arc::new(AtomicBool::new(false));
    let failure = Arc::new(std::sync::Mutex::new(None));
    // Reading ahead may count a little of the streamed member as outside it: slack for that.
    let counted = Budget {
        inner: input,
        outside: Arc::new(AtomicU64::new(0)),
        streaming: streaming.clone(),
        limit: budget + 64 * 1024,
        seen_text: seen_text.clone(),
        failure: failure.clone(),
        budget,
    };
    let mut json = JsonStreamReader::new(counted);
    let noted = || failure.lock().ok().and_then(|mut f| f.take());
    let syntax = |e: ReaderError| noted().unwrap_or_else(|| reader_error(e, seen_text.load(Ordering::Relaxed)));
    if json.peek().map_err(syntax)? != ValueType::Object {
        return Err(Error::invalid(Code::BodyInvalid, "The JSON body must be an object."));
    }
    json.begin_object().map_err(syntax)?;
    let mut fields = Map::new();
    let mut chunks = Some(chunks);
    let mut streamed_seen = false;
    while json.has_next().map_err(syntax)? {
        let name = json.next_name_owned().map_err(syntax)?.to_lowercase();
        if fields.contains_key(&name) || (name == streamed && streamed_seen) {
            return Err(Error::invalid(Code::BodyInvalid, format!("Field '{name}' is given more than once.")));
        }
        if name == streamed && json.peek().map_err(syntax)? == ValueType::String {
            streamed_seen = true;
            let Some(tx) = chunks.take() else { continue };
            if events.blocking_send(Event::Streaming(fields.clone())).is_err() {
                return Err(upload_stopped());
            }
            streaming.store(true, Ordering::Relaxed);
            let text = json.next_string_reader().map_err(syntax)?;
            let outcome = decode_into(text, &tx).map_err(|e| noted().unwrap_or(e));
            streaming.store(false, Ordering::Relaxed);
            if let Err(e) = outcome {
                // The upload fails on this error and answers with it; the parse stops here.
                let message = e.clone();
                let _ = tx.blocking_send(Err(e));
                return Err(message);
            }
            continue; // `tx` goes out of scope here, which ends the content's stream
        }
        let value: Value = json.deserialize_next().map_err(|e| match e {
            struson::serde::DeserializerError::ReaderError(e) => syntax(e),
            other => Error::invalid(Code::BodyInvalid, format!("Malformed JSON body: {other}.")),
        })?;
        fields.insert(name, value);
    }
    json.end_object().map_err(syntax)?;
    json.consume_trailing_whitespace().map_err(syntax)?;
    Ok(fields)
}

/// Decodes base64 text (whitespace ignored, padding optional) into chunks on `tx`.
fn decode_into(mut text: impl Read, tx: &mpsc::Sender<Result<Bytes>>) -> Result<()> {
    let invalid = |why: &str| {
        let why = why.trim_end_matches('.');
        Error::invalid(Code::ContentInvalid, format!("Field 'content' is not valid base64: {why}."))
    };
    let mut raw = vec![0u8; 16 * 1024];
    let mut pending: Vec<u8> = Vec::with_capacity(CHUNK_CHARS + raw.len());
    let mut padded = false;
    loop {
        let n = text.read(&mut raw).map_err(io_error)?;
        if n == 0 {
            break;
        }
        for &b in &raw[..n] {
            match b {
                b if b.is_ascii_whitespace() => {}
                b'=' => padded = true,
                _ if padded => return Err(invalid("data after the padding")),
                b => pending.push(b),
            }
        }
        if pending.len() >= CHUNK_CHARS {
            let whole = pending.len() / 4 * 4;
            let bytes = BASE64.decode(&pending[..whole]).map_err(|e| invalid(&e.to_string()))?;
            pending.drain(..whole);
            if tx.blocking_send(Ok(Bytes::from(bytes))).is_err() {
                return Err(upload_stopped());
            }
        }
    }
    let bytes = BASE64.decode(&pending).map_err(|e| invalid(&e.to_string()))?;
    if !bytes.is_empty() {
        let _ = tx.blocking_send(Ok(Bytes::from(bytes)));
    }
    Ok(())
}

/// The upload stopped reading (it failed, and its own error answers the request): the parse
/// stops too, and this error goes nowhere.
fn upload_stopped() -> Error {
    Error::invalid(Code::UploadStopped, "The upload stopped.")
}

/// A read error whose cause was not noted by [`Budget`] (that one wins).
fn io_error(e: std::io::Error) -> Error {
    Error::invalid(Code::BodyUnreadable, format!("Could not read the request body: {e}."))
}

fn reader_error(e: ReaderError, seen_text: bool) -> Error {
    match e {
        ReaderError::IoError { error, .. } => io_error(error),
        _ if !seen_text => Error::invalid(Code::BodyRequired, "A JSON body is required."),
        e => Error::invalid(Code::BodyInvalid, format!("Malformed JSON body: {e}.")),
    }
}
