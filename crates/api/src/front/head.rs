//! The pure half of the front door: reads the bytes a client sends, request
//! by request, and hands the HTTP parser heads it will take.
//!
//! actix-web's parser answers an empty, non-SCIM `400` (or closes) for heads
//! it refuses — a raw `"` in the request target, as Entra's validator and
//! Okta's test suite send in filters; a request line it cannot read; a
//! 100 KB URL; too many headers; both `Content-Length` and
//! `Transfer-Encoding`. Such a head never becomes a request our handlers see.
//! So this layer, which does see the bytes, percent-encodes the characters
//! the parser refuses in the target (a server may: RFC 3986 §2.1 makes them
//! equivalent to their encodings for every component we read) and turns
//! every head it must refuse into a request for [`REFUSED_PATH`], whose
//! handler answers the SCIM error; then it ends the connection, since the
//! framing of whatever follows is unknown.
//!
//! To find each head it follows the framing of the bodies between them
//! (`Content-Length`, chunked), passing bodies through untouched.

/// The internal route a refused head becomes; `?reason=` names the refusal.
pub const REFUSED_PATH: &str = "/__rollcall/refused";

/// What this layer accepts; beyond these, a head is refused.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of a whole request head.
    pub head_bytes: usize,
    /// Bytes of the request target.
    pub target_bytes: usize,
    /// Header lines.
    pub headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // Below actix-http's own 128 KiB, above any header a client
            // needs (a 60 KiB User-Agent is taken, then stored bounded).
            head_bytes: 96 << 10,
            target_bytes: 16 << 10,
            headers: 64,
        }
    }
}

/// Why a head was refused; the refusal route answers with its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The request line or a header line does not parse.
    Malformed,
    /// The target is longer than [`Limits::target_bytes`].
    TargetTooLong,
    /// More than [`Limits::headers`] headers, or a head over [`Limits::head_bytes`].
    HeadTooLarge,
    /// Conflicting or unusable `Content-Length` / `Transfer-Encoding`.
    AmbiguousFraming,
    /// The head did not arrive in time.
    TimedOut,
}

impl Refusal {
    /// The name in `?reason=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed",
            Refusal::TargetTooLong => "target-too-long",
            Refusal::HeadTooLarge => "head-too-large",
            Refusal::AmbiguousFraming => "ambiguous-framing",
            Refusal::TimedOut => "timed-out",
        }
    }

    /// The refusal named `reason`.
    pub fn parse(reason: &str) -> Option<Refusal> {
        [
            Refusal::Malformed,
            Refusal::TargetTooLong,
            Refusal::HeadTooLarge,
            Refusal::AmbiguousFraming,
            Refusal::TimedOut,
        ]
        .into_iter()
        .find(|refusal| refusal.as_str() == reason)
    }
}

#[derive(Debug)]
enum State {
    /// Collecting a head (empty: between requests).
    Head,
    /// Passing this many body bytes through.
    Body(u64),
    /// Passing a chunked body through.
    Chunked(Chunk),
    /// A head was refused: nothing more is read from this connection.
    Closed,
}

#[derive(Debug)]
enum Chunk {
    /// Reading a chunk-size line.
    Size(Vec<u8>),
    /// Passing this many data bytes, then the CRLF after them.
    Data(u64),
    /// Passing the CRLF that ends a chunk's data (bytes still to pass).
    DataEnd(u8),
    /// Reading trailer lines after the last chunk (the current line).
    Trailers(Vec<u8>),
}

/// The front door's state for one connection.
#[derive(Debug)]
pub struct HeadGuard {
    limits: Limits,
    state: State,
    head: Vec<u8>,
    /// Whether `head` holds a whole request line already.
    past_request_line: bool,
}

impl HeadGuard {
    /// A guard for a new connection.
    pub fn new(limits: Limits) -> HeadGuard {
        HeadGuard {
            limits,
            state: State::Head,
            head: Vec::new(),
            past_request_line: false,
        }
    }

    /// Whether a head has begun and not yet ended (its time is running).
    pub fn in_head(&self) -> bool {
        matches!(self.state, State::Head) && !self.head.is_empty()
    }

