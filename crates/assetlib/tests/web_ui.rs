//! The web UI (SPEC 8) in a real browser: Debian's `chromium`, headless, driven through
//! `chromedriver` (WebDriver) against a real server. Without chromedriver on the PATH these
//! tests say so and stop (under CI they fail instead); `.ci/run` installs both. Each main state
//! of the page is checked against WCAG 2.1 AA with axe-core (`tests/vendor/axe-core`), in the
//! light and the dark colour scheme.

mod common;

use assetlib_core::model::Role;
use common::TestApp;
use fantoccini::{Client, ClientBuilder, Locator, key::Key};
use serde_json::{Value, json};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A headless Chromium under its own chromedriver, both ended on drop.
struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole process group: chromedriver and the Chromium it started, which would be
        // left running when a failed test never closed its session.
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.driver.id())]).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn chromedriver() -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("chromedriver"))
        .find(|p| p.is_file())
}

/// A browser, or `None` (said on stderr) where chromedriver is missing outside CI.
async fn browser() -> Option<Browser> {
    let Some(driver_path) = chromedriver() else {
        if std::env::var_os("CI").is_some() {
            panic!("chromedriver is not on the PATH: in CI a skipped browser test is a failure");
        }
        eprintln!("skipped: chromedriver is not on the PATH (apt-get install chromium chromium-driver)");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let driver = Command::new(driver_path)
        .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".to_owned()])
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting chromedriver");
    let profile = tempfile::tempdir().unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
    ]
    .iter()
    .map(|a| a.to_string())
    .chain([format!("--user-data-dir={}", profile.path().display())])
    .collect::<Vec<_>>();
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), json!({ "args": args }));
    caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
    let client = ClientBuilder::rustls()
        .expect("a WebDriver client")
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session");
    Some(Browser { client, driver, _profile: profile })
}

/// A Chrome DevTools Protocol command, sent through chromedriver's own endpoint for them.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

/// `url::ParseError`, named through reqwest's `Url` rather than a dependency on `url` itself.
type UrlError = <reqwest::Url as std::str::FromStr>::Err;

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &reqwest::Url, session: Option<&str>) -> Result<reqwest::Url, UrlError> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &reqwest::Url) -> (reqwest::Method, Option<String>) {
        (reqwest::Method::POST, Some(json!({ "cmd": self.cmd, "params": self.params }).to_string()))
    }
}

/// chromedriver's log of the page's console (`goog:loggingPrefs`), drained by each read.
#[derive(Debug)]
struct ConsoleLog;

impl fantoccini::wd::WebDriverCompatibleCommand for ConsoleLog {
    fn endpoint(&self, base: &reqwest::Url, session: Option<&str>) -> Result<reqwest::Url, UrlError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &reqwest::Url) -> (reqwest::Method, Option<String>) {
        (reqwest::Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}

impl Browser {
    /// Fails on any error the page's console logged since the last call: a script error, a
    /// Content-Security-Policy violation, a failed load of a script, style, image or font. The
    /// one kind let through is Chromium's own line for an API answer with an error status
    /// (`Failed to load resource: … status of 4xx`), which every `fetch` of a refusal logs.
    async fn no_console_errors(&self, when: &str) {
        let log = self.client.issue_cmd(ConsoleLog).await.unwrap();
        let errors: Vec<String> = log
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
            .filter(|m| {
                !(m.contains("/api/v1/")
                    && m.contains("Failed to load resource: the server responded with a status of 4"))
            })
            .collect();
        assert!(errors.is_empty(), "console errors {when}: {errors:#?}");
    }

    /// Runs `script` (a function body that returns a value) in the page.
    async fn eval(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// Waits up to 10 s for `script` to return `true`.
    async fn until(&self, what: &str, script: &str) {
        let started = Instant::now();
        loop {
            if self.eval(script).await == Value::Bool(true) {
                return;
            }
            if started.elapsed() > Duration::from_secs(10) {
                let body = self.eval("return document.body.innerText").await;
                panic!("waited 10 s for {what}; the page shows: {body}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn visible(&self, id: &str) -> bool {
        self.eval(&format!("return !document.getElementById('{id}').hidden")).await == Value::Bool(true)
    }

    async fn text(&self, id: &str) -> String {
        self.eval(&format!("return document.getElementById('{id}').textContent")).await.as_str().unwrap().to_owned()
    }

    async fn names(&self) -> Vec<String> {
        let v = self.eval("return [...document.querySelectorAll('#grid .name')].map(e => e.textContent)").await;
        serde_json::from_value(v).unwrap()
    }

    /// Saves a screenshot as `<name>.png` in `ASSETLIB_UI_SCREENSHOTS`, when that is set (how the
    /// pictures under docs/ are made).
    async fn snapshot(&self, name: &str) {
        if let Some(dir) = std::env::var_os("ASSETLIB_UI_SCREENSHOTS") {
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png).unwrap();
        }
    }

    /// Checks the page as it is now against WCAG 2.1 A and AA with axe-core, and fails on any
    /// serious or critical violation (lesser ones are only said on stderr). axe comes in through
    /// WebDriver, which the page's Content-Security-Policy does not restrict; the server never
    /// serves it.
    async fn axe(&self, page: &str) {
        if self.eval("return typeof window.axe === 'object'").await != Value::Bool(true) {
            let axe = concat!(include_str!("vendor/axe-core/axe.min.js"), "\n;return typeof window.axe");
            let loaded = self.client.execute(axe, vec![]).await.unwrap_or_else(|e| panic!("loading axe: {e}"));
            assert_eq!(loaded, "object", "axe loaded on {page}");
        }
        let found = self
            .client
            .execute(
                r#"return axe.run(document, {
                    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
                    resultTypes: ['violations'],
                }).then(r => r.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary.replace(/\s*\n\s*/g, ' ')),
                })))"#,
                vec![],
            )
            .await
            .unwrap_or_else(|e| panic!("axe on {page}: {e}"));
        let mut serious = String::new();
        for v in found.as_array().expect("axe's violations") {
            let (id, impact, help) = (v["id"].as_str(), v["impact"].as_str(), v["help"].as_str());
            let mut line = format!("- {} ({}): {}\n", id.unwrap_or("?"), impact.unwrap_or("?"), help.unwrap_or("?"));
            for node in v["nodes"].as_array().into_iter().flatten() {
                line.push_str(&format!("    {}\n", node.as_str().unwrap_or("?")));
            }
            if matches!(impact, Some("serious" | "critical")) {
                serious.push_str(&line);
            } else {
                eprintln!("axe on {page}: {line}");
            }
        }
        assert!(serious.is_empty(), "axe on {page}: serious or critical WCAG 2.1 AA violations:\n{serious}");
    }

    /// Emulates `prefers-color-scheme: dark` (or stops emulating it) through chromedriver's
    /// Chrome DevTools Protocol endpoint; it lasts across page loads.
    async fn dark(&self, on: bool) {
        let scheme = if on { "dark" } else { "" };
        let params = json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme }] });
        self.client.issue_cmd(Cdp { cmd: "Emulation.setEmulatedMedia", params }).await.unwrap();
        let dark = self.eval("return matchMedia('(prefers-color-scheme: dark)').matches").await;
        assert_eq!(dark, Value::Bool(on), "the emulated colour scheme");
    }

    /// [`Browser::axe`] in the light theme and then in the dark one.
    async fn axe_both_themes(&self, page: &str) {
        self.axe(page).await;
        self.dark(true).await;
        self.axe(&format!("{page} (dark)")).await;
        self.dark(false).await;
    }

    async fn sign_in(&self, key: &str) {
        let input = self.client.find(Locator::Id("key")).await.unwrap();
        input.clear().await.unwrap();
        input.send_keys(key).await.unwrap();
        self.client.find(Locator::Css("#signin-form button[type=submit]")).await.unwrap().click().await.unwrap();
    }
}

