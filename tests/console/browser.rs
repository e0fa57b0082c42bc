//! A real headless Chromium driving the console, through Debian's `chromedriver` (WebDriver).
//!
//! One `chromedriver` per test; every [`Console`] is its own WebDriver session, so its own
//! Chromium process with its own profile directory (its own sessionStorage and localStorage):
//! two consoles in one test are two people at two desks. Nothing here sleeps: a test waits for a
//! condition in the page by evaluating a Promise that a `MutationObserver` resolves as soon as
//! the condition holds, or that gives up after a deadline naming what it waited for.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use thirtyfour::prelude::*;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use dispatch_tests::TestServer;

/// Debian's Chromium and its WebDriver; `DISPATCH_CHROMIUM` and `DISPATCH_CHROMEDRIVER` name
/// others.
fn chromium() -> String {
    std::env::var("DISPATCH_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

fn chromedriver() -> String {
    std::env::var("DISPATCH_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}

/// How long a wait in the page lasts before the test fails (generous: CI machines are slow).
pub const WAIT: Duration = Duration::from_secs(15);

/// The window every console gets: the smallest screen the console must be usable at.
const WINDOW: &str = "--window-size=1366,768";
/// The page's viewport in it (the window's frame is added around it).
const VIEWPORT: (u32, u32) = (1366, 768);

/// The test's `chromedriver`, and where its consoles keep their profiles.
#[derive(Debug)]
pub struct Browser {
    test: String,
    driver_url: String,
    profiles: TempDir,
    sessions: std::sync::atomic::AtomicUsize,
    // Last: the sessions (their Chromium processes) are quit before chromedriver goes.
    _chromedriver: Child,
}

impl Browser {
    /// Starts `chromedriver` for the test named `test` (screenshots are named after it). `None`
    /// when Chromium is not installed and this is not CI: the caller returns (a loud skip). In CI
    /// (`CI` set) a missing browser fails the test.
    pub async fn start(test: &str) -> Option<Browser> {
        let (chromium, chromedriver) = (chromium(), chromedriver());
        let missing: Vec<&str> = [chromium.as_str(), chromedriver.as_str()]
            .into_iter()
            .filter(|path| !Path::new(path).exists())
            .collect();
        if !missing.is_empty() {
            let message = format!(
                "{} not installed: `apt-get install chromium chromium-driver` to run the console's \
                 browser tests",
                missing.join(" and ")
            );
            assert!(std::env::var_os("CI").is_none(), "{message}");
            eprintln!("\n!!!!! SKIPPED console test {test}: {message} !!!!!\n");
            return None;
        }
        // Port 0: chromedriver picks a free port and says which. Now and then its pick is
        // taken on the IPv6 side and it gives up: start it again.
        let mut attempts = 0;
        let (chromedriver, port, mut lines) = loop {
            attempts += 1;
            let mut child = Command::new(&chromedriver)
                .arg("--port=0")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .kill_on_drop(true)
                .spawn()
                .expect("starting chromedriver");
            // "ChromeDriver was started successfully on port 41235."
            let stdout = child.stdout.take().expect("chromedriver's stdout");
            let mut lines = BufReader::new(stdout).lines();
            let mut port = None;
            while let Some(line) = lines
                .next_line()
                .await
                .expect("reading chromedriver's output")
            {
                if let Some(rest) = line.split("started successfully on port ").nth(1) {
                    port = Some(
                        rest.trim_end_matches('.')
                            .trim()
                            .parse::<u16>()
                            .expect("chromedriver's port"),
                    );
                    break;
                }
            }
            match port {
                Some(port) => break (child, port, lines),
                None => assert!(
                    attempts < 5,
                    "chromedriver exited {attempts} times before saying its port"
                ),
            }
        };
        // Keep draining its output so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Some(Browser {
            test: test.to_owned(),
            driver_url: format!("http://127.0.0.1:{port}"),
            profiles: TempDir::new(&format!("dispatch-console-{test}")),
            sessions: std::sync::atomic::AtomicUsize::new(0),
            _chromedriver: chromedriver,
        })
    }

    /// A new browser (its own Chromium, its own profile) showing `server`'s console.
    pub async fn console(&self, server: &TestServer) -> Console {
        self.console_at(&format!("http://{}", server.address)).await
    }

    /// A new browser showing `server`'s console, signed in with `token`.
    pub async fn signed_in(&self, server: &TestServer, token: &str) -> Console {
        let console = self.console(server).await;
        console.sign_in(token).await;
        console
    }

    /// A new browser showing the console served at `origin` (`http://host:port`).
    pub async fn console_at(&self, origin: &str) -> Console {
        let n = self
            .sessions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let profile = self.profiles.path.join(format!("profile-{n}"));
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(&chromium()).expect("binary");
        // The page's console (and its uncaught errors) for the tests to read.
        caps.set_browser_log_level(thirtyfour::LoggingPrefsLogLevel::All)
            .expect("logging preferences");
        for arg in [
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            WINDOW,
            &format!("--user-data-dir={}", profile.display()),
        ] {
            caps.add_arg(arg).expect("chromium argument");
        }
        let driver = WebDriver::new(&self.driver_url, caps)
            .await
            .expect("a Chromium session from chromedriver");
        driver
            .set_script_timeout(WAIT + Duration::from_secs(30))
            .await
            .expect("script timeout");
        driver
            .goto(format!("{origin}/"))
            .await
            .expect("loading the console");
        let console = Console {
            driver: Some(driver),
            test: self.test.clone(),
        };
        console.fit_viewport().await;
        console
    }
}

/// One browser showing a console.
#[derive(Debug)]
pub struct Console {
    driver: Option<WebDriver>,
    test: String,
}

impl Drop for Console {
    fn drop(&mut self) {
        // thirtyfour quits a dropped session synchronously (on a thread of its own).
        drop(self.driver.take());
    }
}

impl Console {
    pub fn driver(&self) -> &WebDriver {
        self.driver.as_ref().expect("a live session")
    }

    /// Makes the page's viewport exactly [`VIEWPORT`] (the window's size includes its frame).
    async fn fit_viewport(&self) {
        let inner = self
            .eval("return [window.innerWidth, window.innerHeight];", vec![])
            .await;
        let (width, height) = (
            inner[0].as_u64().expect("innerWidth"),
            inner[1].as_u64().expect("innerHeight"),
        );
        let (want_width, want_height) = VIEWPORT;
        if (width, height) == (u64::from(want_width), u64::from(want_height)) {
            return;
        }
        let rect = self.driver().get_window_rect().await.expect("window rect");
        let frame = |outer: i64, inner: u64| {
            u32::try_from(outer)
                .unwrap_or(0)
                .saturating_sub(u32::try_from(inner).unwrap_or(0))
        };
        self.driver()
            .set_window_rect(
                0,
                0,
                want_width + frame(rect.width, width),
                want_height + frame(rect.height, height),
            )
            .await
            .expect("resizing the window");
        let inner = self
            .eval("return [window.innerWidth, window.innerHeight];", vec![])
            .await;
        assert_eq!(
            inner,
            serde_json::json!([want_width, want_height]),
            "[{}] the viewport",
            self.test
        );
    }

    /// Evaluates `script` (a function body: `return ...;`, `arguments[i]` are `args`) and, when it
    /// returns a Promise, what the Promise resolves to.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> Value {
        match self.driver().execute(script, args).await {
            Ok(ret) => ret.json().clone(),
            Err(error) => panic!("[{}] script failed: {error}\nscript: {script}", self.test),
        }
    }

    /// Waits until the JavaScript expression `expr` is truthy (re-evaluated on every change of
    /// the page) and returns its value; fails the test after [`WAIT`], saying it waited for
    /// `what` and what the page showed.
    pub async fn until(&self, what: &str, expr: &str) -> Value {
        self.until_within(what, expr, WAIT).await
    }

    pub async fn until_within(&self, what: &str, expr: &str, within: Duration) -> Value {
        let script = format!(
            r#"
            const timeoutMs = arguments[0];
            const check = () => {{ try {{ return ({expr}); }} catch (e) {{ return null; }} }};
            return new Promise((resolve) => {{
              const first = check();
              if (first) return resolve({{ ok: true, value: first }});
              let timer;
              const observer = new MutationObserver(() => {{
                const value = check();
                if (value) {{
                  observer.disconnect();
                  clearTimeout(timer);
                  resolve({{ ok: true, value }});
                }}
              }});
              observer.observe(document, {{
                subtree: true, childList: true, attributes: true, characterData: true,
              }});
              timer = setTimeout(() => {{
                observer.disconnect();
                resolve({{
                  ok: false,
                  url: location.href,
                  page: (document.body ? document.body.innerText : "").slice(0, 1500),
                }});
              }}, timeoutMs);
            }});
            "#
        );
        let millis = u64::try_from(within.as_millis()).unwrap_or(u64::MAX);
        let result = self.eval(&script, vec![json!(millis)]).await;
        if result["ok"] == json!(true) {
            return result["value"].clone();
        }
        self.screenshot("timeout").await;
        panic!(
            "[{}] waited {:?} for {what} (`{expr}`) in vain.\nat {}\nthe page showed:\n{}\n\
             the page's console:\n{}",
            self.test,
            within,
            result["url"].as_str().unwrap_or_default(),
            result["page"].as_str().unwrap_or_default(),
            self.log().await.join("\n")
        );
    }

    /// Waits for the performance mark `name` and returns its time since the navigation
    /// started, in milliseconds.
    pub async fn mark(&self, name: &str) -> f64 {
        let result = self
            .eval(
                r#"
                const [name, timeoutMs] = arguments;
                const hit = () => {
                  const marks = performance.getEntriesByName(name, "mark");
                  return marks.length > 0 ? marks[0].startTime : null;
                };
                return new Promise((resolve) => {
                  const first = hit();
                  if (first !== null) return resolve({ ok: true, value: first });
                  let timer;
                  const observer = new PerformanceObserver(() => {
                    const value = hit();
                    if (value !== null) {
                      observer.disconnect();
                      clearTimeout(timer);
                      resolve({ ok: true, value });
                    }
                  });
                  observer.observe({ type: "mark", buffered: true });
                  timer = setTimeout(() => {
                    observer.disconnect();
                    resolve({ ok: false, page: document.body ? document.body.innerText.slice(0, 1500) : "" });
                  }, timeoutMs);
                });
                "#,
                vec![json!(name), json!(u64::try_from(WAIT.as_millis()).unwrap_or(u64::MAX))],
            )
            .await;
        if result["ok"] == json!(true) {
            return result["value"].as_f64().expect("a mark's time");
        }
        self.screenshot("timeout").await;
        panic!(
            "[{}] waited {WAIT:?} for the performance mark {name} in vain; the page showed:\n{}",
            self.test,
            result["page"].as_str().unwrap_or_default()
        );
    }

    /// What the page wrote to its console (and its uncaught errors) since the last call.
    pub async fn log(&self) -> Vec<String> {
        match self.driver().browser_log().await {
            Ok(entries) => entries
                .into_iter()
                .map(|entry| format!("{} {}", entry.level, entry.message))
                .collect(),
            Err(error) => vec![format!("(no browser log: {error})")],
        }
    }

    /// Fails the test if a script of the page threw an exception nobody caught.
    pub async fn assert_no_uncaught_errors(&self) {
        let uncaught: Vec<String> = self
            .log()
            .await
            .into_iter()
            .filter(|line| line.contains("Uncaught"))
            .collect();
        assert!(
            uncaught.is_empty(),
            "[{}] uncaught errors in the page:\n{}",
            self.test,
            uncaught.join("\n")
        );
    }

    /// Waits for an element matching the CSS `selector`.
    pub async fn wait_for(&self, what: &str, selector: &str) {
        self.until(what, &format!("document.querySelector({})", js(selector)))
            .await;
    }

    /// Waits for an element matching `selector` with the attribute `attribute`, and returns
    /// its value.
    pub async fn wait_attr(&self, what: &str, selector: &str, attribute: &str) -> String {
        let value = self
            .until(
                what,
                &format!(
                    "(() => {{ const e = document.querySelector({}); return e && e.getAttribute({}); }})()",
                    js(selector),
                    js(attribute)
                ),
            )
            .await;
        value
            .as_str()
            .unwrap_or_else(|| panic!("[{}] {what}: {attribute} is not a string", self.test))
            .to_owned()
    }

    /// Waits until the live feeds' link shows `state` (`live`, `reconnecting`, `refused`).
    pub async fn wait_link(&self, what: &str, state: &str) {
        self.wait_for(
            what,
            &format!("[data-testid=link-state][data-state={state}]"),
        )
        .await;
    }

    /// Waits, for each of `units` in turn, for an element matching `selector` with `{unit}` in
    /// it standing for the unit's name; a wait in vain names the unit's call sign and `what`.
    pub async fn wait_for_units<'a>(
        &self,
        units: impl IntoIterator<Item = &'a dispatch_proto::v1::Unit>,
        what: &str,
        selector: &str,
    ) {
        for unit in units {
            let selector = selector.replace("{unit}", &js(&unit.name));
            self.wait_for(&format!("{} {what}", unit.call_sign), &selector)
                .await;
        }
    }

    /// Reloads the page, as the browser's reload button does.
    pub async fn reload(&self) {
        self.driver()
            .refresh()
            .await
            .unwrap_or_else(|e| panic!("[{}] reloading the page: {e}", self.test));
    }

    /// Waits for the sign-in form (`what` names the wait) and checks nobody is shown signed in.
    pub async fn assert_signed_out(&self, what: &str) {
        self.wait_for(what, "[data-testid=signin-token]").await;
        assert!(
            !self.exists("[data-testid=whoami]").await,
            "[{}] {what}: someone is shown signed in",
            self.test
        );
    }

    /// Marks the page now showing with `label`, for [`Console::assert_not_reloaded`].
    pub async fn mark_document(&self, label: &str) {
        self.eval("window.__sameDocument = arguments[0];", vec![json!(label)])
            .await;
    }

    /// Fails the test if the page marked `label` has been reloaded (or replaced) since.
    pub async fn assert_not_reloaded(&self, label: &str) {
        assert_eq!(
            self.eval("return window.__sameDocument;", vec![]).await,
            json!(label),
            "[{}] the console reloaded",
            self.test
        );
    }

    /// Whether an element matches `selector` right now.
    pub async fn exists(&self, selector: &str) -> bool {
        self.eval(
            "return document.querySelector(arguments[0]) !== null;",
            vec![json!(selector)],
        )
        .await
            == json!(true)
    }

    /// The number of elements matching `selector` right now.
    pub async fn count(&self, selector: &str) -> usize {
        let n = self
            .eval(
                "return document.querySelectorAll(arguments[0]).length;",
                vec![json!(selector)],
            )
            .await;
        usize::try_from(n.as_u64().unwrap_or(0)).unwrap_or(0)
    }

    /// The text of the first element matching `selector` (it must exist).
    pub async fn text(&self, selector: &str) -> String {
        let text = self
            .eval(
                "const e = document.querySelector(arguments[0]); return e && e.textContent;",
                vec![json!(selector)],
            )
            .await;
        text.as_str()
            .unwrap_or_else(|| panic!("[{}] no element {selector}", self.test))
            .to_owned()
    }

    /// An attribute of the first element matching `selector`.
    pub async fn attr(&self, selector: &str, attribute: &str) -> Option<String> {
        self.eval(
            "const e = document.querySelector(arguments[0]); return e && e.getAttribute(arguments[1]);",
            vec![json!(selector), json!(attribute)],
        )
        .await
        .as_str()
        .map(str::to_owned)
    }

    /// The `data-testid` of the focused element (and its tag, for messages).
    pub async fn focused(&self) -> String {
        self.eval(
            "const e = document.activeElement; return e ? (e.getAttribute('data-testid') || e.tagName) : '';",
            vec![],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Clicks the first element matching `selector` (the real pointer, as a person would).
    pub async fn click(&self, selector: &str) {
        self.until(
            &format!("{selector} to click, enabled"),
            &format!(
                "(() => {{ const e = document.querySelector({}); return e && !e.disabled; }})()",
                js(selector)
            ),
        )
        .await;
        let element = self
            .driver()
            .find(By::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("[{}] no element {selector} to click: {e}", self.test));
        element.scroll_into_view().await.ok();
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("[{}] clicking {selector}: {e}", self.test));
    }

    /// Chooses the option whose value is `value` in the `<select>` matching `selector` (the
    /// option is clicked, as a person would).
    pub async fn select(&self, selector: &str, value: &str) {
        self.wait_for(&format!("{selector} to choose from"), selector)
            .await;
        let element = self
            .driver()
            .find(By::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("[{}] no select {selector}: {e}", self.test));
        element.scroll_into_view().await.ok();
        thirtyfour::components::SelectElement::new(&element)
            .await
            .unwrap_or_else(|e| panic!("[{}] {selector} is not a select: {e}", self.test))
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("[{}] choosing {value} in {selector}: {e}", self.test));
    }

    /// Types `text` into the first element matching `selector` (clicking it first).
    pub async fn type_into(&self, selector: &str, text: &str) {
        self.wait_for(&format!("{selector} to type in"), selector)
            .await;
        let element = self
            .driver()
            .find(By::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("[{}] no element {selector} to type in: {e}", self.test));
        element
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("[{}] typing into {selector}: {e}", self.test));
    }

    /// Types `text` where the keyboard focus is (no pointer): keys as a person presses them.
    pub async fn keys(&self, text: impl Into<TypingData>) {
        self.driver()
            .action_chain()
            .send_keys(text)
            .perform()
            .await
            .unwrap_or_else(|e| panic!("[{}] typing: {e}", self.test));
    }

    /// Presses `key` while holding `modifier` (Ctrl+Enter, Alt+1, Alt+N...).
    pub async fn chord(&self, modifier: Key, key: impl Into<TypingData>) {
        self.driver()
            .action_chain()
            .key_down(modifier.clone())
            .send_keys(key)
            .key_up(modifier)
            .perform()
            .await
            .unwrap_or_else(|e| panic!("[{}] pressing a chord: {e}", self.test));
    }

    /// Signs in with `token` (typed into the sign-in form, as a person would) and waits until
    /// the console says who is signed in.
    pub async fn sign_in(&self, token: &str) {
        self.wait_for("the sign-in form", "[data-testid=signin-token]")
            .await;
        self.type_into("[data-testid=signin-token]", token).await;
        self.click("[data-testid=signin-submit]").await;
        self.wait_for("who is signed in", "[data-testid=whoami]")
            .await;
        // The console then goes to the role's first screen: a test going elsewhere goes after.
        self.until(
            "the console on its first screen",
            "location.hash.replace(/^#\\/?/, '') !== ''",
        )
        .await;
    }

    /// Goes to a screen by its hash route (`#/units`), as a typed URL or a link would.
    /// Opens the unit board and waits until each of `units` shows AVAILABLE and the feeds are
    /// live.
    pub async fn unit_board_with<'a>(
        &self,
        units: impl IntoIterator<Item = &'a dispatch_proto::v1::Unit>,
    ) {
        self.go("#/units").await;
        self.wait_for_units(
            units,
            "available on the unit board",
            "[data-testid=unit-row][data-unit={unit}][data-status=AVAILABLE]",
        )
        .await;
        self.wait_for(
            "the feeds live",
            "[data-testid=link-state][data-state=live]",
        )
        .await;
    }

    pub async fn go(&self, route: &str) {
        self.eval("location.hash = arguments[0];", vec![json!(route)])
            .await;
    }

    /// The page's URL now.
    pub async fn url(&self) -> String {
        self.driver()
            .current_url()
            .await
            .expect("the page's URL")
            .to_string()
    }

    /// Scrolls the element matching `selector` into view, then takes a screenshot.
    pub async fn screenshot_of(&self, screen: &str, selector: &str) {
        self.eval(
            "const e = document.querySelector(arguments[0]); if (e) e.scrollIntoView({block: 'start'});",
            vec![json!(selector)],
        )
        .await;
        self.screenshot(screen).await;
    }

    /// Saves what the browser shows as `<target>/console-screenshots/<test>-<screen>.png`.
    pub async fn screenshot(&self, screen: &str) {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("creating the screenshot directory");
        let path = dir.join(format!("{}-{screen}.png", self.test));
        match self.driver().screenshot_as_png().await {
            Ok(png) => std::fs::write(&path, png).expect("writing a screenshot"),
            Err(error) => eprintln!("[{}] no screenshot {screen}: {error}", self.test),
        }
    }
}

/// `value` as a JavaScript string literal.
pub fn js(value: &str) -> String {
    Value::from(value).to_string()
}

/// `<target>/console-screenshots`: the target directory is `CARGO_TARGET_DIR` when set, else
/// the one this test binary was built in (`<target>/debug/deps/console-*`).
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| dispatch_tests::repo_root().join(dir))
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            Some(exe.parent()?.parent()?.parent()?.to_owned())
        })
        .unwrap_or_else(|| dispatch_tests::repo_root().join("target"));
    target.join("console-screenshots")
}

/// A directory removed when dropped.
#[derive(Debug)]
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(prefix: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).expect("creating a temporary directory");
        Self { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
