//! The agent daemon's Prometheus endpoint: what this host's devices did, as counters the agent
//! keeps while it works (the controller's `/metrics` has the catalogue's view; this one still
//! answers when the controller is unreachable, which is when it is most wanted).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of the agent.
#[derive(Debug, Default)]
pub struct AgentMetrics {
    pub leased: AtomicU64,
    pub succeeded: AtomicU64,
    pub failed: AtomicU64,
    pub results_refused: AtomicU64,
    pub lease_errors: AtomicU64,
    pub files_fetched: AtomicU64,
    pub bytes_fetched: AtomicU64,
    /// Bytes moved per device (written or read back).
    pub device_bytes: Mutex<BTreeMap<String, u64>>,
    /// Actions in progress per device (0 or 1).
    pub device_busy: Mutex<BTreeMap<String, u64>>,
}

impl AgentMetrics {
    pub fn new(devices: &[String]) -> AgentMetrics {
        let m = AgentMetrics::default();
        for d in devices {
            m.device_bytes.lock().unwrap_or_else(|p| p.into_inner()).insert(d.clone(), 0);
            m.device_busy.lock().unwrap_or_else(|p| p.into_inner()).insert(d.clone(), 0);
        }
        m
    }

    pub fn add_bytes(&self, device: &str, n: u64) {
        *self.device_bytes.lock().unwrap_or_else(|p| p.into_inner()).entry(device.to_owned()).or_default() += n;
    }

    pub fn set_busy(&self, device: &str, busy: bool) {
        self.device_busy.lock().unwrap_or_else(|p| p.into_inner()).insert(device.to_owned(), u64::from(busy));
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: &AtomicU64| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n", v.load(Ordering::Relaxed)));
        };
        counter(&mut out, "asto_agent_actions_leased_total", "Actions leased from the controller.", &self.leased);
        counter(&mut out, "asto_agent_actions_succeeded_total", "Actions that ended well.", &self.succeeded);
        counter(&mut out, "asto_agent_actions_failed_total", "Actions that failed.", &self.failed);
        counter(&mut out, "asto_agent_results_refused_total", "Results the controller refused (lease lost).", &self.results_refused);
        counter(&mut out, "asto_agent_lease_errors_total", "Failed requests for work.", &self.lease_errors);
        counter(&mut out, "asto_agent_files_fetched_total", "Unit files fetched over HTTP.", &self.files_fetched);
        counter(&mut out, "asto_agent_fetched_bytes_total", "Bytes fetched over HTTP.", &self.bytes_fetched);
        out.push_str("# HELP asto_agent_device_bytes_total Bytes written or read back per device.\n# TYPE asto_agent_device_bytes_total counter\n");
        for (d, n) in self.device_bytes.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            out.push_str(&format!("asto_agent_device_bytes_total{{device=\"{d}\"}} {n}\n"));
        }
        out.push_str("# HELP asto_agent_device_busy 1 while the device runs an action.\n# TYPE asto_agent_device_busy gauge\n");
        for (d, n) in self.device_busy.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            out.push_str(&format!("asto_agent_device_busy{{device=\"{d}\"}} {n}\n"));
        }
        out
    }
}

fn answer(mut stream: TcpStream, metrics: &AgentMetrics) -> std::io::Result<()> {
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    let (status, body) = if line.starts_with("GET /metrics ") {
        ("200 OK", metrics.render())
    } else {
        ("404 Not Found", "only /metrics here\n".to_string())
    };
    write!(stream, "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
}

/// Serve `/metrics` on `listener` until the process ends.
pub fn serve(listener: TcpListener, metrics: std::sync::Arc<AgentMetrics>) {
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = answer(stream, &metrics);
        }
    });
}
