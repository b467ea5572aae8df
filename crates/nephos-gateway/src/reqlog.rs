//! The request log, off the request's path.
//!
//! One line per request is what users expect to see, but formatting and writing it on the
//! worker that served the request cost a fifth of a DynamoDB GetItem's CPU. A request hands
//! its few facts to a bounded channel instead; one thread formats them in batches and
//! writes each batch to stdout with one write. When the channel is full the request waits
//! (a line is never dropped); [`RequestLog::stop`] writes out what is queued, so a clean
//! shutdown loses nothing.

use std::io::Write;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// Lines queued before a request has to wait for the writer.
const QUEUE: usize = 64 * 1024;

enum Entry {
    Line {
        at: SystemTime,
        service: &'static str,
        operation: Option<&'static str>,
        status: u16,
        elapsed: Duration,
    },
    Stop,
}

/// Where requests send their log line; disabled when the filter hides `nephos::request`.
pub struct RequestLog {
    tx: Option<SyncSender<Entry>>,
    writer: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl RequestLog {
    /// Decides once, from the installed `tracing` filter, whether requests are logged.
    pub fn from_tracing() -> RequestLog {
        if !tracing::enabled!(target: "nephos::request", tracing::Level::INFO) {
            return RequestLog::disabled();
        }
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
        let (tx, rx) = sync_channel(QUEUE);
        let writer = std::thread::Builder::new()
            .name("nephos-request-log".into())
            .spawn(move || write_lines(rx, ansi))
            .ok();
        RequestLog {
            tx: writer.as_ref().map(|_| tx),
            writer: std::sync::Mutex::new(writer),
        }
    }

    pub fn disabled() -> RequestLog {
        RequestLog {
            tx: None,
            writer: std::sync::Mutex::new(None),
        }
    }

    pub fn record(
        &self,
        service: &'static str,
        operation: Option<&'static str>,
        status: u16,
        elapsed: Duration,
    ) {
        let Some(tx) = &self.tx else { return };
        let entry = Entry::Line {
            at: SystemTime::now(),
            service,
            operation,
            status,
            elapsed,
        };
        if let Err(TrySendError::Full(entry)) = tx.try_send(entry) {
            // The writer is behind: wait rather than lose the line.
            let _ = tx.send(entry);
        }
    }

    /// Writes out every line queued so far and ends the writer.
    pub fn stop(&self) {
        let Some(tx) = &self.tx else { return };
        let _ = tx.send(Entry::Stop);
        if let Some(writer) = self.writer.lock().unwrap().take() {
            let _ = writer.join();
        }
    }
}

fn write_lines(rx: Receiver<Entry>, ansi: bool) {
    let mut buf = Vec::with_capacity(64 * 1024);
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        let mut stop = false;
        while let Some(entry) = next {
            match entry {
                Entry::Line {
                    at,
                    service,
                    operation,
                    status,
                    elapsed,
                } => format_line(&mut buf, at, service, operation, status, elapsed, ansi),
                Entry::Stop => {
                    stop = true;
                    break;
                }
            }
            // Batch whatever else is already queued into the same write.
            next = if buf.len() < 256 * 1024 {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&buf);
        let _ = out.flush();
        buf.clear();
        if stop {
            return;
        }
    }
}

/// The line `tracing`'s formatter writes for the same event, so the log reads as one.
fn format_line(
    buf: &mut Vec<u8>,
    at: SystemTime,
    service: &str,
    operation: Option<&str>,
    status: u16,
    elapsed: Duration,
    ansi: bool,
) {
    let since = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let dt = time::OffsetDateTime::from_unix_timestamp(since.as_secs() as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let level = if ansi {
        "\x1b[32m INFO\x1b[0m"
    } else {
        " INFO"
    };
    let ms = elapsed.as_secs_f64() * 1000.0;
    let _ = writeln!(
        buf,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z {level} service={service} operation={} status={status} ms={ms:.2}",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        since.subsec_micros(),
        operation.unwrap_or("-"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_tracing() {
        let mut buf = Vec::new();
        let at = SystemTime::UNIX_EPOCH + Duration::from_micros(1_733_561_045_123_456);
        format_line(
            &mut buf,
            at,
            "s3",
            Some("GetObject"),
            200,
            Duration::from_micros(1234),
            false,
        );
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "2024-12-07T08:44:05.123456Z  INFO service=s3 operation=GetObject status=200 ms=1.23\n"
        );
    }
}
