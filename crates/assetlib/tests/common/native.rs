//! Calls of the native API (`Authorization: Bearer KEY`) and checks of its problem answers.

use super::TestApp;
use reqwest::Method;
use serde_json::Value;

pub struct Api<'a> {
    pub app: &'a TestApp,
}

impl Api<'_> {
    pub async fn call(
        &self,
        key: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let bearer = key.map(|key| format!("Bearer {key}"));
        let headers: Vec<(&str, &str)> = bearer.iter().map(|b| ("authorization", b.as_str())).collect();
        self.request(method, path, &headers, body).await
    }

    /// A call with these headers (and a JSON body, if any): status, parsed body, headers.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut req = self.app.client.request(method, self.app.url(path));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, value, headers)
    }

    pub async fn get(&self, key: &str, path: &str) -> (u16, Value) {
        let (s, v, _) = self.call(Some(key), Method::GET, path, None).await;
        (s, v)
    }

    pub async fn send(&self, key: &str, method: Method, path: &str, body: Value) -> (u16, Value) {
        let (s, v, _) = self.call(Some(key), method, path, Some(body)).await;
        (s, v)
    }
}

/// A problem+json answer with this status, code and parameter.
#[track_caller]
pub fn problem(got: &(u16, Value), status: u16, code: &str, param: Option<&str>) {
    let (s, body) = got;
    assert_eq!((*s, body["code"].as_str()), (status, Some(code)), "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert!(body["type"].as_str().is_some_and(|t| t.starts_with("urn:assetlib:problem:")), "{body}");
    assert!(body["title"].is_string() && body["detail"].is_string(), "{body}");
    assert_eq!(body["param"].as_str(), param, "{body}");
}