    /// Whether a head was refused: the connection ends after what `out` holds.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Takes the bytes the client sent next and appends to `out` what the
    /// HTTP parser should read instead.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while !input.is_empty() {
            match &mut self.state {
                State::Closed => return,
                State::Head => {
                    let (line_end, rest) = match input.iter().position(|&b| b == b'\n') {
                        Some(at) => (true, at + 1),
                        None => (false, input.len()),
                    };
                    self.head.extend_from_slice(&input[..rest]);
                    input = &input[rest..];
                    let in_request_line = !self.past_request_line;
                    self.past_request_line |= line_end;
                    if in_request_line && self.head.len() > self.limits.target_bytes + 64 {
                        self.refuse(Refusal::TargetTooLong, out);
                    } else if self.head.len() > self.limits.head_bytes {
                        self.refuse(Refusal::HeadTooLarge, out);
                    } else if line_end && self.head_is_complete() {
                        self.finish_head(out);
                    }
                }
                State::Body(remaining) => {
                    let take = (*remaining).min(input.len() as u64) as usize;
                    out.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    *remaining -= take as u64;
                    if *remaining == 0 {
                        self.state = State::Head;
                    }
                }
                State::Chunked(chunk) => {
                    let (taken, next) = advance_chunk(chunk, input, out);
                    input = &input[taken..];
                    match next {
                        ChunkStep::Continue => {}
                        ChunkStep::Done => self.state = State::Head,
                        ChunkStep::Broken => self.close(out),
                    }
                }
            }
        }
    }

    /// The head did not arrive in time: turn it into a refusal.
    pub fn time_out(&mut self, out: &mut Vec<u8>) {
        self.refuse(Refusal::TimedOut, out);
    }

    /// A head ends with an empty line (CRLF or a bare LF). Leading empty
    /// lines before a request line are ignored, as RFC 9112 §2.2 allows.
    fn head_is_complete(&mut self) -> bool {
        let leading = self
            .head
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        if leading == self.head.len() {
            self.head.clear();
            self.past_request_line = false;
            return false;
        }
        self.head.ends_with(b"\n\n") || self.head.ends_with(b"\n\r\n")
    }

    fn finish_head(&mut self, out: &mut Vec<u8>) {
        let head = std::mem::take(&mut self.head);
        self.past_request_line = false;
        let start = head
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(0);
        let head = &head[start..];
        match read_head(head, &self.limits) {
            Ok(parsed) => {
                out.extend_from_slice(parsed.method);
                out.push(b' ');
                encode_target(parsed.target, out);
                out.push(b' ');
                out.extend_from_slice(&head[parsed.version_start..]);
                self.state = parsed.framing;
            }
            Err(refusal) => self.refuse(refusal, out),
        }
    }

    fn refuse(&mut self, refusal: Refusal, out: &mut Vec<u8>) {
        self.head.clear();
        out.extend_from_slice(
            format!(
                "GET {REFUSED_PATH}?reason={} HTTP/1.1\r\nHost: rollcall\r\n\
                 Connection: close\r\nContent-Length: 0\r\n\r\n",
                refusal.as_str()
            )
            .as_bytes(),
        );
        self.state = State::Closed;
    }

    /// A body whose framing broke: nothing after it can be read as a request.
    fn close(&mut self, _out: &mut Vec<u8>) {
        self.state = State::Closed;
    }
}

struct ParsedHead<'a> {
    method: &'a [u8],
    target: &'a [u8],
    /// Where `HTTP/1.x` starts: the rest of the head goes on unchanged.
    version_start: usize,
    framing: State,
}

