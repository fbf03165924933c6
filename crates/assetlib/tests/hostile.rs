//! Hostile clients, over real sockets, against a real `assetlib serve` process with small
//! configured limits (SPEC 5.7): half-sent heads, silent and idle connections, stalled and
//! trickled bodies, floods of sockets, oversized declared bodies, credentials sent twice, a
//! viewer's writes, and bytes that are not UTF-8. Each case also checks that nothing of a refused
//! request was stored.

mod common;

use common::{Backend, ServerProcess, count_files};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEADER_SECS: u64 = 1;
const KEEPALIVE_SECS: u64 = 3;
const BODY_SECS: u64 = 1;

/// A server with the limits above (and `extra` settings), in a data dir of its own.
fn server(test: &str, extra: &[(&str, &str)]) -> (ServerProcess, Backend, tempfile::TempDir) {
    server_under(test, &[], extra)
}

fn server_under(test: &str, wrapper: &[&str], extra: &[(&str, &str)]) -> (ServerProcess, Backend, tempfile::TempDir) {
    let backend = tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(Backend::from_env(test)));
    let dir = tempfile::tempdir().expect("tempdir");
    let header = HEADER_SECS.to_string();
    let keepalive = KEEPALIVE_SECS.to_string();
    let body = BODY_SECS.to_string();
    let mut envs = vec![
        ("ASSETLIB_HEADER_READ_TIMEOUT_SECS", header.as_str()),
        ("ASSETLIB_KEEPALIVE_TIMEOUT_SECS", keepalive.as_str()),
        ("ASSETLIB_BODY_READ_TIMEOUT_SECS", body.as_str()),
    ];
    envs.extend_from_slice(extra);
    let server = ServerProcess::start_under(wrapper, &backend, &dir.path().join("data"), &envs, &[]);
    (server, backend, dir)
}

fn addr(server: &ServerProcess) -> String {
    server.base.trim_start_matches("http://").to_owned()
}

async fn connect(server: &ServerProcess) -> TcpStream {
    TcpStream::connect(addr(server)).await.expect("connect")
}

/// Reads until the server closes the connection (or `within` passes); returns what came and
/// whether the connection was closed.
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
        }
    }
}

/// Reads one response head (up to the blank line), within `within`.
async fn read_head(stream: &mut (impl tokio::io::AsyncRead + Unpin), within: Duration) -> String {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    tokio::time::timeout(within, async {
        while !got.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte).await {
                Ok(0) | Err(_) => break,
                Ok(_) => got.push(byte[0]),
            }
        }
    })
    .await
    .expect("a response head in time");
    String::from_utf8_lossy(&got).into_owned()
}

fn status_of(head: &str) -> u16 {
    head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Sends `head` and then `body` while reading the answer, as a client that does not wait for
/// one would; returns the answer (head and as much body as came before the close).
async fn send_while_reading(server: &ServerProcess, head: Vec<u8>, body: Vec<u8>) -> String {
    let (mut r, mut w) = connect(server).await.into_split();
    let writer = tokio::spawn(async move {
        if w.write_all(&head).await.is_ok() {
            for piece in body.chunks(64 * 1024) {
                if w.write_all(piece).await.is_err() {
                    return;
                }
            }
        }
        // Dropping the write half would half-close the connection, which the server takes
        // for a client gone: hold it until the answer is read.
        std::future::pending::<()>().await;
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let _ = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match r.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
    })
    .await;
    writer.abort();
    String::from_utf8_lossy(&got).into_owned()
}

/// What a refused upload must not leave: no stored asset, no partial write.
fn assert_nothing_stored(data_dir: &Path) {
    assert_eq!(count_files(&data_dir.join("blobs/assets")), 0, "no asset content stored");
    assert_eq!(count_files(&data_dir.join("blobs/.staging")), 0, "no partial write left");
}

async fn assert_no_assets(server: &ServerProcess, key: &str) {
    let res = reqwest::Client::new()
        .get(format!("{}/1/Assets/AssetList?recursive=true", server.base))
        .header("X-ApiKey", key)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["assets"], serde_json::json!([]), "no asset is visible");
}

