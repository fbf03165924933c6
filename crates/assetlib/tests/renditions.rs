//! Renditions (SPEC section 6) end to end: upload, wait for the render job, fetch each version
//! through every route that serves one (native content, public files, signed links, Hivo's
//! download and `includeThumbnails`), decode it and check its size; copies share them,
//! replacing regenerates them, deleting removes them, and a file that cannot be decoded stays
//! a valid asset. On PostgreSQL + S3 too where configured.

mod common;

use common::TestApp;
use serde_json::{Value, json};
use std::time::Duration;

/// A photo-like JPEG of `w` x `h` (gradients, so that it compresses like one).
fn jpeg(w: u16, h: u16) -> Vec<u8> {
    let mut pixels = Vec::with_capacity(usize::from(w) * usize::from(h) * 3);
    for y in 0..usize::from(h) {
        for x in 0..usize::from(w) {
            pixels.extend_from_slice(&[(x * 255 / usize::from(w)) as u8, (y * 255 / usize::from(h)) as u8, 90]);
        }
    }
    let mut out = vec![];
    jpeg_encoder::Encoder::new(&mut out, 85).encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb).unwrap();
    out
}

/// A PNG of `w` x `h` whose left half is transparent.
fn png_with_alpha(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(w, h, |x, _| image::Rgba([200, 30, 30, if x < w / 2 { 0 } else { 255 }]));
    let mut out = std::io::Cursor::new(vec![]);
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// The format and size of encoded image bytes.
fn decoded(bytes: &[u8]) -> (&'static str, u32, u32) {
    if bytes.starts_with(&[0xff, 0xd8]) {
        let mut d = jpeg_decoder::Decoder::new(bytes);
        d.decode().expect("a whole JPEG");
        let info = d.info().unwrap();
        return ("jpeg", u32::from(info.width), u32::from(info.height));
    }
    let img = image::load_from_memory(bytes).expect("a decodable image");
    let format = match image::guess_format(bytes).unwrap() {
        image::ImageFormat::Png => "png",
        image::ImageFormat::WebP => "webp",
        other => panic!("unexpected format {other:?}"),
    };
    (format, img.width(), img.height())
}

async fn put(app: &TestApp, key: &str, bytes: &[u8]) -> Value {
    let res = app
        .client
        .post(app.url(&format!("/api/v1/accounts/1/assets?key={key}")))
        .header("authorization", format!("Bearer {}", app.key))
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{key}: {}", res.status());
    res.json().await.unwrap()
}

async fn native(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).header("authorization", format!("Bearer {}", app.key)).send().await.unwrap()
}

