//! The benchmark's instant sink, native: answers every batch request as soon as its body has arrived, so a
//! client's wall time is the client's own and the receiving side takes as little of the machine as it can.
//!
//! Customer.io's servers do not share the client's CPU; on this 2-vCPU machine the sink does. The Node sink
//! (`bench/js/sink.mjs`, same answers, same summary) spent ~0.6–0.7 s of user CPU per million events in Node's
//! HTTP parsing and buffer handling, on the vCPU a concurrent client needs and a one-call-at-a-time client
//! leaves idle. This one reads each body straight into its buffer (the kernel's copy only), one thread per
//! connection, and leaves parsing to the summary.
//!
//! Answers: 413 for bodies of 500,000 bytes or more (as the real APIs do), 401 for requests without an
//! `Authorization` header unless the body is JSON with a `writeKey` (Pipelines from a browser), 200 `{}` to the
//! rest. `GET /__sink/summary` parses the bodies kept since the last summary and answers requests, bytes,
//! largest body, items (entries of `batch`, else 1 per body), bodies that were not JSON, refusals, the most
//! requests in flight at once, the first and last answer's time (ms since the epoch), and the CPU this process
//! has used since it started or was last reset (`cpuSecs`, user + system). `POST /__sink/reset` clears
//! everything.
//!
//! `bench_sink [--port N]` prints `SINK_URL=http://127.0.0.1:PORT` once it listens.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

const LIMIT: usize = 500_000;
/// Request heads longer than this are refused (a client of this bench sends a few hundred bytes).
const MAX_HEAD: usize = 64 * 1024;

#[derive(Default)]
struct Stats {
    requests: u64,
    bytes: u64,
    largest_body: usize,
    items: u64,
    not_json: u64,
    too_large: u64,
    unauthorized: u64,
    max_concurrent: usize,
    first_at: u128,
    last_at: u128,
    /// Bodies let in since the last summary, parsed when it is asked for.
    bodies: Vec<Vec<u8>>,
    /// [`cpu_secs`] at the start or the last reset.
    cpu_at_reset: f64,
}

#[derive(serde::Deserialize)]
struct Body {
    batch: Option<Vec<serde::de::IgnoredAny>>,
    #[serde(rename = "writeKey")]
    write_key: Option<serde::de::IgnoredAny>,
}

/// Items in one body: the length of its `batch`, else 1; `None` if it is not JSON.
fn items_of(body: &[u8]) -> Option<(u64, bool)> {
    let b: Body = serde_json::from_slice(body).ok()?;
    Some((b.batch.map_or(1, |v| v.len() as u64), b.write_key.is_some()))
}

/// User + system CPU seconds of this process, all threads (`/proc/self/stat`, in USER_HZ = 100 ticks a second).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    let f: Vec<f64> = after
        .split(' ')
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

struct Request {
    method: String,
    path: String,
    authorized: bool,
    body: Vec<u8>,
    close: bool,
}

/// Read one request off the connection; `Ok(None)` when the client closed it between requests. A client that
/// asks `Expect: 100-continue` (curl, for bodies over 1 KB) is told to go on through `w`.
fn read_request(r: &mut BufReader<TcpStream>, w: &mut TcpStream) -> io::Result<Option<Request>> {
    let mut head = Vec::with_capacity(1024);
    loop {
        let n = r.read_until(b'\n', &mut head)?;
        if n == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        if head.ends_with(b"\r\n\r\n") || head.ends_with(b"\n\n") {
            break;
        }
        if head.len() > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "request head too long"));
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(io::Error::new(io::ErrorKind::InvalidData, "bad request head")),
    }
    let mut length = None;
    let mut chunked = false;
    let mut authorized = false;
    let mut close = req.version == Some(0);
    let mut expect_continue = false;
    for h in req.headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or("").trim();
        if h.name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<usize>().ok();
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if h.name.eq_ignore_ascii_case("authorization") {
            authorized = !value.is_empty();
        } else if h.name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        } else if h.name.eq_ignore_ascii_case("expect") {
            expect_continue = value.eq_ignore_ascii_case("100-continue");
        }
    }
    if expect_continue {
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let (method, path) = (req.method.unwrap_or("").to_string(), req.path.unwrap_or("").to_string());
    let body = if chunked {
        read_chunked(r)?
    } else {
        let mut body = vec![0; length.unwrap_or(0)];
        r.read_exact(&mut body)?;
        body
    };
    Ok(Some(Request {
        method,
        path,
        authorized,
        body,
        close,
    }))
}

