//! assetlib's core, in three layers, each using only the ones before it:
//! 1. domain types and rules: [`ids`], [`error`], [`model`], [`transfer`], [`rules`], [`cursor`],
//!    [`auth`], [`size`];
//! 2. the ports the stores plug in through, [`ports`], and what wraps a port without being a
//!    service: the caches [`cache`] and [`blob_cache`], and the job writer [`enqueue`];
//! 3. the services: [`library`], the one every API dialect calls, split by what it acts on, and
//!    [`migrate`], the copy of a library to other stores.
//!
//! It knows no web framework, SQL engine or object store: those plug in through the ports.
#![forbid(unsafe_code)]

pub mod auth;
pub mod blob_cache;
pub mod cache;
pub mod cursor;
pub mod enqueue;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod ids;
pub mod library;
pub mod migrate;
pub mod model;
pub mod ports;
pub mod rules;
pub mod search;
pub mod signing;
pub mod size;
pub mod transfer;

pub use error::{Code, Error, ErrorKind, Result};
pub use ids::{AccountId, AssetId, BlobKey, CollectionId, JobId, QueueId, UserId};
pub use library::{Library, LibraryConfig};
