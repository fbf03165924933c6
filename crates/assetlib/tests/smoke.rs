mod common;

#[tokio::test]
async fn harness_uploads_and_serves() {
    let app = common::TestApp::spawn().await;
    let q = app.put(Some("a"), "x.png", common::png()).await;
    assert_eq!(q.len(), 32);
    let res = app.client.get(app.url("/files/1/a/x.png")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().to_vec(), common::png());
    app.stop().await;
}
