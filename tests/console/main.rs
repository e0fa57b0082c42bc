//! Browser tests of the web console: a real headless Chromium (Debian's, through
//! `chromedriver`) against a real `dispatchd` on real PostgreSQL, serving the console files
//! built into it (`crates/dispatch-console/dist`), so what is tested is what ships.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (`apt-get install chromium
//! chromium-driver`); without them a test prints a loud skip line, except in CI (`CI` set) where
//! it fails. Screenshots of every screen go to `<target>/console-screenshots/`.

mod browser;
mod calltaker;
mod dispatch;
mod firstload;
mod live;
mod partner;
mod proxy;
mod resume;
mod roles;
mod setup;
mod signin;
