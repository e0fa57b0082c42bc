//! The request size limit, answered as gRPC specifies: a message larger than the configured
//! limit is RESOURCE_EXHAUSTED, with the limit in the message ([`crate::error::request_too_large`]).
//!
//! tonic's own check (`max_decoding_message_size`, kept as a backstop) answers OUT_OF_RANGE.
//! This layer reads the 5-byte gRPC frame headers of the request body as the bytes pass, and
//! fails the body with the right status as soon as a header announces a message past the
//! limit: before tonic sees that header, and before any of the message is buffered.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tonic::Status;
use tonic::body::Body;

/// Wraps every request body in a [`LimitedBody`].
#[derive(Debug, Clone, Copy)]
pub struct RequestSizeLayer {
    limit: usize,
}

impl RequestSizeLayer {
    pub fn new(limit: usize) -> Self {
        Self { limit }
    }
}

impl<S> tower::Layer<S> for RequestSizeLayer {
    type Service = RequestSize<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestSize {
            inner,
            limit: self.limit,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RequestSize<S> {
    inner: S,
    limit: usize,
}

impl<S> tower::Service<http::Request<Body>> for RequestSize<S>
where
    S: tower::Service<http::Request<Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let limit = self.limit;
        self.inner
            .call(request.map(|body| Body::new(LimitedBody::new(body, limit))))
    }
}

/// Where the scan is in the stream of length-prefixed messages.
#[derive(Debug, Default)]
struct Framing {
    /// The header being read: compression flag, then the big-endian length.
    header: [u8; 5],
    filled: usize,
    /// Bytes of the current message still to pass.
    remaining: usize,
}

impl Framing {
    /// Follows `chunk`; on a header announcing more than `limit` bytes, where that header
    /// starts in the chunk (0 if it began in an earlier one) and the length announced.
    fn scan(&mut self, chunk: &[u8], limit: usize) -> Result<(), (usize, usize)> {
        let mut at = 0;
        let mut header_start = 0;
        while at < chunk.len() {
            if self.remaining > 0 {
                let take = self.remaining.min(chunk.len() - at);
                self.remaining -= take;
                at += take;
                continue;
            }
            if self.filled == 0 {
                header_start = at;
            }
            self.header[self.filled] = chunk[at];
            self.filled += 1;
            at += 1;
            if self.filled == self.header.len() {
                self.filled = 0;
                let [_, a, b, c, d] = self.header;
                let length =
                    usize::try_from(u32::from_be_bytes([a, b, c, d])).unwrap_or(usize::MAX);
                if length > limit {
                    return Err((header_start, length));
                }
                self.remaining = length;
            }
        }
        Ok(())
    }
}

/// A request body that ends in RESOURCE_EXHAUSTED at the first message past the limit; the
/// messages before it pass whole.
struct LimitedBody {
    inner: Body,
    limit: usize,
    framing: Framing,
    /// The refusal, once the bytes before the oversized message have been passed on.
    refusal: Option<Status>,
    refused: bool,
}

impl LimitedBody {
    fn new(inner: Body, limit: usize) -> Self {
        Self {
            inner,
            limit,
            framing: Framing::default(),
            refusal: None,
            refused: false,
        }
    }
}

impl http_body::Body for LimitedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        if let Some(status) = this.refusal.take() {
            return Poll::Ready(Some(Err(status)));
        }
        if this.refused {
            return Poll::Ready(None);
        }
        let frame = match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => frame,
            other => return Poll::Ready(other),
        };
        let data = match frame.into_data() {
            Ok(data) => data,
            Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
        };
        match this.framing.scan(&data, this.limit) {
            Ok(()) => Poll::Ready(Some(Ok(Frame::data(data)))),
            Err((start, length)) => {
                this.refused = true;
                let status = crate::error::request_too_large(length, this.limit);
                if start == 0 {
                    Poll::Ready(Some(Err(status)))
                } else {
                    this.refusal = Some(status);
                    Poll::Ready(Some(Ok(Frame::data(data.slice(..start)))))
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        (self.refused && self.refusal.is_none()) || (!self.refused && self.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        // The body may end early: only an upper bound holds.
        let mut hint = SizeHint::new();
        if let Some(upper) = self.inner.size_hint().upper() {
            hint.set_upper(upper);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::Framing;

    fn frame(length: u32) -> Vec<u8> {
        let mut bytes = vec![0];
        bytes.extend_from_slice(&length.to_be_bytes());
        bytes.extend(std::iter::repeat_n(
            7u8,
            usize::try_from(length).expect("small"),
        ));
        bytes
    }

    #[test]
    fn messages_within_the_limit_pass_whatever_the_chunking() {
        let stream: Vec<u8> = [frame(10), frame(0), frame(100)].concat();
        for chunk_size in [1, 2, 3, 5, 7, 64, 1024] {
            let mut framing = Framing::default();
            for chunk in stream.chunks(chunk_size) {
                assert_eq!(framing.scan(chunk, 100), Ok(()), "chunks of {chunk_size}");
            }
        }
    }

    #[test]
    fn an_oversized_header_is_found_where_it_starts() {
        let stream: Vec<u8> = [frame(10), frame(101)].concat();
        let mut framing = Framing::default();
        assert_eq!(framing.scan(&stream, 100), Err((15, 101)));
        // Split inside the header: it started in the earlier chunk.
        let mut framing = Framing::default();
        assert_eq!(framing.scan(&stream[..17], 100), Ok(()));
        assert_eq!(framing.scan(&stream[17..], 100), Err((0, 101)));
        // A length past u32 range cannot be; the largest u32 is refused.
        let mut framing = Framing::default();
        assert_eq!(
            framing.scan(&[0, 0xff, 0xff, 0xff, 0xff], 1 << 20),
            Err((0, usize::try_from(u32::MAX).expect("fits")))
        );
    }
}
