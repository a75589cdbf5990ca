//! Line-delimited JSON (NDJSON) response bodies.
//!
//! Wire notes §1.5, §7.7, §13: the body is split on `\n`; each line is one JSON document
//! (a blank line is an error, as with the Python SDK's `json.loads`); the last line needs
//! no newline; a line with an `"error"` key aborts the stream. A line longer than
//! [`MAX_LINE_LENGTH`] is refused, as aiohttp refuses lines over twice its 4 MiB buffer.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::stream::{self, Stream, StreamExt, TryStreamExt};
use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::errno::Errno;
use crate::error::{json_message, Error};

/// The longest accepted line, without its newline: 8 MiB.
pub const MAX_LINE_LENGTH: usize = 8 * 1024 * 1024;

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Error>> + Send + 'static>>;

/// Splits byte chunks into lines, whatever the chunk boundaries.
#[derive(Debug)]
struct LineSplitter {
    buf: BytesMut,
    /// How much of `buf` is known to contain no `\n`.
    scanned: usize,
    max: usize,
}

impl LineSplitter {
    fn new(max: usize) -> Self {
        LineSplitter {
            buf: BytesMut::new(),
            scanned: 0,
            max,
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete line (without `\n` or `\r\n`), if one is buffered.
    fn next_line(&mut self) -> Result<Option<Bytes>, Error> {
        match self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
            Some(pos) => {
                let end = self.scanned + pos;
                let mut line = self.buf.split_to(end + 1);
                line.truncate(end);
                self.scanned = 0;
                self.finish_line(line)
            }
            None => {
                self.scanned = self.buf.len();
                if self.buf.len() > self.max {
                    return Err(Error::LineTooLong { limit: self.max });
                }
                Ok(None)
            }
        }
    }

    /// The unterminated last line at end of input, if any.
    fn finish(&mut self) -> Result<Option<Bytes>, Error> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let line = self.buf.split();
        self.scanned = 0;
        self.finish_line(line)
    }

    fn finish_line(&self, mut line: BytesMut) -> Result<Option<Bytes>, Error> {
        if line.last() == Some(&b'\r') {
            line.truncate(line.len() - 1);
        }
        if line.len() > self.max {
            return Err(Error::LineTooLong { limit: self.max });
        }
        Ok(Some(line.freeze()))
    }
}

/// A stream of the lines of a byte stream, without their `\n` (or `\r\n`).
///
/// Errors from the byte stream are passed on; after an error the stream ends.
pub struct LineStream {
    chunks: BoxStream<Bytes>,
    splitter: LineSplitter,
    done: bool,
}

impl LineStream {
    /// Splits a stream of byte chunks, refusing lines over [`MAX_LINE_LENGTH`].
    pub fn new<S>(chunks: S) -> Self
    where
        S: Stream<Item = Result<Bytes, Error>> + Send + 'static,
    {
        Self::with_max_line_length(chunks, MAX_LINE_LENGTH)
    }

    /// Splits a stream of byte chunks, refusing lines longer than `max` bytes.
    pub fn with_max_line_length<S>(chunks: S, max: usize) -> Self
    where
        S: Stream<Item = Result<Bytes, Error>> + Send + 'static,
    {
        LineStream {
            chunks: Box::pin(chunks),
            splitter: LineSplitter::new(max),
            done: false,
        }
    }
}

impl Stream for LineStream {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            match this.splitter.next_line() {
                Ok(Some(line)) => return Poll::Ready(Some(Ok(line))),
                Ok(None) => {}
                Err(e) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
            match this.chunks.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => this.splitter.push(&chunk),
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(this.splitter.finish().transpose());
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl fmt::Debug for LineStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LineStream")
            .field("buffered", &self.splitter.buf.len())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// A `'static + Send` stream of decoded NDJSON items.
///
/// A line that is a JSON object with an `"error"` key becomes one [`Error::Ndjson`] item,
/// after which the stream ends; so does the first decoding or transport error.
pub struct NdjsonStream<T> {
    inner: BoxStream<T>,
}

impl<T: DeserializeOwned + Send + 'static> NdjsonStream<T> {
    /// Decodes each line of `lines` as a `T`.
    pub fn new(lines: LineStream) -> Self {
        Self::from_stream(lines.map(|line| line.and_then(|l| decode_line(&l))))
    }

