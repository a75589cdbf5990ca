//! A minimal "browser" for the OAuth tests: plain GETs over real TCP that follow
//! redirects the way a browser does.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use url::Url;

/// One page the browser landed on.
#[derive(Debug)]
pub struct Page {
    /// Every URL requested, in order (the last one answered `body`).
    pub visited: Vec<Url>,
    pub status: u16,
    pub body: String,
}

/// GETs `url` and follows `Location` headers (up to 10 hops).
pub async fn open(url: Url) -> Page {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut visited = vec![];
    let mut url = url;
    for _ in 0..10 {
        visited.push(url.clone());
        let uri: hyper::Uri = url.as_str().parse().expect("uri");
        let response = client.get(uri).await.expect("browser GET");
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(hyper::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        match location {
            Some(next) if (300..400).contains(&status) => {
                url = url.join(&next).expect("redirect target");
            }
            _ => {
                return Page {
                    visited,
                    status,
                    body: String::from_utf8_lossy(&body).into_owned(),
                }
            }
        }
    }
    panic!("too many redirects: {visited:?}");
}

/// The code shown by neuro-local's headless page.
pub fn shown_code(page: &Page) -> String {
    let start = page.body.find("<code id=\"code\">").expect("code element") + 16;
    let end = page.body[start..].find("</code>").expect("end of code") + start;
    page.body[start..end].to_owned()
}
