//! The core error: a kind that each dialect maps to its own status code, a stable code for
//! machine clients, and a message that is safe to show to the caller.

use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Conflict,
    Invalid,
    Unauthenticated,
    Forbidden,
    TooLarge,
    /// The client stopped sending a request body (HTTP 408).
    TimedOut,
    /// A condition the request set (`If-Match`) does not hold (HTTP 412).
    PreconditionFailed,
    RateLimited,
    Unavailable,
    Internal,
}

/// The stable, machine-readable codes of every error the product answers with: one catalogue,
/// which the native API's problem documents and the OpenAPI document will list. A code says
/// what went wrong; the [`ErrorKind`] says which status family it maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    AccountExists,
    AccountInvalid,
    AccountNotFound,
    AssetExists,
    AssetNotFound,
    AttributeInvalid,
    BlobNotFound,
    BlobStoreConfigInvalid,
    BlobStoreUrlInvalid,
    BodyInvalid,
    BodyRequired,
    BodyTimeout,
    BodyTooLarge,
    BodyUnreadable,
    CollectionInvalid,
    CollectionNotFound,
    Conflict,
    ContentInvalid,
    CsrfRefused,
    CursorInvalid,
    DatabaseContention,
    DatabaseUnusable,
    DatabaseUrlInvalid,
    DeclaredTooLarge,
    ExecutableRefused,
    ExtensionNotAllowed,
    FieldInvalid,
    FieldTooLarge,
    FileNotFound,
    FolderExists,
    FolderNotEmpty,
    FolderNotFound,
    FolderRequired,
    Forbidden,
    Internal,
    JobLeaseLost,
    KeyNotFound,
    KeysRequired,
    MetadataInvalid,
    MigrateContentMismatch,
    MigrateSourceBusy,
    MigrateTargetNotEmpty,
    MultipartInvalid,
    MultipartRequired,
    PathInvalid,
    PathRequired,
    PreconditionFailed,
    QueryInvalid,
    QueueNotFound,
    RateLimited,
    SameKey,
    TooLarge,
    TooManyKeys,
    Unauthenticated,
    Unavailable,
    UploadInterrupted,
    UploadStopped,
    UrlBadRedirect,
    UrlHostRefused,
    UrlInvalid,
    UrlSchemeRefused,
    UrlStatus,
    UrlTimeout,
    UrlTooLarge,
    UrlTooManyRedirects,
    UrlUnreachable,
    UrlUploadsDisabled,
    UrlUserinfoRefused,
    ZipInvalid,
}

