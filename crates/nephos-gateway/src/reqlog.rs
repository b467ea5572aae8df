//! The request log, off the request's path.
//!
//! One line per request is what users expect to see, but formatting and writing it on the
//! worker that served the request cost a fifth of a DynamoDB GetItem's CPU, and so did
//! waking a writer thread for every line. A request appends its few facts to a shared
//! batch (a mutex held for one push) and wakes nobody; one thread takes the whole batch
//! every [`INTERVAL`], formats it and writes it with one write. A batch that reaches
//! [`WAKE_AT`] lines wakes the writer early; one that reaches [`LIMIT`] makes requests
//! wait for the writer (a line is never dropped). [`RequestLog::stop`] writes out what is
//! queued, so a clean shutdown loses nothing.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// How long a line may wait before it is written: short enough to read as live.
const INTERVAL: Duration = Duration::from_millis(20);
/// Lines in a batch that wake the writer before its interval is up.
const WAKE_AT: usize = 16 * 1024;
/// Lines in a batch at which requests wait for the writer.
const LIMIT: usize = 64 * 1024;

struct Entry {
    /// Microseconds since the Unix epoch.
    at_us: u64,
    service: &'static str,
    operation: Option<&'static str>,
    status: u16,
    elapsed_us: u64,
}

#[derive(Default)]
struct Batch {
    lines: Vec<Entry>,
    stopping: bool,
}

#[derive(Default)]
struct Shared {
    batch: Mutex<Batch>,
    /// The writer waits here for its interval, a full batch or the stop.
    writer: Condvar,
    /// Requests wait here while the batch is at its limit.
    drained: Condvar,
}

/// Where requests send their log line; disabled when the filter hides `nephos::request`.
pub struct RequestLog {
    shared: Option<Arc<Shared>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl RequestLog {
    /// Decides once, from the installed `tracing` filter, whether requests are logged.
    pub fn from_tracing() -> RequestLog {
        if !tracing::enabled!(target: "nephos::request", tracing::Level::INFO) {
            return RequestLog::disabled();
        }
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
        let shared = Arc::new(Shared::default());
        let theirs = shared.clone();
        let writer = std::thread::Builder::new()
            .name("nephos-request-log".into())
            .spawn(move || write_batches(&theirs, ansi, &mut std::io::stdout()))
            .ok();
        RequestLog {
            shared: writer.as_ref().map(|_| shared),
            writer: Mutex::new(writer),
        }
    }

    pub fn disabled() -> RequestLog {
        RequestLog {
            shared: None,
            writer: Mutex::new(None),
        }
    }

    pub fn record(
        &self,
        service: &'static str,
        operation: Option<&'static str>,
        status: u16,
        elapsed: Duration,
    ) {
        let Some(shared) = &self.shared else { return };
        let entry = Entry {
            at_us: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as u64),
            service,
            operation,
            status,
            elapsed_us: elapsed.as_micros() as u64,
        };
        let mut batch = shared.batch.lock().unwrap_or_else(|e| e.into_inner());
        while batch.lines.len() >= LIMIT && !batch.stopping {
            // The writer is behind: wait rather than lose the line.
            shared.writer.notify_one();
            batch = shared
                .drained
                .wait(batch)
                .unwrap_or_else(|e| e.into_inner());
        }
        batch.lines.push(entry);
        if batch.lines.len() == WAKE_AT {
            shared.writer.notify_one();
        }
    }

    /// Writes out every line queued so far and ends the writer.
    pub fn stop(&self) {
        let Some(shared) = &self.shared else { return };
        shared
            .batch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stopping = true;
        shared.writer.notify_one();
        if let Some(writer) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = writer.join();
        }
    }
}

