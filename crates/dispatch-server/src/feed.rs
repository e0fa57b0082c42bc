//! The centre-wide feed in this process: the follower that reads it in commit order and fans it
//! out (`follower`), and the Watch stream protocol every Watch RPC speaks over it (`stream`).

mod follower;
mod stream;

pub use follower::{Feed, FeedItem, run};
pub use stream::{Watch, WatchResponse, WatchStream, spawn_watch};