impl Code {
    /// Every code, in the catalogue's order.
    pub const ALL: &'static [Code] = &[
        Code::AccountExists,
        Code::AccountInvalid,
        Code::AccountNotFound,
        Code::AssetExists,
        Code::AssetNotFound,
        Code::AttributeInvalid,
        Code::BlobNotFound,
        Code::BlobStoreConfigInvalid,
        Code::BlobStoreUrlInvalid,
        Code::BodyInvalid,
        Code::BodyRequired,
        Code::BodyTimeout,
        Code::BodyTooLarge,
        Code::BodyUnreadable,
        Code::CollectionInvalid,
        Code::CollectionNotFound,
        Code::Conflict,
        Code::ContentInvalid,
        Code::CsrfRefused,
        Code::CursorInvalid,
        Code::DatabaseContention,
        Code::DatabaseUnusable,
        Code::DatabaseUrlInvalid,
        Code::DeclaredTooLarge,
        Code::ExecutableRefused,
        Code::ExtensionNotAllowed,
        Code::FieldInvalid,
        Code::FieldTooLarge,
        Code::FileNotFound,
        Code::FolderExists,
        Code::FolderNotEmpty,
        Code::FolderNotFound,
        Code::FolderRequired,
        Code::Forbidden,
        Code::Internal,
        Code::JobLeaseLost,
        Code::KeyNotFound,
        Code::KeysRequired,
        Code::MetadataInvalid,
        Code::MigrateContentMismatch,
        Code::MigrateSourceBusy,
        Code::MigrateTargetNotEmpty,
        Code::MultipartInvalid,
        Code::MultipartRequired,
        Code::PathInvalid,
        Code::PathRequired,
        Code::PreconditionFailed,
        Code::QueryInvalid,
        Code::QueueNotFound,
        Code::RateLimited,
        Code::SameKey,
        Code::TooLarge,
        Code::TooManyKeys,
        Code::Unauthenticated,
        Code::Unavailable,
        Code::UploadInterrupted,
        Code::UploadStopped,
        Code::UrlBadRedirect,
        Code::UrlHostRefused,
        Code::UrlInvalid,
        Code::UrlSchemeRefused,
        Code::UrlStatus,
        Code::UrlTimeout,
        Code::UrlTooLarge,
        Code::UrlTooManyRedirects,
        Code::UrlUnreachable,
        Code::UrlUploadsDisabled,
        Code::UrlUserinfoRefused,
        Code::ZipInvalid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::AccountExists => "account_exists",
            Code::AccountInvalid => "account_invalid",
            Code::AccountNotFound => "account_not_found",
            Code::AssetExists => "asset_exists",
            Code::AssetNotFound => "asset_not_found",
            Code::AttributeInvalid => "attribute_invalid",
            Code::BlobNotFound => "blob_not_found",
            Code::BlobStoreConfigInvalid => "blob_store_config_invalid",
            Code::BlobStoreUrlInvalid => "blob_store_url_invalid",
            Code::BodyInvalid => "body_invalid",
            Code::BodyRequired => "body_required",
            Code::BodyTimeout => "body_timeout",
            Code::BodyTooLarge => "body_too_large",
            Code::BodyUnreadable => "body_unreadable",
            Code::CollectionInvalid => "collection_invalid",
            Code::CollectionNotFound => "collection_not_found",
            Code::Conflict => "conflict",
            Code::ContentInvalid => "content_invalid",
            Code::CursorInvalid => "cursor_invalid",
            Code::DatabaseContention => "database_contention",
            Code::DatabaseUnusable => "database_unusable",
            Code::DatabaseUrlInvalid => "database_url_invalid",
            Code::DeclaredTooLarge => "declared_too_large",
            Code::ExecutableRefused => "executable_refused",
            Code::ExtensionNotAllowed => "extension_not_allowed",
            Code::FieldInvalid => "field_invalid",
            Code::FieldTooLarge => "field_too_large",
            Code::FileNotFound => "file_not_found",
            Code::FolderExists => "folder_exists",
            Code::FolderNotEmpty => "folder_not_empty",
            Code::FolderNotFound => "folder_not_found",
            Code::FolderRequired => "folder_required",
            Code::Forbidden => "forbidden",
            Code::CsrfRefused => "csrf_refused",
            Code::Internal => "internal",
            Code::JobLeaseLost => "job_lease_lost",
            Code::KeyNotFound => "key_not_found",
            Code::KeysRequired => "keys_required",
            Code::MetadataInvalid => "metadata_invalid",
            Code::MigrateContentMismatch => "migrate_content_mismatch",
            Code::MigrateSourceBusy => "migrate_source_busy",
            Code::MigrateTargetNotEmpty => "migrate_target_not_empty",
            Code::MultipartInvalid => "multipart_invalid",
            Code::MultipartRequired => "multipart_required",
            Code::PathInvalid => "path_invalid",
            Code::PathRequired => "path_required",
            Code::PreconditionFailed => "precondition_failed",
            Code::QueryInvalid => "query_invalid",
            Code::QueueNotFound => "queue_not_found",
            Code::RateLimited => "rate_limited",
            Code::SameKey => "same_key",
            Code::TooLarge => "too_large",
            Code::TooManyKeys => "too_many_keys",
            Code::Unauthenticated => "unauthenticated",
            Code::Unavailable => "unavailable",
            Code::UploadInterrupted => "upload_interrupted",
            Code::UploadStopped => "upload_stopped",
            Code::UrlBadRedirect => "url_bad_redirect",
            Code::UrlHostRefused => "url_host_refused",
            Code::UrlInvalid => "url_invalid",
            Code::UrlSchemeRefused => "url_scheme_refused",
            Code::UrlStatus => "url_status",
            Code::UrlTimeout => "url_timeout",
            Code::UrlTooLarge => "url_too_large",
            Code::UrlTooManyRedirects => "url_too_many_redirects",
            Code::UrlUnreachable => "url_unreachable",
            Code::UrlUploadsDisabled => "url_uploads_disabled",
            Code::UrlUserinfoRefused => "url_userinfo_refused",
            Code::ZipInvalid => "zip_invalid",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub struct Error {
    pub kind: ErrorKind,
    /// Stable, machine-readable code, from the catalogue.
    pub code: Code,
    /// Caller-facing message. For `Internal` it is generic; the cause is logged once.
    pub message: String,
    /// The request parameter or body field at fault, as the caller named it (`filter[path]`,
    /// `key`), when one is: Hivo's `source.parameter`, the native API's `param`.
    pub param: Option<String>,
    /// Seconds after which a retry may succeed (`Retry-After`), for rate limits and outages.
    pub retry_after: Option<u64>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error {
    pub fn new(kind: ErrorKind, code: Code, message: impl Into<String>) -> Self {
        Self { kind, code, message: message.into(), param: None, retry_after: None }
    }
    /// Names the parameter at fault.
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }
    /// Says when a retry may succeed.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
    pub fn invalid(code: Code, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, code, message)
    }
    pub fn not_found(code: Code, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, code, message)
    }
    pub fn conflict(code: Code, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, code, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, Code::Forbidden, message)
    }
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthenticated, Code::Unauthenticated, message)
    }
    /// An internal failure: logs `cause` once and returns an error whose message leaks nothing.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(ErrorKind::Internal, Code::Internal, "Internal server error.")
    }
    /// A backend that is down or timing out.
    pub fn unavailable(what: &str, cause: impl fmt::Display) -> Self {
        tracing::warn!(%cause, "{what} unavailable");
        Self::new(ErrorKind::Unavailable, Code::Unavailable, format!("The {what} is unavailable; try again shortly."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_holds_each_code_once() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(!text.is_empty() && text.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{text}");
            assert_eq!(code.to_string(), text);
        }
    }

    #[test]
    fn errors_carry_their_parameter_and_retry_time() {
        let e = Error::invalid(Code::PathInvalid, "Bad path.").with_param("filter[path]");
        assert_eq!((e.code, e.param.as_deref(), e.retry_after), (Code::PathInvalid, Some("filter[path]"), None));
        assert_eq!(e.code, "path_invalid");
        let e = Error::unavailable("database", "down").with_retry_after(5);
        assert_eq!((e.kind, e.retry_after), (ErrorKind::Unavailable, Some(5)));
    }
}