#[ignore = "needs chromium and chromium-driver (.ci/run installs them)"]
#[tokio::test]
async fn sign_in_browse_and_sign_out_in_a_browser() {
    let Some(browser) = browser().await else { return };
    let app = TestApp::spawn().await;
    app.account(2).await;
    app.put(Some("brand"), "hero.png", picture(160)).await;
    let hostile = "<img src=x onerror=alert(1)>.png";
    app.put(None, hostile, common::png()).await;
    app.settle_jobs().await;

    // The page and its parts come with a policy that allows no inline script and no other origin.
    for path in ["/", "/ui/app.js", "/ui/app.css", "/ui/icon.svg", "/favicon.ico"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe") && !csp.contains("http"), "{csp}");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        assert_eq!(res.headers()["x-frame-options"], "DENY");
    }

    let b = &browser;
    b.client.goto(&app.url("/")).await.unwrap();
    b.until("the sign-in form", "return !document.getElementById('signin').hidden").await;
    assert!(!b.visible("library").await);
    b.axe_both_themes("the sign-in page").await;

    // A wrong key: the server's message in the alert region, and the form stays.
    b.sign_in("not-a-key").await;
    b.until("the refusal", "return document.getElementById('signin-error').textContent.length > 0").await;
    assert_eq!(b.text("signin-error").await, "Invalid API key.");
    assert_eq!(b.eval("return document.getElementById('signin-error').getAttribute('role')").await, "alert");
    assert!(b.visible("signin").await && !b.visible("library").await);
    b.snapshot("sign-in").await;
    b.axe_both_themes("the sign-in page with its refusal").await;

    // The right key: the first account's root folder.
    b.sign_in(&app.key).await;
    b.until("the library", "return !document.getElementById('library').hidden").await;
    b.until("the root folder", "return document.querySelectorAll('#grid .tile').length === 2").await;
    assert_eq!(b.text("folder-title").await, "Default");
    let mut names = b.names().await;
    names.sort();
    assert_eq!(names, [hostile.to_owned(), "brand".to_owned()]);
    b.snapshot("root").await;
    b.axe_both_themes("the root folder").await;
    // The name is text: no element was made from it, no script ran (an alert would fail the
    // next WebDriver command).
    assert_eq!(b.eval("return document.querySelectorAll('img[src=\"x\"]').length").await, 0);
    // A file without a thumbnail (this PNG cannot be decoded) gets its type's label, and no
    // rendition is asked for.
    assert_eq!(b.eval("return document.querySelectorAll('#grid img').length").await, 0);
    assert_eq!(b.eval("return document.querySelector('#grid li[data-kind=asset] .icon').textContent").await, "png");
    // The key is nowhere in the page, and scripts cannot read the session cookie.
    assert_eq!(b.eval(&format!("return document.documentElement.outerHTML.includes('{}')", app.key)).await, false);
    assert_eq!(b.eval("return document.getElementById('key').value").await, "");
    assert_eq!(b.eval("return document.cookie.includes('assetlib_session')").await, false);
    assert!(b.eval("return location.href").await.as_str().is_some_and(|u| !u.contains(&app.key)));

    // Into a folder: its own address, breadcrumbs, and the image's thumbnail rendition.
    b.client.find(Locator::Css("#grid li[data-kind=folder] a")).await.unwrap().click().await.unwrap();
    b.until("the brand folder", "return document.getElementById('folder-title').textContent === 'brand'").await;
    assert!(b.eval("return location.hash").await.as_str().is_some_and(|h| h == "#/1/brand"));
    b.until(
        "the thumbnail",
        "const img = document.querySelector('#grid img'); return !!img && img.complete && img.naturalWidth > 0",
    )
    .await;
    let src = b.eval("return document.querySelector('#grid img').getAttribute('src')").await;
    assert!(src.as_str().is_some_and(|s| s.ends_with("/content?version=thumbnail")), "{src}");
    assert_eq!(b.names().await, ["hero.png"]);
    b.snapshot("folder").await;
    b.axe_both_themes("a folder with a thumbnail").await;
    let crumbs = b.eval("return [...document.querySelectorAll('#crumbs li')].map(e => e.textContent)").await;
    assert_eq!(crumbs, json!(["Default", "brand"]));

    // The asset's panel: its own address, a preview from a rendition, every attribute and
    // version as text, the public URL, and a signed link that serves the bytes to anyone.
    b.client.find(Locator::Css("#grid li[data-kind=asset] a")).await.unwrap().click().await.unwrap();
    b.until("the panel", "return !document.getElementById('panel').hidden && document.getElementById('panel-title').textContent === 'hero.png'").await;
    let hash = b.eval("return location.hash").await;
    assert!(hash.as_str().is_some_and(|h| h.starts_with("#/1/brand?asset=")), "{hash}");
    b.until(
        "the preview",
        "const img = document.querySelector('#preview img'); return !!img && img.complete && img.naturalWidth > 0",
    )
    .await;
    let src = b.eval("return document.querySelector('#preview img').getAttribute('src')").await;
    assert!(src.as_str().is_some_and(|s| s.ends_with("/content?version=web")), "never the original: {src}");
    let facts = b.eval("return [...document.querySelectorAll('#facts dt')].map(e => e.textContent)").await;
    for term in ["Folder", "Type", "Size", "Tags", "Version: original", "Version: thumbnail", "Version: web"] {
        assert!(facts.as_array().unwrap().iter().any(|t| t == term), "{term} in {facts}");
    }
    b.axe_both_themes("the asset panel").await;
    let public = b.eval("return document.getElementById('public-url').value").await;
    assert!(public.as_str().is_some_and(|u| u.ends_with("/files/1/brand/hero.png")), "{public}");
    b.client.find(Locator::Css("#link-disposition option[value=attachment]")).await.unwrap().click().await.unwrap();
    b.client.find(Locator::Css("#link-form button")).await.unwrap().click().await.unwrap();
    b.until("the signed link", "return !document.getElementById('signed-line').hidden").await;
    let signed = b.eval("return document.getElementById('signed-url').value").await;
    let signed = signed.as_str().unwrap().to_owned();
    assert!(signed.contains("/signed/"), "{signed}");
    let res = reqwest::get(&signed).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    assert_eq!(res.bytes().await.unwrap().to_vec(), picture(160));
    b.snapshot("asset").await;
    // The panel has scrolled to the link: axe cannot see its title's colours now.
    b.axe_both_themes("the asset panel with a signed link").await;
    // Escape closes it; the folder stays.
    b.client.find(Locator::Id("panel-close")).await.unwrap().send_keys("\u{e00c}").await.unwrap();
    b.until("the panel closed", "return document.getElementById('panel').hidden").await;
    assert_eq!(b.eval("return location.hash").await, "#/1/brand");
    assert_eq!(b.names().await, ["hero.png"]);

    // A search of the folder: its own address (kept on reload), results as tiles, an empty
    // result said so.
    let q = b.client.find(Locator::Id("q")).await.unwrap();
    q.send_keys("HER").await.unwrap();
    b.client.find(Locator::Css("#search-form button")).await.unwrap().click().await.unwrap();
    b.until("the results", "return document.getElementById('folder-title').textContent.startsWith('Results for')")
        .await;
    assert_eq!(b.eval("return location.hash").await, "#/1/brand?q=HER");
    b.until("one result", "return document.querySelectorAll('#grid .tile').length === 1").await;
    assert_eq!(b.names().await, ["hero.png"]);
    b.snapshot("search").await;
    b.axe_both_themes("search results").await;
    b.client.goto(&app.url("/#/1?q=%3Cimg")).await.unwrap();
    b.client.refresh().await.unwrap();
    b.until("the results from the root", "return document.querySelectorAll('#grid .tile').length === 1").await;
    assert_eq!(b.names().await, [hostile]);
    assert_eq!(b.eval("return document.getElementById('q').value").await, "<img");
    b.client.find(Locator::Css("#grid li[data-kind=asset] a")).await.unwrap().click().await.unwrap();
    b.until("the hostile asset's panel", "return !document.getElementById('panel').hidden && document.getElementById('panel-title').textContent.length > 0").await;
    assert_eq!(b.text("panel-title").await, hostile);
    assert_eq!(
        b.eval("return document.querySelector('#preview .icon').textContent").await,
        "png",
        "no rendition: its type"
    );
    assert_eq!(b.eval("return document.querySelectorAll('img[src=\"x\"]').length").await, 0);
    b.client.goto(&app.url("/#/1/brand?q=nothing-like-it")).await.unwrap();
    b.until("no result", "return document.getElementById('status').textContent.startsWith('Nothing here matches')")
        .await;
    assert_eq!(b.eval("return document.querySelectorAll('#grid .tile').length").await, 0);

    // An account the key does not reach shows nothing of it.
    b.client.goto(&app.url("/#/2")).await.unwrap();
    b.until("the refusal", "return document.getElementById('folder-title').textContent === 'Not found'").await;
    assert_eq!(b.eval("return document.querySelectorAll('#grid .tile').length").await, 0);

    // Signing out ends the session on the server: a reload asks to sign in again.
    b.client.find(Locator::Id("sign-out")).await.unwrap().click().await.unwrap();
    b.until("the sign-in form", "return !document.getElementById('signin').hidden").await;
    b.client.refresh().await.unwrap();
    b.until("the sign-in form after a reload", "return !document.getElementById('signin').hidden").await;
    assert!(!b.visible("library").await);
    b.no_console_errors("at the end").await;
    browser.client.clone().close().await.unwrap();
}

