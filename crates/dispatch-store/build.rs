//! The migrations are embedded at compile time (`embed_migrations!`), which tracks the files it
//! read but not a newly added migration folder: rebuild whenever anything under migrations/
//! changes, so a new migration is never silently left out of the binary.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