fn read_head<'a>(head: &'a [u8], limits: &Limits) -> Result<ParsedHead<'a>, Refusal> {
    let line_end = head
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(Refusal::Malformed)?;
    let line = trim_cr(&head[..line_end]);
    let mut parts = line.splitn(3, |&b| b == b' ');
    let method = parts.next().ok_or(Refusal::Malformed)?;
    let target = parts.next().ok_or(Refusal::Malformed)?;
    let version = parts.next().ok_or(Refusal::Malformed)?;
    if method.is_empty() || !method.iter().all(|&b| is_token(b)) {
        return Err(Refusal::Malformed);
    }
    if target.len() > limits.target_bytes {
        return Err(Refusal::TargetTooLong);
    }
    if target.is_empty() || target.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(Refusal::Malformed);
    }
    if version != b"HTTP/1.1" && version != b"HTTP/1.0" {
        return Err(Refusal::Malformed);
    }
    let version_start = method.len() + 1 + target.len() + 1;
    let mut content_length: Option<u64> = None;
    let mut chunked = None;
    let mut count = 0;
    for line in head[line_end + 1..].split(|&b| b == b'\n').map(trim_cr) {
        if line.is_empty() {
            break;
        }
        count += 1;
        if count > limits.headers {
            return Err(Refusal::HeadTooLarge);
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(Refusal::Malformed)?;
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
            return Err(Refusal::Malformed);
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            let length = std::str::from_utf8(value)
                .ok()
                .and_then(|text| text.parse::<u64>().ok())
                .ok_or(Refusal::AmbiguousFraming)?;
            if content_length.is_some_and(|seen| seen != length) {
                return Err(Refusal::AmbiguousFraming);
            }
            content_length = Some(length);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let last = value.rsplit(|&b| b == b',').next().map(trim).unwrap_or(b"");
            if chunked.is_some() || !last.eq_ignore_ascii_case(b"chunked") {
                return Err(Refusal::AmbiguousFraming);
            }
            chunked = Some(());
        }
    }
    let framing = match (content_length, chunked) {
        (Some(_), Some(())) => return Err(Refusal::AmbiguousFraming),
        (None, Some(())) => State::Chunked(Chunk::Size(Vec::new())),
        (Some(length), None) if length > 0 => State::Body(length),
        _ => State::Head,
    };
    Ok(ParsedHead {
        method,
        target,
        version_start,
        framing,
    })
}

enum ChunkStep {
    Continue,
    Done,
    Broken,
}

/// The longest chunk-size or trailer line followed.
const MAX_CHUNK_LINE: usize = 4096;

/// Passes chunked body bytes through; returns how many it took.
fn advance_chunk(chunk: &mut Chunk, input: &[u8], out: &mut Vec<u8>) -> (usize, ChunkStep) {
    match chunk {
        Chunk::Size(line) | Chunk::Trailers(line) => {
            let (rest, complete) = match input.iter().position(|&b| b == b'\n') {
                Some(at) => (at + 1, true),
                None => (input.len(), false),
            };
            line.extend_from_slice(&input[..rest]);
            out.extend_from_slice(&input[..rest]);
            if line.len() > MAX_CHUNK_LINE {
                return (rest, ChunkStep::Broken);
            }
            if !complete {
                return (rest, ChunkStep::Continue);
            }
            let text = trim_cr(&line[..line.len() - 1]).to_vec();
            line.clear();
            if matches!(chunk, Chunk::Trailers(_)) {
                let step = if text.is_empty() {
                    ChunkStep::Done
                } else {
                    ChunkStep::Continue
                };
                return (rest, step);
            }
            let size = text.split(|&b| b == b';').next().map(trim).unwrap_or(b"");
            let size = std::str::from_utf8(size)
                .ok()
                .and_then(|hex| u64::from_str_radix(hex, 16).ok());
            *chunk = match size {
                None => return (rest, ChunkStep::Broken),
                Some(0) => Chunk::Trailers(Vec::new()),
                Some(size) => Chunk::Data(size),
            };
            (rest, ChunkStep::Continue)
        }
        Chunk::Data(remaining) => {
            let take = (*remaining).min(input.len() as u64) as usize;
            out.extend_from_slice(&input[..take]);
            *remaining -= take as u64;
            if *remaining == 0 {
                *chunk = Chunk::DataEnd(2);
            }
            (take, ChunkStep::Continue)
        }
        Chunk::DataEnd(left) => {
            // CRLF, or a bare LF: pass what comes until the LF.
            let byte = input[0];
            out.push(byte);
            *left -= 1;
            if byte == b'\n' || *left == 0 {
                *chunk = Chunk::Size(Vec::new());
            }
            (1, ChunkStep::Continue)
        }
    }
}

