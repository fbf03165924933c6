//! One module per API dialect, each with its own routes, auth and error body.

pub mod clinch;
pub mod jivox;
