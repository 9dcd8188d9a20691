//! Test support shared by every spa test binary: the moto server emulator harness.
//!
//! One moto server is started per test binary, on a free 127.0.0.1 port, the first
//! time a test asks for it. It runs `scripts/moto_server.py` from the project's
//! `.venv` (made by `make test` / `make venv`), which stops by itself when the test
//! binary exits (its standard input closes), so no emulator outlives its tests.
//!
//! Tests that use it take a [`Scenario`]: a guard that resets the emulator
//! (`/moto-api/reset`) and holds it for one test at a time, since moto's state is
//! global to the server.
//!
//! [`faults`] has the fault-injecting proxy to put between the SDK and the emulator.

pub mod faults;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// How to make the emulator available, told in every error about it.
const INSTALL_HINT: &str = "run `make venv` at the repository root (it creates .venv and installs the pinned moto[server] from scripts/requirements-test.txt), or set SPA_VENV to a virtualenv that has moto[server]";

/// Why the emulator could not be started or reached.
#[derive(Debug)]
pub enum HarnessError {
    /// `.venv` (or `SPA_VENV`) has no python with moto.
    Missing { python: PathBuf },
    /// The emulator process could not be spawned or did not say its port.
    Start(String),
    /// The emulator did not answer in time, or answered an unexpected status.
    Unreachable(String),
}

impl std::fmt::Display for HarnessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing { python } => write!(
                f,
                "moto server emulator is not installed: {} does not exist; {INSTALL_HINT}",
                python.display()
            ),
            Self::Start(why) => write!(
                f,
                "moto server emulator did not start: {why}; {INSTALL_HINT}"
            ),
            Self::Unreachable(why) => write!(f, "moto server emulator does not answer: {why}"),
        }
    }
}

impl std::error::Error for HarnessError {}

/// A running moto server.
pub struct Emulator {
    port: u16,
    // Owned so that the process is not detached; it ends with its standard input.
    _child: Child,
    // Held open for the life of the process: the server stops when it closes.
    _stdin: ChildStdin,
    lock: Mutex<()>,
}

/// The repository root (the workspace that holds `testkit/`).
pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The python interpreter of the virtualenv that has moto.
pub fn venv_python() -> PathBuf {
    let venv = std::env::var_os("SPA_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repository_root().join(".venv"));
    venv.join("bin").join("python")
}

impl Emulator {
    /// Starts a new moto server on a free loopback port and waits until it answers.
    pub fn start() -> Result<Self, HarnessError> {
        Self::start_with(&venv_python())
    }

    /// Starts a new moto server with the given python interpreter (of a virtualenv
    /// that has moto[server]).
    pub fn start_with(python: &Path) -> Result<Self, HarnessError> {
        Self::start_with_env(python, &[])
    }

    /// The same, with environment variables for moto (its settings, such as
    /// `MOTO_IAM_LOAD_MANAGED_POLICIES`).
    pub fn start_with_env(python: &Path, env: &[(&str, &str)]) -> Result<Self, HarnessError> {
        if !python.exists() {
            return Err(HarnessError::Missing {
                python: python.to_path_buf(),
            });
        }
        let script = repository_root().join("scripts").join("moto_server.py");
        let mut child = Command::new(python)
            .arg(&script)
            .arg("0")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| HarnessError::Start(format!("{}: {e}", python.display())))?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| HarnessError::Start("no standard input to hold".into()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| HarnessError::Start("no standard output to read".into()))?;
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .map_err(|e| HarnessError::Start(format!("reading its port: {e}")))?;
        let port: u16 = first.trim().parse().map_err(|_| {
            let status = child.try_wait().ok().flatten();
            HarnessError::Start(format!(
                "expected its port on the first line, got {:?} (exit status {status:?}); is moto[server] installed in that virtualenv?",
                first.trim()
            ))
        })?;
        let emulator = Self {
            port,
            _child: child,
            _stdin: stdin,
            lock: Mutex::new(()),
        };
        emulator.wait_ready(Duration::from_secs(30))?;
        Ok(emulator)
    }

    /// The endpoint URL to hand to the AWS SDK (`http://127.0.0.1:PORT`).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn wait_ready(&self, within: Duration) -> Result<(), HarnessError> {
        let deadline = Instant::now() + within;
        loop {
            match self.request("GET", "/moto-api/data.json") {
                Ok(200) => return Ok(()),
                Ok(status) if Instant::now() > deadline => {
                    return Err(HarnessError::Unreachable(format!("status {status}")));
                }
                Err(e) if Instant::now() > deadline => return Err(e),
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Forgets every resource the emulator holds.
    pub fn reset(&self) -> Result<(), HarnessError> {
        match self.request("POST", "/moto-api/reset")? {
            200 => Ok(()),
            status => Err(HarnessError::Unreachable(format!(
                "POST /moto-api/reset answered {status}"
            ))),
        }
    }

    /// Takes the emulator for one scenario: waits for other scenarios of this test
    /// binary to finish, then resets it.
    pub fn scenario(&self) -> Result<Scenario<'_>, HarnessError> {
        let guard = self
            .lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.reset()?;
        Ok(Scenario {
            emulator: self,
            _guard: guard,
        })
    }

    /// One HTTP/1.1 request with no body; returns the status code.
    fn request(&self, method: &str, path: &str) -> Result<u16, HarnessError> {
        let unreachable =
            |e: std::io::Error| HarnessError::Unreachable(format!("{method} {path}: {e}"));
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut stream =
            TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(unreachable)?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(unreachable)?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .map_err(unreachable)?;
        let mut response = String::new();
        stream.read_to_string(&mut response).map_err(unreachable)?;
        response
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| {
                HarnessError::Unreachable(format!("{method} {path}: no HTTP status in the answer"))
            })
    }
}

/// The emulator of this test binary, started on first use.
///
/// Panics with a message that says how to install moto when it cannot start: this is
/// test support, and a test without its emulator cannot say anything else.
pub fn emulator() -> &'static Emulator {
    static EMULATOR: OnceLock<Result<Emulator, String>> = OnceLock::new();
    match EMULATOR.get_or_init(|| Emulator::start().map_err(|e| e.to_string())) {
        Ok(emulator) => emulator,
        Err(message) => panic!("{message}"),
    }
}

/// Exclusive use of a freshly reset emulator for one scenario.
pub struct Scenario<'a> {
    emulator: &'a Emulator,
    _guard: MutexGuard<'a, ()>,
}

impl Scenario<'_> {
    /// The endpoint URL of the emulator.
    pub fn endpoint(&self) -> String {
        self.emulator.endpoint()
    }

    /// An SDK configuration that talks to the emulator with test credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config(&self.endpoint()).await
    }
}

/// An SDK configuration for `endpoint` with test credentials, in us-east-1, and
/// rustls on ring as its HTTPS client, as spa-aws' `config::http_client` (the SDK
/// crates are built without a client of their own).
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(client)
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .test_credentials()
        .load()
        .await
}

/// Takes the emulator of this test binary for one scenario (see [`Emulator::scenario`]).
pub fn scenario() -> Scenario<'static> {
    match emulator().scenario() {
        Ok(scenario) => scenario,
        Err(e) => panic!("{e}"),
    }
}