/// Percent-encodes what the HTTP parser refuses in a target; everything
/// else, `%` included, goes through as sent.
fn encode_target(target: &[u8], out: &mut Vec<u8>) {
    for &byte in target {
        if byte > 0x20 && byte < 0x7f && !b"\"<>\\^`{|}".contains(&byte) {
            out.push(byte);
        } else {
            out.extend_from_slice(format!("%{byte:02X}").as_bytes());
        }
    }
}

fn is_token(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |at| at + 1);
    &value[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes; returns what came out.
    fn run(input: &[u8], step: usize) -> (String, bool) {
        let mut guard = HeadGuard::new(Limits::default());
        let mut out = Vec::new();
        for piece in input.chunks(step) {
            guard.feed(piece, &mut out);
        }
        (
            String::from_utf8_lossy(&out).into_owned(),
            guard.is_closed(),
        )
    }

    fn every_split(input: &[u8]) -> (String, bool) {
        let whole = run(input, input.len().max(1));
        for step in [1, 2, 3, 7, 64] {
            assert_eq!(run(input, step), whole, "fed {step} bytes at a time");
        }
        whole
    }

    #[test]
    fn raw_quotes_in_a_filter_become_what_the_encoded_form_is() {
        let sent = b"GET /scim_v2/Users?filter=userName+eq+\"a+b\"&x=<{|}>\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n";
        let (out, closed) = every_split(sent);
        assert_eq!(
            out,
            "GET /scim_v2/Users?filter=userName+eq+%22a+b%22&x=%3C%7B%7C%7D%3E%C3%A9 HTTP/1.1\r\nHost: h\r\n\r\n"
        );
        assert!(!closed);
    }

    #[test]
    fn bodies_pass_untouched_and_the_next_head_is_found_after_them() {
        let sent = b"POST /a HTTP/1.1\r\nContent-Length: 9\r\n\r\n{\"q\":\"\"}\nGET /b?x=\" HTTP/1.1\r\n\r\n";
        let (out, _) = every_split(sent);
        assert_eq!(
            out,
            "POST /a HTTP/1.1\r\nContent-Length: 9\r\n\r\n{\"q\":\"\"}\nGET /b?x=%22 HTTP/1.1\r\n\r\n"
        );
        let chunked = b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\n\"<>\"\r\n0\r\nX: y\r\n\r\nGET /\" HTTP/1.1\r\n\r\n";
        let (out, _) = every_split(chunked);
        assert!(
            out.ends_with("0\r\nX: y\r\n\r\nGET /%22 HTTP/1.1\r\n\r\n")
                && out.contains("\r\n\"<>\"\r\n"),
            "{out}"
        );
    }

    #[test]
    fn heads_the_parser_would_refuse_become_the_refusal_route() {
        let long_target = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(20 << 10));
        let many_headers = format!("GET / HTTP/1.1\r\n{}\r\n", "X: y\r\n".repeat(65));
        let cases: [(&[u8], Refusal); 7] = [
            (b"NOT A REQUEST LINE AT ALL\r\n\r\n", Refusal::Malformed),
            (b"GET / HTTP/9\r\n\r\n", Refusal::Malformed),
            (
                b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
                Refusal::Malformed,
            ),
            (long_target.as_bytes(), Refusal::TargetTooLong),
            (many_headers.as_bytes(), Refusal::HeadTooLarge),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                Refusal::AmbiguousFraming,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
                Refusal::AmbiguousFraming,
            ),
        ];
        for (sent, refusal) in cases {
            let (out, closed) = every_split(sent);
            assert!(
                out.starts_with(&format!(
                    "GET {REFUSED_PATH}?reason={} HTTP/1.1\r\n",
                    refusal.as_str()
                )),
                "{out}"
            );
            assert!(closed);
        }
    }

    #[test]
    fn a_head_over_its_limit_is_refused_without_waiting_for_its_end() {
        let mut guard = HeadGuard::new(Limits::default());
        let mut out = Vec::new();
        guard.feed(b"GET / HTTP/1.1\r\nX: ", &mut out);
        guard.feed(&vec![b'a'; 100 << 10], &mut out);
        assert!(guard.is_closed());
        assert!(String::from_utf8_lossy(&out).contains("reason=head-too-large"));
    }
}