fn read_chunked(r: &mut BufReader<TcpStream>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let size = line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        if size == 0 {
            // trailers, up to the empty line
            loop {
                line.clear();
                if r.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        line.clear();
        r.read_line(&mut line)?;
    }
}

fn respond(w: &mut TcpStream, status: u16, body: &str, close: bool) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        413 => "Payload Too Large",
        _ => "Error",
    };
    let conn = if close { "close" } else { "keep-alive" };
    let msg = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: {conn}\r\n\r\n{body}",
        body.len()
    );
    w.write_all(msg.as_bytes())
}

fn summary(stats: &mut Stats) -> String {
    // the CPU spent receiving, before the parsing below (which is not part of answering)
    let cpu = cpu_secs() - stats.cpu_at_reset;
    for body in std::mem::take(&mut stats.bodies) {
        match items_of(&body) {
            Some((n, _)) => stats.items += n,
            None => stats.not_json += 1,
        }
    }
    serde_json::json!({
        "requests": stats.requests,
        "bytes": stats.bytes,
        "largestBody": stats.largest_body,
        "items": stats.items,
        "notJson": stats.not_json,
        "tooLarge": stats.too_large,
        "unauthorized": stats.unauthorized,
        "maxConcurrent": stats.max_concurrent,
        "firstAt": stats.first_at as u64,
        "lastAt": stats.last_at as u64,
        "cpuSecs": cpu,
    })
    .to_string()
}

fn serve(stream: TcpStream, stats: Arc<Mutex<Stats>>, in_flight: Arc<AtomicUsize>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut w = stream.try_clone()?;
    let mut r = BufReader::with_capacity(256 * 1024, stream);
    loop {
        // in flight from the first byte of the head to the answer, as the Node sink counts
        if r.fill_buf()?.is_empty() {
            return Ok(());
        }
        let now_in = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let req = read_request(&mut r, &mut w);
        let req = match req {
            Ok(Some(req)) => req,
            Ok(None) => {
                in_flight.fetch_sub(1, Ordering::SeqCst);
                return Ok(());
            }
            Err(e) => {
                in_flight.fetch_sub(1, Ordering::SeqCst);
                let _ = respond(&mut w, 400, r#"{"meta":{"error":"bad request"}}"#, true);
                return Err(e);
            }
        };
        let (status, body) = {
            let mut s = stats.lock().unwrap_or_else(|p| p.into_inner());
            match (req.method.as_str(), req.path.as_str()) {
                ("GET", "/__sink/summary") => (200, summary(&mut s)),
                ("POST", "/__sink/reset") => {
                    *s = Stats {
                        cpu_at_reset: cpu_secs(),
                        ..Stats::default()
                    };
                    (200, "{}".to_string())
                }
                _ => {
                    s.max_concurrent = s.max_concurrent.max(now_in);
                    let now = now_ms();
                    if s.first_at == 0 {
                        s.first_at = now;
                    }
                    s.last_at = now;
                    s.requests += 1;
                    s.bytes += req.body.len() as u64;
                    s.largest_body = s.largest_body.max(req.body.len());
                    let status = if req.body.len() >= LIMIT {
                        s.too_large += 1;
                        413
                    } else if req.authorized {
                        s.bodies.push(req.body);
                        200
                    } else {
                        // no credentials: only a body with a writeKey is let in (not a path the bench's clients take)
                        match items_of(&req.body) {
                            Some((n, true)) => {
                                s.items += n;
                                200
                            }
                            Some((_, false)) => {
                                s.unauthorized += 1;
                                401
                            }
                            None => {
                                s.not_json += 1;
                                400
                            }
                        }
                    };
                    let body = if status == 200 {
                        "{}"
                    } else {
                        r#"{"meta":{"error":"refused"}}"#
                    };
                    (status, body.to_string())
                }
            }
        };
        in_flight.fetch_sub(1, Ordering::SeqCst);
        respond(&mut w, status, &body, req.close)?;
        if req.close {
            return Ok(());
        }
    }
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port = args
        .iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1))
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(0);
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    println!("SINK_URL=http://127.0.0.1:{}", listener.local_addr()?.port());
    io::stdout().flush()?;
    let stats = Arc::new(Mutex::new(Stats {
        cpu_at_reset: cpu_secs(),
        ..Stats::default()
    }));
    let in_flight = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let (stats, in_flight) = (Arc::clone(&stats), Arc::clone(&in_flight));
        thread::spawn(move || {
            let _ = serve(stream, stats, in_flight);
        });
    }
    Ok(())
}