    /// Splits and decodes a stream of byte chunks.
    pub fn from_chunks<S>(chunks: S) -> Self
    where
        S: Stream<Item = Result<Bytes, Error>> + Send + 'static,
    {
        Self::new(LineStream::new(chunks))
    }

    /// Items that are already decoded, e.g. from a plain JSON fallback body.
    pub fn from_items(items: Vec<T>) -> Self {
        Self::from_stream(stream::iter(items.into_iter().map(Ok)))
    }

    /// Wraps any stream of results; the stream ends after its first error.
    pub fn from_stream<S>(items: S) -> Self
    where
        S: Stream<Item = Result<T, Error>> + Send + 'static,
    {
        let fused = items.scan(false, |failed, item| {
            let out = if *failed {
                None
            } else {
                *failed = item.is_err();
                Some(item)
            };
            futures::future::ready(out)
        });
        NdjsonStream {
            inner: Box::pin(fused),
        }
    }

    /// A stream that yields the items of a future's `Vec`, or its error.
    pub(crate) fn from_future<F>(fut: F) -> Self
    where
        F: std::future::Future<Output = Result<Vec<T>, Error>> + Send + 'static,
    {
        Self::from_stream(
            stream::once(fut)
                .map_ok(|items| stream::iter(items.into_iter().map(Ok)))
                .try_flatten(),
        )
    }
}

impl<T> Stream for NdjsonStream<T> {
    type Item = Result<T, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl<T> fmt::Debug for NdjsonStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NdjsonStream")
    }
}

/// Decodes one NDJSON line: an `{"error": …}` object gives [`Error::Ndjson`] (with the
/// line's `errno` unless absent or `null`), anything else is decoded as a `T`.
pub fn decode_line<T: DeserializeOwned>(line: &[u8]) -> Result<T, Error> {
    if let Ok(ErrorProbe(Some(err))) = serde_json::from_slice::<ErrorProbe>(line) {
        return Err(err);
    }
    serde_json::from_slice(line).map_err(|e| Error::json("NDJSON line", e))
}

/// Checks whether a JSON document is an object with an `error` key, without building
/// the whole document.
struct ErrorProbe(Option<Error>);

impl<'de> Deserialize<'de> for ErrorProbe {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ProbeVisitor)
    }
}

struct ProbeVisitor;