#[ignore = "needs chromium and chromium-driver (.ci/run installs them)"]
#[tokio::test]
async fn upload_files_a_folder_and_a_zip_in_a_browser() {
    let Some(browser) = browser().await else { return };
    let app = TestApp::spawn().await;
    let b = &browser;
    b.client.goto(&app.url("/")).await.unwrap();
    b.until("the sign-in form", "return !document.getElementById('signin').hidden").await;
    b.sign_in(&app.key).await;
    b.until("the library", "return !document.getElementById('library').hidden").await;

    // Files, one of them refused by the server, and a zip: each with its progress and state,
    // the server's own message for the refused one, and the zip's expansion followed.
    let dir = tempfile::tempdir().unwrap();
    let zip = common::zip_of(&[("z1.txt", b"one"), ("sub/z2.txt", b"two")]);
    let files: [(&str, Vec<u8>); 4] =
        [("a.txt", b"hello".to_vec()), ("b.png", common::real_png()), ("evil.exe", b"MZ".to_vec()), ("batch.zip", zip)];
    let mut paths = vec![];
    for (name, bytes) in &files {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        paths.push(path.display().to_string());
    }
    b.client.find(Locator::Id("files")).await.unwrap().send_keys(&paths.join("\n")).await.unwrap();
    b.until("every upload", "return document.getElementById('upload-summary').textContent === '4 of 4 done, 1 failed'")
        .await;
    let states = b.eval("return [...document.querySelectorAll('#uploads li')].map(li => [li.querySelector('.file').textContent, li.querySelector('.state').textContent])").await;
    let state_of = |name: &str| {
        states.as_array().unwrap().iter().find(|s| s[0] == name).map(|s| s[1].as_str().unwrap().to_owned()).unwrap()
    };
    assert_eq!(state_of("a.txt"), "Uploaded");
    assert!(state_of("evil.exe").contains("is not allowed"), "{states}");
    assert!(state_of("batch.zip").starts_with("Expanded: 2 of 2 files"), "{states}");
    assert_eq!(
        b.eval("return document.querySelectorAll('#uploads button').length").await,
        1,
        "a retry for the refused one"
    );
    b.until(
        "the folder reloaded",
        "const n = [...document.querySelectorAll('#grid .name')].map(e => e.textContent); return ['a.txt', 'b.png', 'z1.txt', 'sub'].every(x => n.includes(x))",
    )
    .await;
    assert!(!b.names().await.contains(&"evil.exe".to_owned()));
    b.snapshot("upload").await;
    b.axe_both_themes("the uploads panel").await;
    let api = common::native::Api { app: &app };
    let (status, page) = api.get(&app.key, "/api/v1/accounts/1/assets?pathPrefix=sub").await;
    assert_eq!((status, page["items"][0]["name"].as_str()), (200, Some("z2.txt")), "{page}");

    // A whole folder keeps its structure below the folder it is dropped in.
    let pack = dir.path().join("pack");
    std::fs::create_dir_all(pack.join("deep")).unwrap();
    std::fs::write(pack.join("x.txt"), b"x").unwrap();
    std::fs::write(pack.join("deep").join("y.txt"), b"y").unwrap();
    b.client.find(Locator::Id("folder-files")).await.unwrap().send_keys(&pack.display().to_string()).await.unwrap();
    b.until(
        "the folder's files",
        "return document.getElementById('upload-summary').textContent === '6 of 6 done, 1 failed'",
    )
    .await;
    let (status, page) = api.get(&app.key, "/api/v1/accounts/1/assets?pathPrefix=pack&sort=name").await;
    let keys: Vec<&str> = page["items"].as_array().unwrap().iter().map(|a| a["key"].as_str().unwrap()).collect();
    assert_eq!((status, keys), (200, vec!["pack/x.txt", "pack/deep/y.txt"]), "{page}");
    b.no_console_errors("at the end").await;
    browser.client.clone().close().await.unwrap();
}