/// The writer's loop: every interval (or sooner when woken) it takes the batch whole,
/// leaving an empty one of the same capacity, and writes it with one write.
fn write_batches(shared: &Shared, ansi: bool, out: &mut impl Write) {
    let mut taken = Vec::new();
    let mut text = Vec::with_capacity(64 * 1024);
    let mut clock = SecondClock::default();
    loop {
        let stopping = {
            let batch = shared.batch.lock().unwrap_or_else(|e| e.into_inner());
            let (mut batch, _) = shared
                .writer
                .wait_timeout_while(batch, INTERVAL, |b| !b.stopping && b.lines.len() < WAKE_AT)
                .unwrap_or_else(|e| e.into_inner());
            std::mem::swap(&mut batch.lines, &mut taken);
            batch.stopping
        };
        shared.drained.notify_all();
        for entry in taken.drain(..) {
            format_line(&mut text, &mut clock, &entry, ansi);
        }
        if !text.is_empty() {
            let _ = out.write_all(&text);
            let _ = out.flush();
            text.clear();
        }
        if stopping {
            return;
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS` of the last second formatted: lines of one second share it.
#[derive(Default)]
struct SecondClock {
    second: Option<u64>,
    text: [u8; 19],
}

impl SecondClock {
    fn text(&mut self, second: u64) -> &[u8] {
        if self.second != Some(second) {
            let iso = nephos_core::Timestamp::from_millis(second as i64 * 1000).to_iso8601();
            if let Some(text) = iso.as_bytes().get(..19) {
                self.text.copy_from_slice(text);
            }
            self.second = Some(second);
        }
        &self.text
    }
}

/// Appends `n` in decimal, at least `width` digits.
fn push_digits(buf: &mut Vec<u8>, n: u64, width: usize) {
    let mut digits = itoa::Buffer::new();
    let text = digits.format(n).as_bytes();
    buf.extend(std::iter::repeat_n(b'0', width.saturating_sub(text.len())));
    buf.extend_from_slice(text);
}

/// The line `tracing`'s formatter writes for the same event, so the log reads as one.
fn format_line(buf: &mut Vec<u8>, clock: &mut SecondClock, e: &Entry, ansi: bool) {
    buf.extend_from_slice(clock.text(e.at_us / 1_000_000));
    buf.push(b'.');
    push_digits(buf, e.at_us % 1_000_000, 6);
    buf.extend_from_slice(if ansi {
        b"Z \x1b[32m INFO\x1b[0m service="
    } else {
        b"Z  INFO service="
    });
    buf.extend_from_slice(e.service.as_bytes());
    buf.extend_from_slice(b" operation=");
    buf.extend_from_slice(e.operation.unwrap_or("-").as_bytes());
    buf.extend_from_slice(b" status=");
    push_digits(buf, u64::from(e.status), 1);
    // Milliseconds to two places, rounded half up.
    let centi_ms = (e.elapsed_us + 5) / 10;
    buf.extend_from_slice(b" ms=");
    push_digits(buf, centi_ms / 100, 1);
    buf.push(b'.');
    push_digits(buf, centi_ms % 100, 2);
    buf.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(at_us: u64, elapsed_us: u64) -> String {
        let mut buf = Vec::new();
        let entry = Entry {
            at_us,
            service: "s3",
            operation: Some("GetObject"),
            status: 200,
            elapsed_us,
        };
        format_line(&mut buf, &mut SecondClock::default(), &entry, false);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn formats_like_tracing() {
        assert_eq!(
            line(1_733_561_045_123_456, 1234),
            "2024-12-07T08:44:05.123456Z  INFO service=s3 operation=GetObject status=200 ms=1.23\n"
        );
        assert_eq!(
            line(1_733_561_045_000_007, 15_005),
            "2024-12-07T08:44:05.000007Z  INFO service=s3 operation=GetObject status=200 ms=15.01\n"
        );
    }

    #[test]
    fn stop_writes_every_queued_line() {
        let shared = Arc::new(Shared::default());
        let log = RequestLog {
            shared: Some(shared.clone()),
            writer: Mutex::new(None),
        };
        for _ in 0..1000 {
            log.record("sqs", Some("SendMessage"), 200, Duration::from_micros(10));
        }
        shared.batch.lock().unwrap().stopping = true;
        let mut out = Vec::new();
        write_batches(&shared, false, &mut out);
        assert_eq!(
            out.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count(),
            1000
        );
    }
}