impl<'de> Visitor<'de> for ProbeVisitor {
    type Value = ErrorProbe;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ErrorProbe, A::Error> {
        let mut error: Option<Value> = None;
        let mut errno: Option<Value> = None;
        while let Some(key) = map.next_key::<ProbeKey>()? {
            match key {
                ProbeKey::Error => error = Some(map.next_value()?),
                ProbeKey::Errno => errno = Some(map.next_value()?),
                ProbeKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(ErrorProbe(error.map(|e| Error::Ndjson {
            message: json_message(&e),
            errno: errno.as_ref().and_then(Errno::from_json),
        })))
    }
}

enum ProbeKey {
    Error,
    Errno,
    Other,
}

impl<'de> Deserialize<'de> for ProbeKey {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = ProbeKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ProbeKey, E> {
                Ok(match v {
                    "error" => ProbeKey::Error,
                    "errno" => ProbeKey::Errno,
                    _ => ProbeKey::Other,
                })
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use serde_json::json;

    fn chunks(parts: &[&[u8]]) -> impl Stream<Item = Result<Bytes, Error>> + Send + 'static {
        let owned: Vec<Result<Bytes, Error>> = parts
            .iter()
            .map(|p| Ok(Bytes::copy_from_slice(p)))
            .collect();
        stream::iter(owned)
    }

    async fn lines(parts: &[&[u8]]) -> Vec<Result<Bytes, Error>> {
        LineStream::new(chunks(parts)).collect().await
    }

    async fn values(parts: &[&[u8]]) -> Vec<Result<Value, Error>> {
        NdjsonStream::<Value>::from_chunks(chunks(parts))
            .collect()
            .await
    }

    fn ok_lines(v: Vec<Result<Bytes, Error>>) -> Vec<String> {
        v.into_iter()
            .map(|l| String::from_utf8(l.unwrap().to_vec()).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn splits_across_chunk_boundaries() {
        let got = lines(&[b"{\"a\"", b":1}\n{\"b\":", b"2}\n", b"{\"c\":3}"]).await;
        assert_eq!(
            ok_lines(got),
            vec![r#"{"a":1}"#, r#"{"b":2}"#, r#"{"c":3}"#]
        );
        let got = lines(&[b"x\ny\nz\n"]).await;
        assert_eq!(ok_lines(got), vec!["x", "y", "z"]);
        let bytes: Vec<&[u8]> = b"ab\ncd\n".chunks(1).collect();
        assert_eq!(ok_lines(lines(&bytes).await), vec!["ab", "cd"]);
    }

    #[tokio::test]
    async fn crlf_and_trailing_newline() {
        let got = lines(&[b"a\r", b"\nb\r\n"]).await;
        assert_eq!(ok_lines(got), vec!["a", "b"]);
        assert!(lines(&[]).await.is_empty());
        assert!(lines(&[b""]).await.is_empty());
        assert_eq!(ok_lines(lines(&[b"\n"]).await), vec![""]);
    }

    #[tokio::test]
    async fn decodes_values_without_final_newline() {
        let got = values(&[b"{\"a\":1}\n{\"a\"", b":2}"]).await;
        let got: Vec<Value> = got.into_iter().map(Result::unwrap).collect();
        assert_eq!(got, vec![json!({"a": 1}), json!({"a": 2})]);
    }

    #[tokio::test]
    async fn blank_line_is_an_error() {
        let got = values(&[b"{\"a\":1}\n\n{\"a\":2}\n"]).await;
        assert_eq!(got.len(), 2);
        assert!(got[0].is_ok());
        assert!(matches!(got[1], Err(Error::Json { .. })));
        let got = values(&[b"{\"a\":1}\r\n\r\n"]).await;
        assert!(matches!(got[1], Err(Error::Json { .. })));
        let got = values(&[b"  \n"]).await;
        assert!(matches!(got[0], Err(Error::Json { .. })));
    }

    #[tokio::test]
    async fn error_line_ends_stream() {
        let got =
            values(&[b"{\"a\":1}\n{\"error\": \"boom\", \"errno\": \"ENOENT\"}\n{\"a\":2}\n"])
                .await;
        assert_eq!(got.len(), 2);
        match &got[1] {
            Err(Error::Ndjson { message, errno }) => {
                assert_eq!(message, "boom");
                assert_eq!(errno, &Some(Errno::Name("ENOENT".into())));
            }
            other => panic!("unexpected {other:?}"),
        }
        let got = values(&[b"{\"error\": \"x\", \"errno\": null}"]).await;
        assert!(matches!(&got[..], [Err(Error::Ndjson { errno: None, .. })]));
        // any value under "error" counts, as with Python's `in`
        let got = values(&[b"{\"error\": null}\n"]).await;
        assert!(matches!(&got[..], [Err(Error::Ndjson { .. })]));
        // arrays are not error objects
        let got = values(&[b"[\"error\"]\n"]).await;
        assert_eq!(got[0].as_ref().unwrap(), &json!(["error"]));
    }

    #[tokio::test]
    async fn error_line_errno_gives_the_io_kind() {
        // A recursive DELETE of the storage service failing half-way.
        let got = values(&[
            b"{\"path\": \"/a/x\", \"is_dir\": false}\r\n",
            b"{\"error\": \"Permission denied\", \"errno\": \"EACCES\"}\r\n",
            b"{\"path\": \"/a\", \"is_dir\": true}\r\n",
        ])
        .await;
        assert_eq!(got.len(), 2);
        let err = got[1].as_ref().unwrap_err();
        assert_eq!(
            err.io_error_kind(),
            Some(std::io::ErrorKind::PermissionDenied)
        );
        let got = values(&[b"{\"error\": \"gone\", \"errno\": \"ENOENT\"}\n"]).await;
        assert!(got[0].as_ref().unwrap_err().is_not_found());
        // Without an errno (absent or null) the line is no OS error.
        for line in [
            &b"{\"error\": \"no errno\"}\n"[..],
            b"{\"error\": \"odd\", \"errno\": null}\n",
        ] {
            let got = values(&[line]).await;
            match &got[..] {
                [Err(err @ Error::Ndjson { errno: None, .. })] => {
                    assert_eq!(err.io_error_kind(), None);
                    assert!(!err.is_not_found());
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn error_line_even_if_t_would_accept_it() {
        #[derive(Deserialize, Debug)]
        struct Loose {
            #[serde(default)]
            _a: Option<u32>,
        }
        let got: Vec<Result<Loose, Error>> =
            NdjsonStream::from_chunks(chunks(&[b"{}\n{\"error\":\"e\"}\n{}\n"]))
                .collect()
                .await;
        assert_eq!(got.len(), 2);
        assert!(matches!(got[1], Err(Error::Ndjson { .. })));
    }

    #[tokio::test]
    async fn line_length_limit() {
        let limit = 8;
        let split = |parts: &[&[u8]]| {
            LineStream::with_max_line_length(chunks(parts), limit).collect::<Vec<_>>()
        };
        let got = split(&[b"12345678\n123456789\nzz\n"]).await;
        assert_eq!(got.len(), 2);
        assert!(got[0].is_ok());
        assert!(matches!(got[1], Err(Error::LineTooLong { limit: 8 })));
        // an unterminated long line is refused before the newline arrives
        let got = split(&[b"12345", b"6789"]).await;
        assert!(matches!(&got[..], [Err(Error::LineTooLong { .. })]));
        // CR does not count
        let got = split(&[b"12345678\r\n"]).await;
        assert!(got[0].is_ok());
    }

    #[tokio::test]
    async fn default_limit_is_8_mib() {
        let ok = vec![b'x'; MAX_LINE_LENGTH];
        let mut long = ok.clone();
        long.push(b'x');
        let got = lines(&[&ok, b"\n"]).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_ref().unwrap().len(), MAX_LINE_LENGTH);
        let got = lines(&[&long[..4], &long[4..], b"\n"]).await;
        assert!(matches!(&got[..], [Err(Error::LineTooLong { .. })]));
    }

    #[tokio::test]
    async fn transport_error_passes_through_and_ends() {
        let parts: Vec<Result<Bytes, Error>> = vec![
            Ok(Bytes::from_static(b"{\"a\":1}\n{\"a\"")),
            Err(Error::Timeout(crate::TimeoutPhase::ResponseBody)),
            Ok(Bytes::from_static(b":2}\n")),
        ];
        let got: Vec<_> = NdjsonStream::<Value>::from_chunks(stream::iter(parts))
            .collect()
            .await;
        assert_eq!(got.len(), 2);
        assert!(matches!(got[1], Err(Error::Timeout(_))));
    }

    #[test]
    fn streams_are_send_and_static() {
        fn check<S: Stream + Send + Unpin + 'static>() {}
        check::<LineStream>();
        check::<NdjsonStream<Value>>();
    }

    #[tokio::test]
    async fn from_items_and_future() {
        let got: Vec<_> = NdjsonStream::from_items(vec![1, 2]).collect().await;
        assert_eq!(
            got.into_iter().map(Result::unwrap).collect::<Vec<i32>>(),
            [1, 2]
        );
        let got: Vec<Result<i32, Error>> =
            NdjsonStream::from_future(async { Err(Error::Redirect("x".into())) })
                .collect()
                .await;
        assert!(matches!(&got[..], [Err(Error::Redirect(_))]));
    }
}
