//! assetlib's core: the domain types, every rule (paths, files, tenancy, folders, jobs) and the
//! service every API dialect calls. It knows no web framework, SQL engine or object store: those
//! plug in through the ports in [`ports`].
#![forbid(unsafe_code)]

pub mod assets;
pub mod auth;
pub mod blob_cache;
pub mod cache;
pub mod cursor;
pub mod enqueue;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod ids;
pub mod ingest;
pub mod jobs;
pub mod migrate;
pub mod model;
pub mod ports;
pub mod rules;
pub mod service;
pub mod size;
pub mod transfer;
pub mod zip_job;

pub use error::{Code, Error, ErrorKind, Result};
pub use ids::{AccountId, AssetId, BlobKey, JobId, QueueId, UserId};
pub use service::{Library, LibraryConfig};
