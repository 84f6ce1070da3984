//! What the shutdown tests of every binary share (included with `#[path]`
//! by `crates/{cli,api,projector,reaper}/tests`): a binary run as a child
//! that a test signals, and requests sent by hand whose bodies are half
//! sent when the signal comes. Plain TCP, so that no test crate needs an
//! HTTP client for it.

#![allow(dead_code)]

use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A rollcall binary running as a child, killed if still running when
/// dropped.
pub struct Running {
    pub child: Child,
    /// Its operators' listener (`ROLLCALL_METRICS_BIND`).
    pub metrics_port: u16,
}

impl Running {
    /// Starts `command` with its operators' listener on a free port and
    /// waits until it answers `/healthz`.
    pub async fn start(mut command: Command) -> Running {
        let metrics_port = free_port();
        let child = command
            .env("ROLLCALL_METRICS_BIND", format!("127.0.0.1:{metrics_port}"))
            .spawn()
            .expect("the binary starts");
        let mut running = Running {
            child,
            metrics_port,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = running.child.try_wait().expect("the child's status") {
                panic!(
                    "the binary ended with {status} before it answered /healthz (its stderr says \
                     why); if PostgreSQL or RabbitMQ is down, start them with: \
                     pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start; \
                     rabbitmq-server -detached"
                );
            }
            if get(metrics_port, "/healthz")
                .await
                .is_some_and(|(status, _)| status == 200)
            {
                return running;
            }
            assert!(
                Instant::now() < deadline,
                "the binary did not answer /healthz within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends it SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for it to exit, `within` at most.
    pub async fn exited(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("the child's status") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the binary did not exit within {within:?} of SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The value of an unlabelled metric on its operators' listener.
    pub async fn metric(&self, name: &str) -> f64 {
        let (_, text) = get(self.metrics_port, "/metrics")
            .await
            .expect("the metrics listener answers");
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("{name} is not in /metrics"))
            .trim()
            .parse()
            .expect("a number")
    }

    /// Waits until `port` refuses connections: the stop has begun.
    pub async fn closed(port: u16, within: Duration) {
        let deadline = Instant::now() + within;
        while TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            assert!(
                Instant::now() < deadline,
                "the port still accepts connections after SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` on 127.0.0.1:`port`: the status and body, `None` when
/// nothing answers.
pub async fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let head = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.ok()?;
    parse(&answer)
}

fn parse(answer: &[u8]) -> Option<(u16, String)> {
    let answer = String::from_utf8_lossy(answer);
    let status = answer.split(' ').nth(1)?.parse().ok()?;
    let (_, body) = answer.split_once("\r\n\r\n")?;
    Some((status, body.to_owned()))
}

/// A request sent by hand, its body cut in two: the server has its head
/// (and admits it) before the signal, the rest of its body after.
pub struct HalfSent {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl HalfSent {
    /// `POST path` with `body` as SCIM JSON, all but the body's second half.
    pub async fn send(
        port: u16,
        token: &str,
        path: &str,
        user_agent: &str,
        body: &str,
    ) -> HalfSent {
        let body = body.as_bytes();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/scim+json\r\nUser-Agent: {user_agent}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("the server accepts");
        let half = body.len() / 2;
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&body[..half]).await.unwrap();
        HalfSent {
            stream,
            rest: body[half..].to_vec(),
        }
    }

    /// Sends the rest of the body; the answer's status and body, read to
    /// its end within `within`.
    pub async fn finish(mut self, within: Duration) -> (u16, String) {
        self.stream.write_all(&self.rest).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(within, self.stream.read_to_end(&mut answer))
            .await
            .expect("an answer within the shutdown timeout")
            .expect("the answer is read to its end");
        parse(&answer).unwrap_or_else(|| {
            panic!(
                "a whole HTTP answer, got {:?}",
                String::from_utf8_lossy(&answer)
            )
        })
    }
}

/// A database of the test's own, which the binary under test creates;
/// dropped with the test, even a failed one.
pub struct ScratchDatabase {
    pub name: String,
}

impl ScratchDatabase {
    pub fn new() -> ScratchDatabase {
        ScratchDatabase {
            name: format!("rollcall_test_{}", uuid::Uuid::new_v4().simple()),
        }
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let statement = format!("drop database if exists {} with (force)", self.name);
        // Drop cannot await: its own thread and runtime.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a cleanup runtime")
                .block_on(async move {
                    let admin =
                        store::Database::parse("postgres://postgres@127.0.0.1:5432/postgres")
                            .expect("the admin database's URL");
                    if let Ok(pool) = store::connect(&admin, 1)
                        && let Ok(client) = pool.get().await
                    {
                        let _ = client.batch_execute(&statement).await;
                    }
                });
        })
        .join();
    }
}

/// Runs `command` on a scratch database until it is healthy, sends it
/// SIGTERM, and checks that it exits 0 well within its default shutdown
/// timeout: it ended its work by itself rather than being cut at the bound.
pub async fn exits_0_promptly_on_sigterm(mut command: Command) {
    let database = ScratchDatabase::new();
    command
        .env("DATABASE_URL", database.url())
        .env("RUST_LOG", "warn");
    let mut running = Running::start(command).await;
    running.terminate();
    let status = running.exited(Duration::from_secs(10)).await;
    assert!(status.success(), "exited with {status} after SIGTERM");
}
