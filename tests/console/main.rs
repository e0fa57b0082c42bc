//! Browser tests of the web console: a real headless Chromium (Debian's, through
//! `chromedriver`) against a real `dispatchd` on real PostgreSQL, serving the console files
//! built into it (`crates/dispatch-console/dist`), so what is tested is what ships.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (`apt-get install chromium
//! chromium-driver`; `DISPATCH_CHROMIUM` and `DISPATCH_CHROMEDRIVER` name others); without them a
//! test prints a loud skip line, except in CI (`CI` set) where it fails. Screenshots of every
//! screen go to `<target>/console-screenshots/<test>-<screen>.png`.
//!
//! Nothing sleeps: a test waits for a condition in the page (a Promise a MutationObserver
//! resolves, or that gives up naming what it waited for). The first-load measurement with the
//! demo city is `#[ignore]`d (slow): `cargo test -p dispatch-tests --test console -- --ignored
//! --nocapture first_load`.

mod browser;
mod calltaker;
mod dispatch;
mod firstload;
mod live;
mod operations;
mod partner;
mod proxy;
mod reports;
mod resume;
mod roles;
mod screens;
mod setup;
mod signin;
mod units;
mod video;