/// Small steps of the tests below.
impl Browser {
    async fn click(&self, css: &str) {
        self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).click().await.unwrap();
    }

    /// Replaces what the field `css` holds with `text`, as typed.
    async fn fill(&self, css: &str, text: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    async fn hash(&self) -> String {
        self.eval("return decodeURIComponent(location.hash)").await.as_str().unwrap().to_owned()
    }

    /// Waits until the listing shows exactly these names (in this order).
    async fn until_names(&self, names: &[&str]) {
        let want = serde_json::to_string(names).unwrap();
        self.until(
            &format!("the names {want}"),
            &format!(
                "return document.getElementById('status').textContent !== 'Loading…' && JSON.stringify([...document.querySelectorAll('#grid .name')].map(e => e.textContent)) === '{want}'"
            ),
        )
        .await;
    }

    /// Answers the page's question dialog with `text` (None: only confirm).
    async fn answer(&self, text: Option<&str>) {
        self.until("the question", "return document.getElementById('ask').open").await;
        if let Some(text) = text {
            self.fill("#ask-input", text).await;
        }
        self.click("#ask-ok").await;
        self.until("the question closed", "return !document.getElementById('ask').open").await;
    }
}

/// A 480×320 picture (a gradient with a sun), so that thumbnails and previews look like the
/// real thing in the screenshots.
fn picture(hue: u8) -> Vec<u8> {
    let (w, h) = (480u32, 320u32);
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (x as i64 - 330, y as i64 - 110);
        if dx * dx + dy * dy < 55 * 55 {
            return image::Rgb([255, 214, 102]);
        }
        let t = y as f32 / h as f32;
        let ground = y > 230 + (x as f32 / 40.0).sin() as u32 * 8;
        if ground {
            image::Rgb([40, (120.0 + 60.0 * t) as u8, hue / 2])
        } else {
            image::Rgb([(hue as f32 * (1.0 - t)) as u8, (90.0 + 100.0 * t) as u8, (200.0 + 55.0 * t) as u8])
        }
    });
    let mut out = std::io::Cursor::new(vec![]);
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Uploads `bytes` as `key` into account 1 through the native API; the new asset's id.
async fn upload_native(app: &TestApp, key: &str, bytes: Vec<u8>) -> String {
    let res = app
        .client
        .post(app.url(&format!("/api/v1/accounts/1/assets?key={key}")))
        .header("authorization", format!("Bearer {}", app.key))
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{key}");
    res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

#[ignore = "needs chromium and chromium-driver (.ci/run installs them)"]
#[tokio::test]
async fn find_edit_select_and_manage_in_a_browser() {
    let Some(browser) = browser().await else { return };
    let app = TestApp::spawn().await;
    let api = common::native::Api { app: &app };
    let hero = upload_native(&app, "brand/hero.png", picture(90)).await;
    let logo = upload_native(&app, "brand/logo.png", common::png()).await;
    let notes = upload_native(&app, "brand/notes.txt", "notes ".repeat(20_000).into_bytes()).await;
    upload_native(&app, "other/readme.txt", b"x".to_vec()).await;
    let (status, summer) =
        api.send(&app.key, reqwest::Method::POST, "/api/v1/accounts/1/collections", json!({ "name": "Summer" })).await;
    assert_eq!(status, 201, "{summer}");
    let summer = summer["id"].as_str().unwrap().to_owned();
    app.settle_jobs().await;

    let b = &browser;
    b.client.goto(&app.url("/#/1/brand")).await.unwrap();
    b.until("the sign-in form", "return !document.getElementById('signin').hidden").await;
    b.sign_in(&app.key).await;
    b.until_names(&["hero.png", "logo.png", "notes.txt"]).await;

    // The keyboard alone: a search by Enter, an asset opened by Enter on its tile, the panel
    // closed by Escape, assets selected by Space (Shift+Space for a range).
    let q = b.client.find(Locator::Id("q")).await.unwrap();
    q.send_keys(&format!("HER{}", Key::Enter)).await.unwrap();
    b.until_names(&["hero.png"]).await;
    let tile = b.client.find(Locator::Css("#grid li[data-kind=asset] a")).await.unwrap();
    tile.send_keys(&Key::Enter.to_string()).await.unwrap();
    b.until("the panel", "return document.getElementById('panel-title').textContent === 'hero.png'").await;
    assert_eq!(b.eval("return document.activeElement.id").await, "panel-close", "focus moves into the panel");
    b.client.active_element().await.unwrap().send_keys(&Key::Escape.to_string()).await.unwrap();
    b.until("the panel closed", "return document.getElementById('panel').hidden").await;
    b.client.goto(&app.url("/#/1/brand")).await.unwrap();
    b.until_names(&["hero.png", "logo.png", "notes.txt"]).await;
    let boxes = b.client.find_all(Locator::Css("#grid .pick-box")).await.unwrap();
    boxes[0].send_keys(" ").await.unwrap();
    boxes[2].send_keys(&format!("{} ", Key::Shift)).await.unwrap();
    b.until("three selected", "return document.getElementById('selection-count').textContent === '3 selected'").await;
    b.client.find(Locator::Id("select-none")).await.unwrap().send_keys(&Key::Enter.to_string()).await.unwrap();
    b.until("none selected", "return document.getElementById('selection').hidden").await;

    // The folder tree: the account's top folders, the open one marked; a click opens another.
    b.until("the tree", "return document.querySelector('#tree li[data-path=\"brand\"] a[aria-current=page]') !== null")
        .await;
    let top = b
        .eval("return [...document.querySelectorAll('#tree > li > ul > li > .tree-row a')].map(a => a.textContent)")
        .await;
    assert_eq!(top, json!(["brand", "other"]));
    b.click("#tree li[data-path=\"other\"] > .tree-row a").await;
    b.until_names(&["readme.txt"]).await;
    assert_eq!(b.hash().await, "#/1/other");
    b.client.back().await.unwrap();
    b.until_names(&["hero.png", "logo.png", "notes.txt"]).await;

    // Edit in the panel: tags, SKUs, metadata, a collection, approval and a licence date; the
    // API then holds them.
    b.click(&format!("#grid li[data-id=\"{hero}\"] a")).await;
    b.until("the edit form", "return !document.getElementById('edit-form').hidden && document.getElementById('edit-tags') !== null && document.getElementById('rename-key').value === 'brand/hero.png'").await;
    b.fill("#edit-tags", "summer, Hero").await;
    b.fill("#edit-skus", "SKU-1").await;
    b.fill("#edit-metadata", "colour: Red\nchannel: web").await;
    b.click(&format!("#edit-collections input[value=\"{summer}\"]")).await;
    b.click("#edit-approved").await;
    b.eval("document.getElementById('edit-license').value = '2030-01-31T12:00'; return true").await;
    b.click("#edit-form button[type=submit]").await;
    b.until("saved", "return document.getElementById('panel-status').textContent === 'Saved.'").await;
    let (_, got) = api.get(&app.key, &format!("/api/v1/accounts/1/assets/{hero}")).await;
    assert_eq!(got["tags"], json!(["summer", "Hero"]), "{got}");
    assert_eq!(got["skus"], json!(["SKU-1"]));
    assert_eq!(got["metadata"], json!({ "colour": "Red", "channel": "web" }));
    assert_eq!(got["collectionIds"], json!([summer]));
    assert!(got["approvedAt"].is_string() && got["archivedAt"].is_null(), "{got}");
    assert!(got["licenseExpiresAt"].as_str().is_some_and(|t| t.starts_with("2030-01-31")), "{got}");
    b.snapshot("asset-edit").await;
    b.axe("the asset panel with its edit form").await;
    // A metadata line that is not "key: value" is refused in the page and sends nothing.
    b.fill("#edit-metadata", "no colon here").await;
    b.click("#edit-form button[type=submit]").await;
    b.until(
        "the refusal",
        "return document.getElementById('panel-status').textContent.includes('is not “key: value”')",
    )
    .await;
    assert_eq!(api.get(&app.key, &format!("/api/v1/accounts/1/assets/{hero}")).await.1["metadata"], got["metadata"]);
    // Favourite is the caller's own.
    b.click("#favorite").await;
    b.until("the favourite", "return document.getElementById('favorite').getAttribute('aria-pressed') === 'true'")
        .await;
    b.click("#panel-close").await;
    b.until("the panel closed", "return document.getElementById('panel').hidden").await;

    // Filter chips: each one in the address, combinable, removable; the address reloads to the
    // same search.
    b.eval("const s = document.getElementById('filter-kind'); s.value = 'tag'; s.dispatchEvent(new Event('change')); return true").await;
    b.fill("#filter-value", "summer").await;
    b.click("#filter-form button[type=submit]").await;
    b.until_names(&["hero.png"]).await;
    b.eval("const s = document.getElementById('filter-kind'); s.value = 'meta'; s.dispatchEvent(new Event('change')); return true").await;
    b.fill("#filter-meta-key", "colour").await;
    b.fill("#filter-value", "red").await;
    b.click("#filter-form button[type=submit]").await;
    b.until("two chips", "return document.querySelectorAll('#chips .chip').length === 2").await;
    b.until_names(&["hero.png"]).await;
    assert_eq!(b.hash().await, "#/1/brand?tag=summer&meta.colour=red");
    b.eval("const s = document.getElementById('filter-kind'); s.value = 'favoriteBy'; s.dispatchEvent(new Event('change')); return true").await;
    b.click("#filter-form button[type=submit]").await;
    b.until("three chips", "return document.querySelectorAll('#chips .chip').length === 3").await;
    b.until_names(&["hero.png"]).await;
    b.client.refresh().await.unwrap();
    b.until("the chips after a reload", "return document.querySelectorAll('#chips .chip').length === 3").await;
    b.until_names(&["hero.png"]).await;
    assert_eq!(b.eval("return document.getElementById('sort').value").await, "-createdAt", "a search's own order");
    let chips = b.eval("return [...document.querySelectorAll('#chips .chip-label')].map(e => e.textContent)").await;
    assert_eq!(chips, json!(["Tag: summer", "Metadata: colour = red", "My favourites"]));
    b.snapshot("filters").await;
    b.axe("search with filter chips").await;
    // Approved: no matches nothing; removing every chip brings back the folder.
    b.client.goto(&app.url("/#/1/brand?approved=false&tag=summer")).await.unwrap();
    b.until("no result", "return document.getElementById('status').textContent.startsWith('Nothing here matches')")
        .await;
    b.click("#chips button[aria-label^='Remove filter Approved']").await;
    b.until_names(&["hero.png"]).await;
    b.click("#chips .chip-remove").await;
    b.until_names(&["hero.png", "logo.png", "notes.txt"]).await;
    // The owner-only filters are offered to owners (this key is one).
    let kinds = b.eval("return [...document.querySelectorAll('#filter-kind option')].map(o => o.value)").await;
    for kind in [
        "tag",
        "sku",
        "meta",
        "collectionId",
        "contentType",
        "approved",
        "favoriteBy",
        "createdMin",
        "createdMax",
        "batchId",
        "path",
        "id",
        "sensitive",
        "archived",
        "licenseExpired",
    ] {
        assert!(kinds.as_array().unwrap().iter().any(|k| k == kind), "{kind} in {kinds}");
    }

    // Sort and list view, both in the address.
    b.eval("const s = document.getElementById('sort'); s.value = '-size'; s.dispatchEvent(new Event('change')); return true").await;
    let (_, by_size) = api.get(&app.key, "/api/v1/accounts/1/assets?path=brand&sort=-size").await;
    let by_size: Vec<&str> = by_size["items"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_ne!(by_size, ["hero.png", "logo.png", "notes.txt"], "the sizes tell the sorts apart");
    b.until_names(&by_size).await;
    assert_eq!(b.hash().await, "#/1/brand?sort=-size");
    b.click("#layout-list").await;
    b.until("the list", "return document.getElementById('grid').classList.contains('list')").await;
    assert_eq!(b.hash().await, "#/1/brand?sort=-size&view=list");
    b.snapshot("list").await;
    b.axe("the list view").await;
    b.click("#layout-grid").await;
    b.eval(
        "const s = document.getElementById('sort'); s.value = 'name'; s.dispatchEvent(new Event('change')); return true",
    )
    .await;
    b.until_names(&["hero.png", "logo.png", "notes.txt"]).await;

    // Multi-select: a checkbox, then Shift-click for a range and Ctrl-click to take one out;
    // tags added to all; moved; then deleted (their public URLs are then 404).
    b.click(&format!("#grid li[data-id=\"{hero}\"] .pick-box")).await;
    b.eval(&format!(
        "document.querySelector('#grid li[data-id=\"{notes}\"] a').dispatchEvent(new MouseEvent('click', {{ shiftKey: true, bubbles: true, cancelable: true }})); return true"
    ))
    .await;
    b.until("three selected", "return document.getElementById('selection-count').textContent === '3 selected'").await;
    b.eval(&format!(
        "document.querySelector('#grid li[data-id=\"{hero}\"] a').dispatchEvent(new MouseEvent('click', {{ ctrlKey: true, bubbles: true, cancelable: true }})); return true"
    ))
    .await;
    b.until("two selected", "return document.getElementById('selection-count').textContent === '2 selected'").await;
    assert_eq!(b.hash().await, "#/1/brand", "a modified click selects, it does not open");
    b.snapshot("selection").await;
    b.axe("a selection").await;
    b.click("[data-bulk=tag]").await;
    b.answer(Some("bulk, Hero")).await;
    b.until("the tags added", "return document.getElementById('status').textContent.startsWith('2 changed')").await;
    for id in [&logo, &notes] {
        let (_, got) = api.get(&app.key, &format!("/api/v1/accounts/1/assets/{id}")).await;
        assert_eq!(got["tags"], json!(["bulk", "Hero"]), "{got}");
    }
    assert_eq!(
        api.get(&app.key, &format!("/api/v1/accounts/1/assets/{hero}")).await.1["tags"],
        json!(["summer", "Hero"])
    );
    b.click(&format!("#grid li[data-id=\"{logo}\"] .pick-box")).await;
    b.click(&format!("#grid li[data-id=\"{notes}\"] .pick-box")).await;
    b.until("two selected", "return document.getElementById('selection-count').textContent === '2 selected'").await;
    b.click("[data-bulk=move]").await;
    b.answer(Some("moved/here")).await;
    b.until_names(&["hero.png"]).await;
    let (_, moved) = api.get(&app.key, "/api/v1/accounts/1/assets?pathPrefix=moved&sort=name").await;
    let keys: Vec<&str> = moved["items"].as_array().unwrap().iter().map(|a| a["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["moved/here/logo.png", "moved/here/notes.txt"]);
    assert_eq!(app.client.get(app.url("/files/1/brand/logo.png")).send().await.unwrap().status(), 404);
    assert_eq!(app.client.get(app.url("/files/1/moved/here/logo.png")).send().await.unwrap().status(), 200);
    b.client.goto(&app.url("/#/1/moved/here")).await.unwrap();
    b.until_names(&["logo.png", "notes.txt"]).await;
    b.click("#grid li[data-kind=asset] .pick-box").await;
    b.click("#select-all").await;
    b.until("two selected", "return document.getElementById('selection-count').textContent === '2 selected'").await;
    b.click("[data-bulk=delete]").await;
    b.answer(None).await;
    b.until("the folder emptied", "return document.getElementById('status').textContent.startsWith('2 changed')").await;
    assert_eq!(b.eval("return document.querySelectorAll('#grid .tile').length").await, 0);
    assert_eq!(app.client.get(app.url("/files/1/moved/here/notes.txt")).send().await.unwrap().status(), 404);

    // Rename, copy and delete one asset from its panel.
    b.client.goto(&app.url(&format!("/#/1/brand?asset={hero}"))).await.unwrap();
    b.until("the rename form", "return document.getElementById('rename-key').value === 'brand/hero.png'").await;
    b.fill("#copy-key-to", "brand/hero-copy.png").await;
    b.click("#copy-form button[type=submit]").await;
    b.until(
        "the copy",
        "return document.getElementById('panel-status').textContent === 'Copied to brand/hero-copy.png.'",
    )
    .await;
    b.fill("#rename-key", "brand/hero-final.png").await;
    b.click("#rename-form button[type=submit]").await;
    b.until_names(&["hero-copy.png", "hero-final.png"]).await;
    assert_eq!(app.client.get(app.url("/files/1/brand/hero-final.png")).send().await.unwrap().status(), 200);
    b.click("#delete-asset").await;
    b.answer(None).await;
    b.until_names(&["hero-copy.png"]).await;
    assert_eq!(app.client.get(app.url("/files/1/brand/hero-final.png")).send().await.unwrap().status(), 404);

    // Collections: made in the page, listed with their count, a link to their assets.
    b.click("#nav-collections").await;
    b.until("the collections", "return !document.getElementById('collections').hidden && document.querySelectorAll('#collection-rows tr').length === 1").await;
    b.fill("#collection-name", "Autumn <b>sale</b>").await;
    b.fill("#collection-description", "Banners for the autumn").await;
    b.click("#collection-form button[type=submit]").await;
    b.until("the new collection", "return document.querySelectorAll('#collection-rows tr').length === 2").await;
    let (_, list) = api.get(&app.key, "/api/v1/accounts/1/collections").await;
    let names: Vec<&str> = list["items"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"Autumn <b>sale</b>"), "{list}");
    assert_eq!(b.eval("return document.querySelectorAll('#collection-rows b').length").await, 0, "names are text");
    b.snapshot("collections").await;
    b.axe("the collections page").await;

    // API keys (owners): the new key is shown once and works; revoked, it stops working.
    b.click("#nav-keys").await;
    b.until(
        "the keys",
        "return !document.getElementById('keys').hidden && document.querySelectorAll('#key-rows tr').length === 1",
    )
    .await;
    b.fill("#key-name", "build server").await;
    b.click("#key-read-only").await;
    b.click("#key-form button[type=submit]").await;
    b.until("the secret", "return !document.getElementById('key-secret').hidden").await;
    let secret = b.eval("return document.getElementById('key-secret-value').value").await.as_str().unwrap().to_owned();
    let (status, me) = api.get(&secret, "/api/v1/me").await;
    assert_eq!(status, 200, "{me}");
    let (status, _) =
        api.send(&secret, reqwest::Method::POST, "/api/v1/accounts/1/folders", json!({ "path": "nope" })).await;
    assert_eq!(status, 403, "the key is read-only");
    b.snapshot("keys").await;
    b.axe("the API keys page").await;
    b.click("#key-secret-done").await;
    let shown = format!(
        "return document.documentElement.outerHTML.includes('{secret}') || document.getElementById('key-secret-value').value !== ''"
    );
    assert_eq!(b.eval(&shown).await, false, "the secret is gone from the page");
    b.until("two keys", "return document.querySelectorAll('#key-rows tr').length === 2").await;
    b.click("#key-rows button[aria-label='Revoke build server']").await;
    b.answer(None).await;
    b.until("one key", "return document.querySelectorAll('#key-rows tr').length === 1").await;
    assert_eq!(api.get(&secret, "/api/v1/me").await.0, 401);

    // A font's preview is a specimen set in the font itself (a font of the system's, where one
    // is installed: Chromium's packages pull DejaVu in).
    let font = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).is_file());
    match font {
        Some(path) => {
            let id = upload_native(&app, "fonts/sans.ttf", std::fs::read(path).unwrap()).await;
            b.client.goto(&app.url(&format!("/#/1/fonts?asset={id}"))).await.unwrap();
            b.until("the specimen", "return document.querySelectorAll('#preview .specimen p').length === 3").await;
            let family =
                b.eval("return getComputedStyle(document.querySelector('#preview .specimen')).fontFamily").await;
            assert!(family.as_str().is_some_and(|f| f.contains("assetlib-specimen")), "{family}");
            assert_eq!(b.eval("return [...document.fonts].some(f => f.family.startsWith('assetlib-specimen') && f.status === 'loaded')").await, true);
        }
        None => eprintln!("skipped the font preview: no DejaVu or Liberation font is installed"),
    }

    // The dark theme follows the system's; at a phone's width the tree goes above the listing
    // and nothing is wider than the screen.
    b.client.goto(&app.url("/#/1/brand?view=list")).await.unwrap();
    b.until_names(&["hero-copy.png"]).await;
    b.dark(true).await;
    b.snapshot("dark").await;
    b.dark(false).await;
    b.client.set_window_size(390, 844).await.unwrap();
    b.client.goto(&app.url("/#/1/brand")).await.unwrap();
    b.until_names(&["hero-copy.png"]).await;
    assert_eq!(
        b.eval("return document.documentElement.scrollWidth <= window.innerWidth").await,
        true,
        "no sideways scrolling"
    );
    b.snapshot("phone").await;
    b.axe_both_themes("a phone's width").await;
    b.client.set_window_size(1280, 900).await.unwrap();

    // A viewer sees no edit controls, no owner-only filters and no keys page.
    let viewer = app.user(1, Role::Viewer).await;
    b.click("#sign-out").await;
    b.until("the sign-in form", "return !document.getElementById('signin').hidden").await;
    b.client.goto(&app.url(&format!("/#/1/brand?asset={}", "x"))).await.unwrap();
    b.sign_in(&viewer).await;
    b.until("the panel", "return document.getElementById('panel-title').textContent === 'Not found'").await;
    assert!(!b.visible("edit-form").await && !b.visible("delete-asset").await);
    assert!(!b.visible("nav-keys").await && !b.visible("new-folder").await);
    let kinds = b.eval("return [...document.querySelectorAll('#filter-kind option')].map(o => o.value)").await;
    assert!(!kinds.as_array().unwrap().iter().any(|k| k == "archived" || k == "sensitive"), "{kinds}");
    b.no_console_errors("at the end").await;
    browser.client.clone().close().await.unwrap();
}
