//! The operator's command line (SPEC section 7) and configuration layering.

mod common;

use common::{Backend, ServerProcess, binary, png};
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use std::process::Command;

fn run(backend: &Backend, args: &[&str], data: &std::path::Path) -> (bool, Value, String) {
    let out = Command::new(binary())
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .args(backend.args())
        .envs(backend.env())
        .output()
        .expect("run assetlib");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let json = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    (out.status.success(), json, stderr)
}

/// First start writes the owner's credentials, readable by the owner only.
#[tokio::test]
async fn first_start_writes_initial_credentials_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let backend = Backend::from_env("cli").await;
    let server = ServerProcess::start(&backend, &data, &[]);
    let path = data.join("initial-credentials.json");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let creds: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(creds["accountId"], 1);
    assert!(creds["userId"].as_str().unwrap().starts_with("usr_"));
    assert!(creds["apiKey"].as_str().unwrap().starts_with("alk_"));
    drop(server);
    // A second start leaves the file and the store as they are.
    let server = ServerProcess::start(&backend, &data, &[]);
    let again: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(again, creds);
    drop(server);
}

/// `account create` and `user create` print JSON and work while the server runs; the new key
/// works against it at once.
#[tokio::test]
async fn admin_commands_work_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let backend = Backend::from_env("cli").await;
    let server = ServerProcess::start(&backend, &data, &[]);

    let (ok, account, stderr) = run(&backend, &["account", "create", "--id", "1234", "--name", "Acme"], &data);
    assert!(ok, "{stderr}");
    assert_eq!(account["id"], 1234);
    assert_eq!(account["name"], "Acme");
    assert_eq!(account["public"], true);

    let (ok, user, stderr) =
        run(&backend, &["user", "create", "--account", "1234", "--role", "editor", "--name", "Bob"], &data);
    assert!(ok, "{stderr}");
    let key = user["apiKey"].as_str().unwrap().to_owned();
    assert!(user["userId"].as_str().unwrap().starts_with("usr_"));
    assert_eq!(user.as_object().unwrap().len(), 2);

    let client = reqwest::Client::new();
    let form = Form::new().part("file", Part::bytes(png()).file_name("bob.png"));
    let res = client
        .post(format!("{}/v2/accounts/1234/asset-library", server.base))
        .header("jvx_apikey", &key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = client
        .get(format!("{}/v2/accounts/1/asset-library", server.base))
        .header("jvx_apikey", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "an editor of 1234 does not reach account 1");

    // Errors: a taken id, an unknown account, a bad role. Nothing is printed on stdout.
    let (ok, out, stderr) = run(&backend, &["account", "create", "--id", "1234", "--name", "Again"], &data);
    assert!(!ok && out.is_null());
    assert!(stderr.contains("Account 1234 exists already."), "{stderr}");
    let (ok, _, stderr) =
        run(&backend, &["user", "create", "--account", "99", "--role", "viewer", "--name", "X"], &data);
    assert!(!ok);
    assert!(stderr.contains("Account 99 not found."), "{stderr}");
    let (ok, _, _) = run(&backend, &["user", "create", "--account", "1234", "--role", "god", "--name", "X"], &data);
    assert!(!ok);

    // --admin makes a platform admin, who reaches every account.
    let (ok, admin, _) =
        run(&backend, &["user", "create", "--account", "1", "--role", "viewer", "--admin", "--name", "Root"], &data);
    assert!(ok);
    let res = client
        .get(format!("{}/v2/accounts/1234/asset-library", server.base))
        .header("jvx_apikey", admin["apiKey"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // A private account's files are not public.
    let (ok, private, _) = run(&backend, &["account", "create", "--id", "5", "--name", "Hidden", "--private"], &data);
    assert!(ok);
    assert_eq!(private["public"], false);
}

/// Defaults < TOML file < ASSETLIB_* environment < flags.
#[tokio::test]
async fn configuration_layers_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let backend = Backend::from_env("cli").await;
    let config = dir.path().join("assetlib.toml");
    std::fs::write(
        &config,
        "cache_control = \"from-file\"\npublic_base_url = \"https://file.example\"\nmax_upload_size = 100\n",
    )
    .unwrap();
    let config_arg = config.to_str().unwrap().to_owned();
    let start = |envs: &[(&str, &str)]| {
        let mut all = vec![("ASSETLIB_CONFIG", config_arg.as_str())];
        all.extend_from_slice(envs);
        ServerProcess::start(&backend, &data, &all)
    };
    let client = reqwest::Client::new();
    let probe = |base: String, key: String| {
        let client = client.clone();
        async move {
            let form = Form::new().part("file", Part::bytes(b"0123456789".to_vec()).file_name("p.txt"));
            let res = client
                .post(format!("{base}/v2/accounts/1/asset-library"))
                .header("jvx_apikey", &key)
                .multipart(form)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            let res = client.get(format!("{base}/files/1/p.txt")).send().await.unwrap();
            let cache = res.headers()["cache-control"].to_str().unwrap().to_owned();
            let listing: Value = client
                .get(format!("{base}/v2/accounts/1/asset-library"))
                .header("jvx_apikey", &key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let url = listing["files"][0]["cdnUrl"].as_str().unwrap().to_owned();
            let big = Form::new().part("file", Part::bytes(vec![b'x'; 101]).file_name("big.txt"));
            let too_big = client
                .post(format!("{base}/v2/accounts/1/asset-library"))
                .header("jvx_apikey", &key)
                .multipart(big)
                .send()
                .await
                .unwrap();
            let msg: Value = too_big.json().await.unwrap();
            (cache, url, msg["msg"].as_str().unwrap().to_owned())
        }
    };

    let server = start(&[]);
    let key = server.initial_key();
    let (cache, url, msg) = probe(server.base.clone(), key.clone()).await;
    assert_eq!(cache, "from-file");
    assert_eq!(url, "https://file.example/files/1/p.txt");
    assert_eq!(msg, "File size exceeds the maximum allowed size of 100 B.");
    drop(server);

    let server = start(&[("ASSETLIB_CACHE_CONTROL", "from-env"), ("ASSETLIB_PUBLIC_BASE_URL", "https://env.example")]);
    let (cache, url, _) = probe(server.base.clone(), key.clone()).await;
    assert_eq!(cache, "from-env");
    assert_eq!(url, "https://env.example/files/1/p.txt");
    drop(server);

    // A flag beats the environment.
    let server = ServerProcess::start_with_args(
        &backend,
        &data,
        &[("ASSETLIB_CONFIG", config_arg.as_str()), ("ASSETLIB_PUBLIC_BASE_URL", "https://env.example")],
        &["--public-base-url", "https://flag.example"],
    );
    let (_, url, _) = probe(server.base.clone(), key).await;
    assert_eq!(url, "https://flag.example/files/1/p.txt");
    drop(server);
}

#[test]
fn unknown_config_keys_and_bad_urls_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "no_such_key = 1\n").unwrap();
    let out = Command::new(binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("d"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_key"));
    let out = Command::new(binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", "mysql://x", "--data-dir"])
        .arg(dir.path().join("d"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Unsupported database URL"));
}
