//! What a library is made of, table by table, as the stores export and import it: the
//! records `assetlib migrate` copies (see [`crate::migrate`]) and the [`crate::ports::MetaStore`]
//! methods that read and write them.

use crate::ids::{AccountId, BlobKey};
use crate::model::{Account, Asset, Collection, Millis, NewApiKey, QueueEntry, Role, User};

/// The tables a migration copies, in the order it copies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Accounts,
    Users,
    ApiKeys,
    Folders,
    Collections,
    Assets,
    Renditions,
    Queues,
}

impl Table {
    /// Collections before assets, which name them; renditions after the assets that use them.
    pub const ALL: [Table; 8] = [
        Table::Accounts,
        Table::Users,
        Table::ApiKeys,
        Table::Folders,
        Table::Collections,
        Table::Assets,
        Table::Renditions,
        Table::Queues,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Table::Accounts => "accounts",
            Table::Users => "users",
            Table::ApiKeys => "api keys",
            Table::Folders => "folders",
            Table::Collections => "collections",
            Table::Assets => "assets",
            Table::Renditions => "renditions",
            Table::Queues => "upload queues",
        }
    }
}

/// A folder row as stored: implicit folders too, so their creation times carry over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderRecord {
    pub account: AccountId,
    pub path: String,
    pub explicit: bool,
    pub created_at: Millis,
}

/// One recorded rendition of a content blob, or (`version` `original`, `blob` the source) the
/// original's size in pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenditionRecord {
    pub source: BlobKey,
    pub version: String,
    pub blob: BlobKey,
    pub size: u64,
    pub content_type: String,
    pub extension: String,
    pub width: u32,
    pub height: u32,
    pub created_at: Millis,
}

/// One row of a [`Table`], as [`TransferStore::export`](crate::ports::TransferStore::export) gives it
/// and [`TransferStore::import`](crate::ports::TransferStore::import) takes it.
#[allow(clippy::large_enum_variant)] // pages of a few hundred, short-lived; most records are assets
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Account(Account),
    User { user: User, memberships: Vec<(AccountId, Role)> },
    ApiKey(NewApiKey),
    Folder(FolderRecord),
    Collection(Collection),
    Asset(Asset),
    Rendition(RenditionRecord),
    Queue(QueueEntry),
}