fn local(backend: &Backend) -> bool {
    backend.s3.is_none()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_head_gets_408_and_is_closed_at_the_header_timeout() {
    let (server, _backend, _dir) = server("hostile half head", &[]);
    let mut s = connect(&server).await;
    let start = Instant::now();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
    let (got, closed) = read_to_close(&mut s, Duration::from_secs(10)).await;
    let waited = start.elapsed();
    assert!(closed, "closed");
    assert!(got.starts_with("HTTP/1.1 408"), "a 408 for a head that began: {got:?}");
    assert!(waited >= Duration::from_millis(900), "not before the timeout: {waited:?}");
    assert!(waited < Duration::from_secs(HEADER_SECS + 4), "at the timeout: {waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_trickled_byte_by_byte_is_cut_at_the_header_timeout() {
    // Progress does not extend the head's deadline: a slowloris sending a byte at a time.
    let (server, _backend, _dir) = server("hostile trickled head", &[]);
    let mut s = connect(&server).await;
    let start = Instant::now();
    let head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    for byte in head {
        if s.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (got, closed) = read_to_close(&mut s, Duration::from_secs(5)).await;
    assert!(closed, "closed");
    assert!(got.starts_with("HTTP/1.1 408") || got.is_empty(), "{got:?}");
    assert!(start.elapsed() < Duration::from_secs(HEADER_SECS + 4), "cut at the head's deadline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_closed_at_the_header_timeout() {
    let (server, _backend, _dir) = server("hostile silent", &[]);
    let mut s = connect(&server).await;
    let start = Instant::now();
    let (got, closed) = read_to_close(&mut s, Duration::from_secs(10)).await;
    assert!(closed, "closed");
    assert_eq!(got, "", "nothing to answer: nothing was asked");
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(900) && waited < Duration::from_secs(HEADER_SECS + 4), "{waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_lives_for_the_keepalive_timeout_then_closes() {
    let (server, _backend, _dir) = server("hostile keep-alive", &[]);
    let mut s = connect(&server).await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    s.write_all(request).await.unwrap();
    assert_eq!(status_of(&read_head(&mut s, Duration::from_secs(5)).await), 200);
    let mut ok = [0u8; 2];
    s.read_exact(&mut ok).await.unwrap();
    // Idle past the header timeout: still open, for the keep-alive timeout is longer.
    tokio::time::sleep(Duration::from_millis(HEADER_SECS * 1000 + 700)).await;
    s.write_all(request).await.unwrap();
    assert_eq!(status_of(&read_head(&mut s, Duration::from_secs(5)).await), 200, "kept alive");
    s.read_exact(&mut ok).await.unwrap();
    let idle = Instant::now();
    let (got, closed) = read_to_close(&mut s, Duration::from_secs(KEEPALIVE_SECS + 5)).await;
    assert!(closed && got.is_empty(), "closed without a word: {got:?}");
    let waited = idle.elapsed();
    // Measured from the client's side of the last response, which lags the server's a little:
    // what matters is that the header timeout (1 s) did not close it.
    assert!(waited >= Duration::from_secs(KEEPALIVE_SECS - 1), "not before the keep-alive timeout: {waited:?}");
}

/// A multipart upload head whose body is announced but only partly sent.
fn stalled_upload(key: &str) -> (Vec<u8>, Vec<u8>) {
    let part =
        b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.txt\"\r\n\r\nsome of the bytes";
    let head = format!(
        "POST /v2/accounts/1/asset-library HTTP/1.1\r\nHost: x\r\njvx_apikey: {key}\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: 100000\r\n\r\n"
    );
    (head.into_bytes(), part.to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_abandoned_with_408_and_nothing_is_stored() {
    let (server, backend, _dir) = server("hostile stalled body", &[]);
    let key = server.initial_key();
    // Jivox multipart.
    let mut s = connect(&server).await;
    let (head, part) = stalled_upload(&key);
    s.write_all(&head).await.unwrap();
    s.write_all(&part).await.unwrap();
    let start = Instant::now();
    let (got, closed) = read_to_close(&mut s, Duration::from_secs(10)).await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got:?}");
    assert!(got.contains("{\"msg\":\"The request body stopped arriving; nothing of it was kept.\"}"), "{got:?}");
    assert!(closed, "the connection is closed");
    assert!(start.elapsed() < Duration::from_secs(BODY_SECS + 4));
    // Clinch PutAssetJSON, stalled inside its streamed content.
    let mut s = connect(&server).await;
    let head = format!(
        "PUT /1/Assets/AssetJSON HTTP/1.1\r\nHost: x\r\nX-ApiKey: {key}\r\nContent-Type: application/json\r\n\
         Content-Length: 100000\r\n\r\n{{\"key\":\"slow.txt\",\"content\":\"aGVsbG8g"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let (got, closed) = read_to_close(&mut s, Duration::from_secs(10)).await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got:?}");
    assert!(got.contains("{\"error\":\"The request body stopped arriving; nothing of it was kept.\"}"), "{got:?}");
    assert!(closed);
    // A native raw-body upload, stalled half-way.
    let mut s = connect(&server).await;
    let head = format!(
        "POST /api/v1/accounts/1/assets?key=slow.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
         Content-Length: 100000\r\n\r\nhello"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let (got, closed) = read_to_close(&mut s, Duration::from_secs(10)).await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got:?}");
    assert!(got.contains("\"code\":\"timed_out\""), "{got:?}");
    assert!(closed);
    assert_no_assets(&server, &key).await;
    if local(&backend) {
        assert_nothing_stored(&server.data_dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_that_keeps_moving_is_not_cut() {
    let (server, _backend, _dir) = server("hostile slow body", &[]);
    let key = server.initial_key();
    let content = "trickled ".repeat(8);
    let body = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.txt\"\r\n\r\n{content}\r\n--XyZ--\r\n"
    );
    let head = format!(
        "POST /v2/accounts/1/asset-library HTTP/1.1\r\nHost: x\r\njvx_apikey: {key}\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut s = connect(&server).await;
    s.write_all(head.as_bytes()).await.unwrap();
    // Three times the body timeout in all, never more than half of it between two pieces.
    let start = Instant::now();
    for piece in body.as_bytes().chunks(body.len() / 6 + 1) {
        s.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(BODY_SECS * 500)).await;
    }
    assert!(start.elapsed() > Duration::from_secs(BODY_SECS * 2));
    let head = read_head(&mut s, Duration::from_secs(10)).await;
    assert_eq!(status_of(&head), 200, "{head}");
    let file = reqwest::get(format!("{}/files/1/slow.txt", server.base)).await.unwrap();
    assert_eq!(file.text().await.unwrap(), content);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_the_client_never_reads_closes_its_connection() {
    let (server, _backend, _dir) = server("hostile unread response", &[]);
    let key = server.initial_key();
    let big: Vec<u8> = (0..8 << 20).map(|i: u32| (i % 251) as u8).collect();
    let client = reqwest::Client::new();
    let form =
        reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(big.clone()).file_name("big.txt"));
    let res = client
        .post(format!("{}/v2/accounts/1/asset-library", server.base))
        .header("jvx_apikey", &key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Ask for 8 MiB and read none of it: the socket buffers fill, the server's writes stall.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(8192).unwrap();
    let mut s = socket.connect(addr(&server).parse().unwrap()).await.unwrap();
    s.write_all(b"GET /files/1/big.txt HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_secs(BODY_SECS + 2)).await;
    // Then read: what was buffered arrives, then the server's close, well short of 8 MiB.
    let (got, closed) = read_to_close(&mut s, Duration::from_secs(10)).await;
    assert!(closed, "closed by the server");
    assert!(got.len() < big.len(), "the server gave up on the unread response ({} bytes came)", got.len());
    // The server itself is fine.
    assert_eq!(reqwest::get(format!("{}/healthz", server.base)).await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_sockets_does_not_lock_out_a_fresh_client() {
    // 600 idle sockets against a server allowed 256 open files: without a cap it runs out of
    // descriptors and every new client hangs; with one, the flood waits in the backlog and is
    // reaped at the header timeout, and a fresh client is served.
    let (server, _backend, _dir) = server_under("hostile flood", &["prlimit", "--nofile=256:256", "--"], &[]);
    let mut flood = Vec::new();
    for _ in 0..600 {
        match tokio::time::timeout(Duration::from_secs(2), connect(&server)).await {
            Ok(s) => flood.push(s),
            Err(_) => break, // the backlog is full: enough
        }
    }
    assert!(flood.len() >= 300, "the flood got {} sockets in", flood.len());
    let start = Instant::now();
    let res = tokio::time::timeout(Duration::from_secs(30), reqwest::get(format!("{}/healthz", server.base)))
        .await
        .expect("a fresh client is served while the flood is on")
        .expect("request");
    assert_eq!(res.status(), 200);
    let waited = start.elapsed();
    eprintln!("a fresh client behind {} idle sockets was served after {waited:?}", flood.len());
    drop(flood);
    // The server took no harm.
    assert_eq!(reqwest::get(format!("{}/healthz", server.base)).await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_max_connections_wait_until_one_closes() {
    let (server, _backend, _dir) = server("hostile cap", &[("ASSETLIB_MAX_CONNECTIONS", "4")]);
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut s = connect(&server).await;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        assert_eq!(status_of(&read_head(&mut s, Duration::from_secs(5)).await), 200);
        held.push(s);
    }
    // A fifth connection is not taken while four are open (they are kept alive).
    let mut fifth = connect(&server).await;
    fifth.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(HEADER_SECS * 1000 / 2), fifth.read(&mut byte)).await;
    assert!(early.is_err(), "the fifth connection waits while four are open");
    drop(held.pop());
    let head = read_head(&mut fifth, Duration::from_secs(5)).await;
    assert_eq!(status_of(&head), 200, "served once one closed: {head:?}");
}

/// Sends a head with `Expect: 100-continue` and a declared body, and returns the first
/// response head the server sends, without sending any of the body.
async fn expect_continue(server: &ServerProcess, method_path: &str, headers: &str, length: u64) -> String {
    let mut s = connect(server).await;
    let head = format!(
        "{method_path} HTTP/1.1\r\nHost: x\r\n{headers}Expect: 100-continue\r\nContent-Length: {length}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let got = read_head(&mut s, Duration::from_secs(5)).await;
    let mut rest = vec![0u8; 512];
    let n =
        tokio::time::timeout(Duration::from_millis(300), s.read(&mut rest)).await.map(|r| r.unwrap_or(0)).unwrap_or(0);
    format!("{got}{}", String::from_utf8_lossy(&rest[..n]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_body_over_the_limit_is_413_before_100_continue() {
    let (server, _backend, _dir) = server("hostile expect", &[]);
    let key = server.initial_key();
    let over = 20 << 20;
    let multipart = "Content-Type: multipart/form-data; boundary=XyZ\r\n";
    let cases = [
        (
            "POST /v2/accounts/1/asset-library",
            format!("jvx_apikey: {key}\r\n{multipart}"),
            "{\"msg\":\"File size exceeds the maximum allowed size of 10 MB.\"}",
        ),
        (
            "PUT /1/Assets/Asset?key=a.png",
            format!("X-ApiKey: {key}\r\n{multipart}"),
            "{\"error\":\"File size exceeds the maximum allowed size of 10 MB.\"}",
        ),
        (
            "PUT /1/Assets/AssetJSON",
            format!("X-ApiKey: {key}\r\n"),
            "{\"error\":\"File size exceeds the maximum allowed size of 10 MB.\"}",
        ),
        (
            "POST /1/Assets/CopyAsset",
            format!("X-ApiKey: {key}\r\n"),
            "{\"error\":\"The request body is larger than 1024 KB, the most a JSON body may hold.\"}",
        ),
        (
            "POST /api/v1/accounts/1/assets?key=a.png",
            format!("Authorization: Bearer {key}\r\n"),
            "\"code\":\"too_large\"}",
        ),
        (
            "POST /api/v1/accounts/1/assets",
            format!("Authorization: Bearer {key}\r\n{multipart}"),
            "\"code\":\"too_large\"}",
        ),
        ("POST /api/v1/accounts/1/collections", format!("Authorization: Bearer {key}\r\n"), "\"code\":\"too_large\"}"),
    ];
    for (route, headers, body) in cases {
        let got = expect_continue(&server, route, &headers, over).await;
        assert_eq!(status_of(&got), 413, "{route}: {got}");
        assert!(!got.contains("100 Continue"), "{route}: no 100 Continue");
        assert!(got.ends_with(body), "{route}: {got}");
    }
    // Within the limit, the client is told to go on.
    let got =
        expect_continue(&server, "PUT /1/Assets/Asset?key=a.png", &format!("X-ApiKey: {key}\r\n{multipart}"), 1000)
            .await;
    assert!(got.starts_with("HTTP/1.1 100 Continue"), "{got}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_account_and_role_come_before_the_body() {
    let (server, backend, _dir) = server("hostile auth first", &[]);
    let viewer = server.user(&backend, "viewer");
    let json = "Content-Type: application/json\r\n";
    let cases = [
        ("PUT /1/Assets/AssetJSON", format!("X-ApiKey: {viewer}\r\n{json}"), 403),
        ("PUT /1/Assets/AssetJSON", json.to_owned(), 401),
        ("PUT /2/Assets/AssetJSON", format!("X-ApiKey: {}\r\n{json}", server.initial_key()), 403),
        ("POST /v2/accounts/1/asset-library", format!("jvx_apikey: {viewer}\r\n"), 403),
        ("PUT /1/Assets/Asset?key=a.png", format!("X-ApiKey: {viewer}\r\n"), 403),
        ("POST /1/Assets/CopyAsset", format!("X-ApiKey: {viewer}\r\n{json}"), 403),
        ("POST /api/v1/accounts/1/assets?key=a.png", format!("Authorization: Bearer {viewer}\r\n"), 403),
        ("POST /api/v1/accounts/1/assets?key=a.png", String::new(), 401),
        (
            "POST /api/v1/accounts/2/assets?key=a.png",
            format!("Authorization: Bearer {}\r\n", server.initial_key()),
            404,
        ),
        ("POST /api/v1/accounts/1/keys", format!("Authorization: Bearer {viewer}\r\n{json}"), 403),
    ];
    for (route, headers, status) in cases {
        let got = expect_continue(&server, route, &headers, 14 << 20).await;
        assert_eq!(status_of(&got), status, "{route}: {got}");
        assert!(!got.contains("100 Continue"), "{route}");
    }
    // 32 viewers sending 14 MB each at once: all 403, and the server's memory does not grow
    // with what they send (it reads none of it).
    let (_, peak_before) = server.memory_kib();
    let mut sends = Vec::new();
    for _ in 0..32 {
        let addr = addr(&server);
        let viewer = viewer.clone();
        sends.push(tokio::spawn(async move {
            let s = TcpStream::connect(addr).await.unwrap();
            let (mut r, mut w) = s.into_split();
            let head = format!(
                "PUT /1/Assets/AssetJSON HTTP/1.1\r\nHost: x\r\nX-ApiKey: {viewer}\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n{{\"key\":\"x.txt\",\"content\":\"",
                14 << 20
            );
            // The body is sent while the answer is read, as a client that does not wait would.
            let writer = tokio::spawn(async move {
                if w.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b'A'; 1 << 20];
                for _ in 0..14 {
                    if w.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
            });
            let answer = read_head(&mut r, Duration::from_secs(20)).await;
            writer.abort();
            answer
        }));
    }
    for send in sends {
        assert_eq!(status_of(&send.await.unwrap()), 403);
    }
    let (_, peak_after) = server.memory_kib();
    assert!(peak_after < peak_before + 64 * 1024, "peak RSS grew from {peak_before} to {peak_after} KiB");
}

fn json_upload(key: &str, content_first: bool, bytes: &[u8]) -> String {
    use base64::Engine;
    // Line breaks every 76 characters and an escaped slash, as some encoders write them.
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let wrapped: Vec<&str> = encoded.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect();
    let content = wrapped.join("\\n").replace('/', "\\/");
    if content_first {
        format!("{{\"Content\":\"{content}\",\"metadata\":{{\"k\":\"v\"}},\"KEY\":\"{key}\"}}")
    } else {
        format!("{{\"key\":\"{key}\",\"content\":\"{content}\"}}")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_asset_json_streams_its_content_in_any_member_order() {
    let (server, backend, _dir) = server("hostile streamed json", &[]);
    let key = server.initial_key();
    let client = reqwest::Client::new();
    let (_, peak_before) = server.memory_kib();
    let mut puts = Vec::new();
    for i in 0..8u8 {
        let bytes: Vec<u8> = (0..8u32 << 20).map(|j| (j.wrapping_mul(31) as u8) ^ i).collect();
        let body = json_upload(&format!("streamed/{i}.txt"), i % 2 == 0, &bytes);
        let request = client.put(format!("{}/1/Assets/AssetJSON", server.base)).header("X-ApiKey", &key).body(body);
        puts.push(tokio::spawn(async move {
            let res = request.send().await.unwrap();
            (res.status(), res.text().await.unwrap(), bytes)
        }));
    }
    let mut expected = Vec::new();
    for (i, put) in puts.into_iter().enumerate() {
        let (status, text, bytes) = put.await.unwrap();
        assert_eq!(status, 200, "{i}: {text}");
        expected.push(bytes);
    }
    let (_, peak_after) = server.memory_kib();
    // Eight bodies of 11 MB at once: buffered, they would take 90 MB and their decoding as much
    // again; streamed, each holds a few chunks of 64 KiB.
    // An S3 store holds up to two 5 MiB parts of each upload in memory as it sends them.
    let store_buffers = if local(&backend) { 0 } else { 8 * 10 * 1024 };
    let bound = peak_before + 80 * 1024 + store_buffers;
    assert!(peak_after < bound, "peak RSS grew from {peak_before} to {peak_after} KiB");
    for (i, bytes) in expected.iter().enumerate() {
        let got =
            reqwest::get(format!("{}/files/1/streamed/{i}.txt", server.base)).await.unwrap().bytes().await.unwrap();
        assert!(got.as_ref() == bytes.as_slice(), "{i}: the stored bytes are the sent ones");
    }
    let meta = client
        .get(format!("{}/1/Assets/Asset/AssetMetadata?key=streamed/0.txt", server.base))
        .header("X-ApiKey", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(meta.json::<serde_json::Value>().await.unwrap()["metadata"], serde_json::json!({"k": "v"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_asset_json_refusals_store_nothing() {
    let (server, backend, _dir) = server("hostile json refusals", &[]);
    let key = server.initial_key();
    let big = "QUFB".repeat((11 << 20) / 4); // 11 MB of base64: 8.25 MiB decoded, then more
    let cases = [
        (
            "{\"content\":\"aGVsbG8=\",\"key\":\"../x.txt\"}".to_owned(),
            400,
            "Path contains illegal sequence \"..\" (directory traversal).",
        ),
        ("{\"content\":\"aGVsbG8=\"}".to_owned(), 400, "Parameter 'key' is required."),
        (
            "{\"content\":\"aGVsbG8=\",\"url\":\"http://x/\",\"key\":\"a.txt\"}".to_owned(),
            400,
            "Give either 'content' or 'url', not both.",
        ),
        (
            "{\"key\":\"a.txt\",\"content\":\"aGVs!G8=\"}".to_owned(),
            400,
            "Field 'content' is not valid base64: Invalid symbol 33, offset 4.",
        ),
        (
            "{\"key\":\"a.txt\",\"content\":\"aGVsbG8=\",\"content\":\"aGVsbG8=\"}".to_owned(),
            400,
            "Field 'content' is given more than once.",
        ),
        (
            "{\"key\":\"a.txt\",\"content\":\"aGVsbG8=\",\"metadata\":{\"k\":1}}".to_owned(),
            400,
            "Metadata value of 'k' must be a string.",
        ),
        ("{\"key\":\"a.exe\",\"content\":\"aGVsbG8=\"}".to_owned(), 400, ""),
        (format!("{{\"key\":\"a.txt\",\"content\":\"{big}{big}\"}}"), 413, ""),
        (
            "{\"key\":\"a.txt\",\"content\":\"f0VMRgIBAQAAAAAAAAAAAAMAPgABAAAA\"}".to_owned(),
            400,
            "Executable files are not allowed.",
        ),
        (
            format!("{{\"key\":\"a.txt\",\"pad\":\"{}\",\"content\":\"aGVsbG8=\"}}", "x".repeat(2 << 20)),
            413,
            "The request body is larger than 1024 KB, the most a JSON body may hold.",
        ),
        (String::new(), 400, "A JSON body is required."),
        ("[1]".to_owned(), 400, "The JSON body must be an object."),
        ("{\"key\":\"a.txt\",\"content\":\"aGVsbG8=\"".to_owned(), 400, ""),
    ];
    for (body, status, message) in cases {
        let shown = body.chars().take(80).collect::<String>();
        let head = format!(
            "PUT /1/Assets/AssetJSON HTTP/1.1\r\nHost: x\r\nX-ApiKey: {key}\r\nConnection: close\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        let answer = send_while_reading(&server, head.into_bytes(), body.into_bytes()).await;
        assert_eq!(status_of(&answer), status, "{shown}: {answer}");
        let json = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let text: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
        assert!(text["error"].is_string(), "{shown}: {answer}");
        if !message.is_empty() {
            assert_eq!(text["error"], message, "{shown}");
        }
    }
    // Sent in chunks, without a declared length: found too large while it streams, answered
    // while the client is still sending.
    let head =
        format!("PUT /1/Assets/AssetJSON HTTP/1.1\r\nHost: x\r\nX-ApiKey: {key}\r\nTransfer-Encoding: chunked\r\n\r\n");
    let pieces = ["{\"key\":\"a.txt\",\"content\":\"", big.as_str(), big.as_str(), "\"}"];
    let mut body = Vec::new();
    for piece in pieces {
        body.extend_from_slice(format!("{:x}\r\n{piece}\r\n", piece.len()).as_bytes());
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let answer = send_while_reading(&server, head.into_bytes(), body).await;
    assert_eq!(status_of(&answer), 400, "{answer}");
    assert!(answer.contains("{\"error\":\"File size exceeds the maximum allowed size of 10 MB.\"}"), "{answer}");
    assert_no_assets(&server, &key).await;
    tokio::time::sleep(Duration::from_millis(200)).await; // discards run after the answer
    if local(&backend) {
        assert_nothing_stored(&server.data_dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_header_sent_twice_is_401_in_every_dialect() {
    let (server, _backend, _dir) = server("hostile two keys", &[]);
    let key = server.initial_key();
    let cases = [
        (
            "GET /v2/accounts/1/asset-library",
            "jvx_apikey",
            "{\"msg\":\"The jvx_apikey header is sent more than once.\"}",
        ),
        ("GET /1/Assets/AssetList", "X-ApiKey", "{\"error\":\"The x-apikey header is sent more than once.\"}"),
    ];
    for (route, name, body) in cases {
        for second in [key.as_str(), "not-a-key"] {
            let mut s = connect(&server).await;
            let request = format!(
                "{route} HTTP/1.1\r\nHost: x\r\n{name}: {key}\r\n{name}: {second}\r\nConnection: close\r\n\r\n"
            );
            s.write_all(request.as_bytes()).await.unwrap();
            let (got, _) = read_to_close(&mut s, Duration::from_secs(5)).await;
            assert_eq!(status_of(&got), 401, "{route} {second}: {got}");
            assert!(got.ends_with(body), "{got}");
        }
    }
    // The native API and Hivo: the same, in their shapes.
    let user = server.initial_user();
    let cases = [
        (
            "GET /api/v1/me",
            format!("Authorization: Bearer {key}\r\nAuthorization: Bearer {key}\r\n"),
            "\"code\":\"unauthenticated\"",
        ),
        (
            "GET /api/rest/v1/assets",
            format!("X-User-Id: {user}\r\nX-Api-Key: {key}\r\nX-Api-Key: {key}\r\n"),
            "\"status\":\"401\"",
        ),
        (
            "GET /api/rest/v1/assets",
            format!("X-User-Id: {user}\r\nX-User-Id: {user}\r\nX-Api-Key: {key}\r\n"),
            "\"status\":\"401\"",
        ),
    ];
    for (route, headers, needle) in cases {
        let mut s = connect(&server).await;
        let request = format!("{route} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n");
        s.write_all(request.as_bytes()).await.unwrap();
        let (got, _) = read_to_close(&mut s, Duration::from_secs(5)).await;
        assert_eq!(status_of(&got), 401, "{route}: {got}");
        assert!(got.contains(needle), "{got}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewers_malformed_write_is_403_not_400() {
    let (server, backend, _dir) = server("hostile viewer", &[]);
    let viewer = server.user(&backend, "viewer");
    let client = reqwest::Client::new();
    let base = &server.base;
    let requests = [
        client.delete(format!("{base}/v2/accounts/1/asset-library?command=nonsense")).header("jvx_apikey", &viewer),
        client.post(format!("{base}/v2/accounts/1/asset-library")).header("jvx_apikey", &viewer).body("not multipart"),
        client.put(format!("{base}/1/Assets/Folder")).header("X-ApiKey", &viewer),
        client.post(format!("{base}/1/Assets/CopyAsset")).header("X-ApiKey", &viewer).body("{not json"),
        client.put(format!("{base}/1/Assets/AssetJSON")).header("X-ApiKey", &viewer).body("{\"key\":\"../x\"}"),
        client.delete(format!("{base}/1/Assets/MultipleAssets")).header("X-ApiKey", &viewer).body("[]"),
        client.put(format!("{base}/1/Assets/Asset/AssetMetadata")).header("X-ApiKey", &viewer).body("1"),
        client.delete(format!("{base}/1/Assets/Folder?deleteAssets=maybe")).header("X-ApiKey", &viewer),
    ];
    for request in requests {
        let res = request.send().await.unwrap();
        let url = res.url().to_string();
        assert_eq!(res.status(), 403, "{url}");
    }
    // Reads stay open to a viewer, and still check their parameters.
    let res =
        client.get(format!("{base}/1/Assets/AssetList?pageSize=0")).header("X-ApiKey", &viewer).send().await.unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_are_not_utf8_are_400_never_replaced() {
    let (server, _backend, _dir) = server("hostile utf8", &[]);
    let key = server.initial_key();
    let raw = |request: String| {
        let server_addr = addr(&server);
        async move {
            let mut s = TcpStream::connect(server_addr).await.unwrap();
            s.write_all(request.as_bytes()).await.unwrap();
            read_to_close(&mut s, Duration::from_secs(5)).await.0
        }
    };
    // Two different keys, %ff and %fe, would both have become "a\u{fffd}.txt".
    let body = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.txt\"\r\n\r\nfirst\r\n--XyZ--\r\n";
    for bad in ["a%ff.txt", "a%fe.txt"] {
        let request = format!(
            "PUT /1/Assets/Asset?key={bad} HTTP/1.1\r\nHost: x\r\nX-ApiKey: {key}\r\nConnection: close\r\n\
             Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let got = raw(request).await;
        assert_eq!(status_of(&got), 400, "{got}");
        assert!(got.ends_with("{\"error\":\"The query string is not valid UTF-8 once percent-decoded.\"}"), "{got}");
    }
    let got = raw(format!("GET /v2/accounts/1/asset-library?prefix=%C0 HTTP/1.1\r\nHost: x\r\njvx_apikey: {key}\r\nConnection: close\r\n\r\n")).await;
    assert_eq!(status_of(&got), 400, "{got}");
    assert!(got.ends_with("{\"msg\":\"The query string is not valid UTF-8 once percent-decoded.\"}"), "{got}");
    let got = raw("GET /files/1/a%ff.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_owned()).await;
    assert_eq!(status_of(&got), 400, "{got}");
    assert!(got.to_ascii_lowercase().contains("x-content-type-options: nosniff"), "{got}");
    assert_no_assets(&server, &key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_writes_left_by_a_crash_are_swept_at_start() {
    let backend = Backend::from_env("hostile crash staging").await;
    if !local(&backend) {
        return; // S3's partial writes are multipart uploads: covered by the blob store suite
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::start(&backend, &data, &[]);
    let key = server.initial_key();
    let mut s = connect(&server).await;
    let (head, part) = stalled_upload(&key);
    // Larger than the part the store keeps in memory before it opens its staging file.
    let head = String::from_utf8(head).unwrap().replace("Content-Length: 100000", "Content-Length: 1000000");
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&part).await.unwrap();
    s.write_all(&vec![b'x'; 600_000]).await.unwrap();
    let staging = data.join("blobs/.staging");
    let deadline = Instant::now() + Duration::from_secs(10);
    while count_files(&staging) == 0 {
        assert!(Instant::now() < deadline, "the upload reached the staging area");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill9();
    drop(s);
    assert_eq!(count_files(&staging), 1, "the crash left a partial write");
    let server = ServerProcess::start(&backend, &data, &[]);
    assert_eq!(count_files(&staging), 0, "swept before the restarted server listened");
    assert_eq!(count_files(&data.join("blobs/assets")), 0);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_file_limit_is_raised_to_the_hard_limit_at_start() {
    let (server, _backend, _dir) = server_under("hostile nofile", &["prlimit", "--nofile=256:4096", "--"], &[]);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.child.id())).expect("limits");
    let line = limits.lines().find(|l| l.starts_with("Max open files")).expect("open files line");
    let numbers: Vec<&str> = line.split_whitespace().filter(|w| w.chars().all(|c| c.is_ascii_digit())).collect();
    assert_eq!(numbers, ["4096", "4096"], "soft limit raised to the hard one: {line}");
    assert_eq!(reqwest::get(format!("{}/healthz", server.base)).await.unwrap().status(), 200);
}
