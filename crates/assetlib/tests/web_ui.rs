//! The web UI (SPEC 8) in a real browser: Debian's `chromium`, headless, driven through
//! `chromedriver` (WebDriver) against a real server. Without chromedriver on the PATH these
//! tests say so and stop (under CI they fail instead); `.ci/run` installs both.

mod common;

use common::TestApp;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
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
    let client = ClientBuilder::rustls()
        .expect("a WebDriver client")
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session");
    Some(Browser { client, driver, _profile: profile })
}

impl Browser {
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
    app.put(Some("brand"), "hero.png", common::real_png()).await;
    let hostile = "<img src=x onerror=alert(1)>.png";
    app.put(None, hostile, common::png()).await;
    app.settle_jobs().await;

    // The page and its parts come with a policy that allows no inline script and no other origin.
    for path in ["/", "/ui/app.js", "/ui/app.css"] {
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

    // A wrong key: the server's message in the alert region, and the form stays.
    b.sign_in("not-a-key").await;
    b.until("the refusal", "return document.getElementById('signin-error').textContent.length > 0").await;
    assert_eq!(b.text("signin-error").await, "Invalid API key.");
    assert_eq!(b.eval("return document.getElementById('signin-error').getAttribute('role')").await, "alert");
    assert!(b.visible("signin").await && !b.visible("library").await);
    b.snapshot("sign-in").await;

    // The right key: the first account's root folder.
    b.sign_in(&app.key).await;
    b.until("the library", "return !document.getElementById('library').hidden").await;
    b.until("the root folder", "return document.querySelectorAll('#grid .tile').length === 2").await;
    assert_eq!(b.text("folder-title").await, "Default");
    let mut names = b.names().await;
    names.sort();
    assert_eq!(names, [hostile.to_owned(), "brand".to_owned()]);
    b.snapshot("root").await;
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
    assert_eq!(res.bytes().await.unwrap().to_vec(), common::real_png());
    b.snapshot("asset").await;
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
    browser.client.clone().close().await.unwrap();
}