/// The asset once its render job has run: polls until `versions` has `thumbnail`.
async fn rendered(app: &TestApp, id: &str) -> Value {
    for _ in 0..600 {
        let asset: Value = native(app, &format!("/api/v1/accounts/1/assets/{id}")).await.json().await.unwrap();
        if asset["versions"].get("thumbnail").is_some() {
            return asset;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("asset {id} got no renditions within a minute");
}

/// Waits until no render job is left, and returns the asset as it is then.
async fn settled(app: &TestApp, id: &str) -> Value {
    for _ in 0..600 {
        if app.lib().failed_jobs(None, 1).await.unwrap().is_empty() && !render_pending(app).await {
            return native(app, &format!("/api/v1/accounts/1/assets/{id}")).await.json().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("render jobs still pending after a minute");
}

async fn render_pending(app: &TestApp) -> bool {
    app.lib().unfinished_jobs().await.unwrap() > 0
}

/// A client that follows redirects, as a Hivo client does with a download's answer.
fn follower() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::limited(3)).build().unwrap()
}

#[tokio::test]
async fn an_image_gets_a_thumbnail_and_a_web_version_on_every_route() {
    let app = TestApp::spawn().await;
    let uploaded = put(&app, "photos/sunset.jpg", &jpeg(2000, 1000)).await;
    let id = uploaded["id"].as_str().unwrap();
    let asset = rendered(&app, id).await;
    let v = &asset["versions"];
    assert_eq!(v["original"]["width"], 2000, "{asset}");
    assert_eq!(v["original"]["height"], 1000);
    assert_eq!((v["thumbnail"]["width"].as_u64(), v["thumbnail"]["height"].as_u64()), (Some(256), Some(128)));
    assert_eq!((v["web"]["width"].as_u64(), v["web"]["height"].as_u64()), (Some(1600), Some(800)));
    assert_eq!(v["thumbnail"]["contentType"], "image/jpeg");

    // Native content: each version decodes to its recorded size, with its own validators.
    let mut etags = vec![];
    for (version, w, h) in [("original", 2000, 1000), ("thumbnail", 256, 128), ("web", 1600, 800)] {
        let res = native(&app, &format!("/api/v1/accounts/1/assets/{id}/content?version={version}")).await;
        assert_eq!(res.status(), 200, "{version}");
        assert_eq!(res.headers()["content-type"], "image/jpeg");
        etags.push(res.headers()["etag"].to_str().unwrap().to_owned());
        let bytes = res.bytes().await.unwrap();
        assert_eq!(v[version]["size"].as_u64(), Some(bytes.len() as u64), "{version}");
        assert_eq!(decoded(&bytes), ("jpeg", w, h), "{version}");
    }
    etags.dedup();
    assert_eq!(etags.len(), 3, "each version has its own ETag: {etags:?}");
    let again = app
        .client
        .get(app.url(&format!("/api/v1/accounts/1/assets/{id}/content?version=thumbnail")))
        .header("authorization", format!("Bearer {}", app.key))
        .header("if-none-match", &etags[1])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let missing = native(&app, &format!("/api/v1/accounts/1/assets/{id}/content?version=poster")).await;
    assert_eq!(missing.status(), 404);

    // Public files.
    let public = app.client.get(app.url("/files/1/photos/sunset.jpg?version=web")).send().await.unwrap();
    assert_eq!(public.status(), 200);
    assert_eq!(decoded(&public.bytes().await.unwrap()), ("jpeg", 1600, 800));
    let unknown = app.client.get(app.url("/files/1/photos/sunset.jpg?version=huge")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);

    // A signed link to the thumbnail; a link to a version the asset lacks is refused.
    let res = app
        .client
        .post(app.url(&format!("/api/v1/accounts/1/assets/{id}/links")))
        .header("authorization", format!("Bearer {}", app.key))
        .json(&json!({ "version": "thumbnail", "disposition": "attachment" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let link: Value = res.json().await.unwrap();
    let signed = follower().get(link["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(signed.status(), 200);
    if let Some(disposition) = signed.headers().get("content-disposition") {
        assert!(disposition.to_str().unwrap().contains("sunset-thumbnail.jpg"), "{disposition:?}");
    }
    assert_eq!(decoded(&signed.bytes().await.unwrap()), ("jpeg", 256, 128));
    let res = app
        .client
        .post(app.url(&format!("/api/v1/accounts/1/assets/{id}/links")))
        .header("authorization", format!("Bearer {}", app.key))
        .json(&json!({ "version": "poster" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // Hivo: the single GET has every version's size; the list links each thumbnail.
    let who = app.lib().authenticate(&app.key).await.unwrap();
    let direct = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let hivo = |path: &str| {
        direct
            .get(app.url(&format!("/api/rest/v1{path}")))
            .header("X-User-Id", &who.user.0)
            .header("X-Api-Key", &app.key)
    };
    let one: Value = hivo(&format!("/assets/{id}")).send().await.unwrap().json().await.unwrap();
    let hv = &one["data"]["attributes"]["versions"];
    assert_eq!(hv["original"]["width"], 2000, "{one}");
    assert_eq!(
        hv["thumbnail"],
        json!({ "size": v["thumbnail"]["size"], "type": "image/jpeg", "extension": "jpg", "width": 256, "height": 128 })
    );
    assert_eq!(hv["web"]["width"], 1600);
    let list: Value = hivo("/assets?includeThumbnails=true").send().await.unwrap().json().await.unwrap();
    let listed = &list["data"][0];
    assert!(listed["attributes"]["versions"]["thumbnail"].get("width").is_none(), "sizes only on the single GET");
    assert_eq!(listed["links"]["thumbnail"]["meta"]["version"], "thumbnail", "{listed}");
    let href = listed["links"]["thumbnail"]["href"].as_str().unwrap();
    let thumb = follower().get(href).send().await.unwrap();
    assert_eq!(thumb.status(), 200);
    assert_eq!(decoded(&thumb.bytes().await.unwrap()), ("jpeg", 256, 128));
    let without: Value = hivo("/assets").send().await.unwrap().json().await.unwrap();
    assert!(without["data"][0]["links"].get("thumbnail").is_none(), "only when asked");
    let download = hivo(&format!("/assets/{id}/download?version=web")).send().await.unwrap();
    assert_eq!(download.status(), 302);
    let location = download.headers()["location"].to_str().unwrap().to_owned();
    let web = follower().get(&location).send().await.unwrap();
    assert_eq!(decoded(&web.bytes().await.unwrap()), ("jpeg", 1600, 800));
    let none = hivo(&format!("/assets/{id}/download?version=poster")).send().await.unwrap();
    assert_eq!(none.status(), 404);
}

#[tokio::test]
async fn transparency_is_kept_and_small_images_are_not_upscaled() {
    let app = TestApp::spawn().await;
    let uploaded = put(&app, "logo.png", &png_with_alpha(300, 120)).await;
    let asset = rendered(&app, uploaded["id"].as_str().unwrap()).await;
    let v = &asset["versions"];
    assert_ne!(v["thumbnail"]["contentType"], "image/jpeg", "alpha needs PNG or WebP: {asset}");
    let thumb = app.client.get(app.url("/files/1/logo.png?version=thumbnail")).send().await.unwrap();
    let bytes = thumb.bytes().await.unwrap();
    let (format, w, h) = decoded(&bytes);
    assert!(format == "png" || format == "webp");
    assert_eq!((w, h), (256, 102));
    let img = image::load_from_memory(&bytes).unwrap().to_rgba8();
    assert_eq!(img.get_pixel(2, 50)[3], 0, "the transparent half stays transparent");
    assert_eq!(img.get_pixel(250, 50)[3], 255);
    // `web` fits 1600x1600 but never grows past the original.
    assert_eq!((v["web"]["width"].as_u64(), v["web"]["height"].as_u64()), (Some(300), Some(120)));

    let small = put(&app, "icon.jpg", &jpeg(100, 40)).await;
    let asset = rendered(&app, small["id"].as_str().unwrap()).await;
    for version in ["thumbnail", "web"] {
        assert_eq!(asset["versions"][version]["width"], 100, "{asset}");
        assert_eq!(asset["versions"][version]["height"], 40);
    }
}

#[tokio::test]
async fn copies_share_renditions_replacing_remakes_them_and_deleting_removes_them() {
    let app = TestApp::spawn().await;
    let first = put(&app, "a/one.jpg", &jpeg(800, 400)).await;
    let id = first["id"].as_str().unwrap().to_owned();
    rendered(&app, &id).await;
    assert_eq!(app.blob_count("renditions/").await, 2);

    // A copy shares the content and so its renditions, at once.
    let res = app
        .client
        .post(app.url(&format!("/api/v1/accounts/1/assets/{id}/copy")))
        .header("authorization", format!("Bearer {}", app.key))
        .json(&json!({ "destinationKey": "b/two.jpg" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let copy: Value = res.json().await.unwrap();
    assert_eq!(copy["versions"]["thumbnail"]["width"], 256, "{copy}");
    let copy_id = copy["id"].as_str().unwrap().to_owned();
    let served = app.client.get(app.url("/files/1/b/two.jpg?version=thumbnail")).send().await.unwrap();
    assert_eq!(decoded(&served.bytes().await.unwrap()), ("jpeg", 256, 128));

    // Replacing the original's content makes new renditions for it; the copy keeps its own.
    put(&app, "a/one.jpg", &jpeg(400, 800)).await;
    let mut replaced = Value::Null;
    for _ in 0..600 {
        replaced = native(&app, &format!("/api/v1/accounts/1/assets/{id}")).await.json().await.unwrap();
        if replaced["versions"]["thumbnail"]["width"] == 128 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(replaced["versions"]["thumbnail"]["height"], 256, "{replaced}");
    assert_eq!(replaced["versions"]["original"]["width"], 400);
    let copy_now: Value = native(&app, &format!("/api/v1/accounts/1/assets/{copy_id}")).await.json().await.unwrap();
    assert_eq!(copy_now["versions"]["thumbnail"]["width"], 256);
    settled(&app, &id).await;
    assert_eq!(app.blob_count("renditions/").await, 4, "two contents, two renditions each");

    // Deleting the last asset that uses a content removes its renditions with it.
    for key in ["b/two.jpg", "a/one.jpg"] {
        let res = app
            .client
            .delete(app.url(&format!("/api/v1/accounts/1/assets/{}", if key == "b/two.jpg" { &copy_id } else { &id })))
            .header("authorization", format!("Bearer {}", app.key))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204, "{key}");
    }
    app.wait_for_blobs("renditions/", 0).await;
    app.wait_for_blobs("assets/", 0).await;
    let gone = app.client.get(app.url("/files/1/b/two.jpg?version=thumbnail")).send().await.unwrap();
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn files_that_cannot_be_rendered_stay_valid_assets_without_renditions() {
    let app = TestApp::spawn().await;
    // Not an image at all; a truncated JPEG; a PNG declaring 50,000 x 50,000 pixels.
    let mut bomb = png_with_alpha(4, 4);
    bomb[16..20].copy_from_slice(&50_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&50_000u32.to_be_bytes());
    let truncated = jpeg(640, 480)[..600].to_vec();
    let cases: [(&str, Vec<u8>); 3] =
        [("junk.jpg", b"not an image".to_vec()), ("cut.jpg", truncated), ("bomb.png", bomb)];
    for (name, bytes) in cases {
        let uploaded = put(&app, name, &bytes).await;
        let id = uploaded["id"].as_str().unwrap();
        let asset = settled(&app, id).await;
        let versions: Vec<&String> = asset["versions"].as_object().unwrap().keys().collect();
        assert_eq!(versions, ["original"], "{name}: {asset}");
        let content = native(&app, &format!("/api/v1/accounts/1/assets/{id}/content")).await;
        assert_eq!(content.bytes().await.unwrap().as_ref(), bytes.as_slice(), "{name} is served as uploaded");
        let thumb = app.client.get(app.url(&format!("/files/1/{name}?version=thumbnail"))).send().await.unwrap();
        assert_eq!(thumb.status(), 404);
    }
    assert!(app.lib().failed_jobs(None, 10).await.unwrap().is_empty(), "an undecodable file is no failed job");
    assert_eq!(app.blob_count("renditions/").await, 0);
    // Files that are not images get no render job at all.
    put(&app, "notes.txt", b"hello").await;
    assert_eq!(app.lib().unfinished_jobs().await.unwrap(), 0);
}

/// A program on the `PATH`, or `None` after saying the test skips; in CI a missing one fails.
fn tool(name: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.is_file()));
    if found.is_none() {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "{name} is missing (Debian: ffmpeg)");
        println!("SKIPPED: {name} is not installed");
    }
    found
}

#[tokio::test]
async fn a_video_gets_a_poster_frame_through_the_api() {
    let Some(ffmpeg) = tool("ffmpeg") else { return };
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.mp4");
    let made = std::process::Command::new(ffmpeg)
        .args(["-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=10:duration=2"])
        .args(["-pix_fmt", "yuv420p", "-y"])
        .arg(&clip)
        .status()
        .unwrap();
    assert!(made.success());
    let app = TestApp::spawn().await;
    let uploaded = put(&app, "video/clip.mp4", &std::fs::read(&clip).unwrap()).await;
    let asset = rendered(&app, uploaded["id"].as_str().unwrap()).await;
    let v = &asset["versions"];
    assert!(v["original"].get("width").is_none(), "a video's own size is not an image version's: {asset}");
    assert_eq!((v["thumbnail"]["width"].as_u64(), v["thumbnail"]["height"].as_u64()), (Some(256), Some(144)));
    let poster = app.client.get(app.url("/files/1/video/clip.mp4?version=thumbnail")).send().await.unwrap();
    assert_eq!(poster.headers()["content-type"], "image/jpeg");
    assert_eq!(decoded(&poster.bytes().await.unwrap()), ("jpeg", 256, 144));
}
