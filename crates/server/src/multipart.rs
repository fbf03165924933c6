//! Streaming multipart: file parts flow to the core as byte streams, never buffered whole.

use assetlib_core::Code;
use assetlib_core::library::ingest::too_large_error;
use assetlib_core::ports::ByteStream;
use assetlib_core::{Error, ErrorKind};
use axum::body::Body;
use axum::http::HeaderMap;
use futures::{StreamExt, TryStreamExt};

/// Largest size of a text (non-file) part.
const TEXT_PART_LIMIT: u64 = 64 * 1024;

pub struct Multipart {
    inner: multer::Multipart<'static>,
    max_file: u64,
}

pub enum Part {
    File { field: String, file_name: String, body: ByteStream },
    Text { name: String, value: String },
}

fn malformed(e: multer::Error, max_file: u64) -> Error {
    match e {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => too_large_error(max_file),
        multer::Error::StreamReadFailed(e) if crate::http::is_body_timeout(e.as_ref()) => {
            crate::http::body_timeout_error()
        }
        e => Error::invalid(Code::MultipartInvalid, format!("Malformed multipart body: {e}.")),
    }
}

/// A raw request body as the stream of one file: a stalled body is the body timeout, any
/// other read failure is `BodyUnreadable`. The core's ingest caps its size.
pub fn raw_stream(body: Body) -> ByteStream {
    body.into_data_stream()
        .map_err(|e| {
            if crate::http::is_body_timeout(&e) {
                crate::http::body_timeout_error()
            } else {
                Error::invalid(Code::BodyUnreadable, format!("Could not read the request body: {e}."))
            }
        })
        .boxed()
}

impl Multipart {
    /// A reader over `body`; the whole body may hold one file of `max_file` bytes plus slack
    /// for other fields.
    /// The most a whole body may hold: one file of `max_file` bytes and the other fields.
    pub fn body_limit(max_file: u64) -> u64 {
        max_file + (1 << 20)
    }

    pub fn new(headers: &HeaderMap, body: Body, max_file: u64) -> Result<Self, Error> {
        let content_type = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let boundary = multer::parse_boundary(content_type)
            .map_err(|_| Error::invalid(Code::MultipartRequired, "Expected a multipart/form-data body."))?;
        let constraints = multer::Constraints::new().size_limit(
            multer::SizeLimit::new().whole_stream(Self::body_limit(max_file)).per_field(max_file + TEXT_PART_LIMIT),
        );
        let stream = body.into_data_stream();
        Ok(Self { inner: multer::Multipart::with_constraints(stream, boundary, constraints), max_file })
    }

    /// The next part. A file part must be consumed (or dropped) before asking for the next.
    pub async fn next(&mut self) -> Result<Option<Part>, Error> {
        let max = self.max_file;
        let Some(field) = self.inner.next_field().await.map_err(|e| malformed(e, max))? else {
            return Ok(None);
        };
        let name = field.name().unwrap_or_default().to_owned();
        if let Some(file_name) = field.file_name() {
            let file_name = file_name.to_owned();
            let body = field.map_err(move |e| malformed(e, max)).boxed();
            return Ok(Some(Part::File { field: name, file_name, body }));
        }
        let mut value = Vec::new();
        let mut field = field;
        while let Some(chunk) = field.chunk().await.map_err(|e| malformed(e, max))? {
            if (value.len() + chunk.len()) as u64 > TEXT_PART_LIMIT {
                return Err(Error::invalid(Code::FieldTooLarge, format!("Field '{name}' is too large.")));
            }
            value.extend_from_slice(&chunk);
        }
        let value = String::from_utf8(value)
            .map_err(|_| Error::new(ErrorKind::Invalid, Code::FieldInvalid, format!("Field '{name}' is not UTF-8.")))?;
        Ok(Some(Part::Text { name, value }))
    }
}
