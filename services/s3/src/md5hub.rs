//! MD5 of the uploads in flight, hashed side by side on one thread.
//!
//! Every S3 body needs its MD5 (the ETag), and MD5 is serial within a body: one core does
//! ~0.9 GiB/s, which bounds a single upload and, with many uploads at once, eats the
//! cores the server needs for everything else. Independent bodies can share SIMD lanes,
//! though (md5-many: 16 lanes with AVX-512, 8 with AVX2; ~7 GiB/s on one core here). So
//! bodies past the inline threshold hand their chunks to one hub thread. The lanes only
//! run at full speed on inputs of equal length (6.3 GiB/s for 16 equal 64 KiB inputs
//! here, 2.5 for 16 unequal ones), and chunks arrive in whatever sizes the socket gave,
//! so each body's bytes are staged into [`SLICE`]-sized pieces: a pass hashes every full
//! piece together. When no piece is full and nothing else has arrived, the hub is
//! keeping up, and it hashes the partial pieces one by one rather than wait. One body
//! alone thus still hashes while its request task goes on receiving.
//!
//! Each body may have [`IN_FLIGHT_KIB`] KiB queued (a semaphore per body), so a body
//! arriving faster than it is hashed waits instead of piling up in memory.

use bytes::Bytes;
use md5_many::{Md5Many, Md5State};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// The piece of a body a pass hashes: lanes advance together, so equal pieces keep them
/// full, and no body waits long behind a large chunk of another.
const SLICE: usize = 64 * 1024;

/// How much of one body may be queued at the hub, in KiB.
const IN_FLIGHT_KIB: u32 = 2048;

enum Msg {
    Open {
        id: u64,
        md5: Md5State,
    },
    Chunk {
        id: u64,
        chunk: Bytes,
        permit: OwnedSemaphorePermit,
    },
    /// The body is complete (or abandoned, when `reply`'s receiver is gone).
    Close {
        id: u64,
        reply: oneshot::Sender<Md5State>,
    },
}

/// The hub: a thread and the way to it.
pub struct Hub {
    to_hub: mpsc::Sender<Msg>,
    ids: AtomicU64,
}

impl Hub {
    pub fn start() -> std::io::Result<Hub> {
        let (to_hub, inbox) = mpsc::channel();
        std::thread::Builder::new()
            .name("s3-md5".into())
            .spawn(move || run(inbox))?;
        Ok(Hub {
            to_hub,
            ids: AtomicU64::new(0),
        })
    }

    /// Hands a body over, with what has been hashed of it so far.
    pub fn open(&'static self, md5: Md5State) -> Body {
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        let _ = self.to_hub.send(Msg::Open { id, md5 });
        Body {
            hub: self,
            id,
            permits: Arc::new(Semaphore::new(IN_FLIGHT_KIB as usize)),
            closed: false,
        }
    }
}

/// A body being hashed at the hub. Dropped before [`Body::finish`], it is forgotten there.
pub struct Body {
    hub: &'static Hub,
    id: u64,
    permits: Arc<Semaphore>,
    closed: bool,
}

impl Body {
    pub async fn update(&mut self, chunk: &Bytes) {
        // The semaphore is never closed, so this only waits.
        // A chunk larger than the whole allowance waits for all of it.
        let kib = (chunk.len().div_ceil(1024) as u32).clamp(1, IN_FLIGHT_KIB);
        let Ok(permit) = self.permits.clone().acquire_many_owned(kib).await else {
            return;
        };
        let _ = self.hub.to_hub.send(Msg::Chunk {
            id: self.id,
            chunk: chunk.clone(),
            permit,
        });
    }

    /// Waits for the rest of the body to be hashed; `None` if the hub is gone.
    pub async fn finish(mut self) -> Option<Md5State> {
        let (reply, answer) = oneshot::channel();
        self.closed = true;
        self.hub
            .to_hub
            .send(Msg::Close { id: self.id, reply })
            .ok()?;
        answer.await.ok()
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        if !self.closed {
            let (reply, _) = oneshot::channel();
            let _ = self.hub.to_hub.send(Msg::Close { id: self.id, reply });
        }
    }
}

struct Stream {
    md5: Md5State,
    /// Chunks not yet staged; their permits go back as they are copied out.
    queue: VecDeque<(Bytes, OwnedSemaphorePermit)>,
    /// How much of the front chunk is staged.
    at: usize,
    /// The next piece, up to SLICE bytes.
    staged: Vec<u8>,
    close: Option<oneshot::Sender<Md5State>>,
}

impl Stream {
    /// Moves queued bytes into the staged piece until it is full or the queue is empty.
    fn stage(&mut self) {
        while self.staged.len() < SLICE {
            let Some((chunk, _)) = self.queue.front() else {
                return;
            };
            let take = (SLICE - self.staged.len()).min(chunk.len() - self.at);
            self.staged
                .extend_from_slice(&chunk[self.at..self.at + take]);
            self.at += take;
            if self.at == chunk.len() {
                // Dropping the permit lets the body's request task send another chunk.
                self.queue.pop_front();
                self.at = 0;
            }
        }
    }

    /// Hashes the staged piece alone (single-stream kernel).
    fn hash_staged(&mut self) {
        self.md5.update(&self.staged);
        self.staged.clear();
        self.stage();
    }

    fn has_data(&self) -> bool {
        !self.staged.is_empty()
    }
}

fn run(inbox: mpsc::Receiver<Msg>) {
    let engine = Md5Many::new();
    let mut streams: HashMap<u64, Stream> = HashMap::new();
    loop {
        // Take in everything that has arrived, then hash; block only when idle.
        let busy = streams.values().any(Stream::has_data);
        let msg = if busy {
            match inbox.try_recv() {
                Ok(m) => Some(m),
                Err(mpsc::TryRecvError::Empty) => None,
                Err(mpsc::TryRecvError::Disconnected) => return,
            }
        } else {
            match inbox.recv() {
                Ok(m) => Some(m),
                Err(_) => return,
            }
        };
        match msg {
            Some(Msg::Open { id, md5 }) => {
                streams.insert(
                    id,
                    Stream {
                        md5,
                        queue: VecDeque::new(),
                        at: 0,
                        staged: Vec::with_capacity(SLICE),
                        close: None,
                    },
                );
            }
            Some(Msg::Chunk { id, chunk, permit }) => {
                if let Some(s) = streams.get_mut(&id) {
                    s.queue.push_back((chunk, permit));
                    s.stage();
                }
            }
            Some(Msg::Close { id, reply }) => {
                if let Some(s) = streams.get_mut(&id) {
                    s.close = Some(reply);
                }
                answer_closed(&mut streams);
            }
            None => {
                pass(&engine, &mut streams);
                answer_closed(&mut streams);
            }
        }
    }
}

/// Hashes every full piece in one multi-lane update; if there is none, the partial ones.
fn pass(engine: &Md5Many, streams: &mut HashMap<u64, Stream>) {
    let mut full: Vec<&mut Stream> = streams
        .values_mut()
        .filter(|s| s.staged.len() == SLICE)
        .collect();
    if full.is_empty() {
        for s in streams.values_mut().filter(|s| s.has_data()) {
            s.hash_staged();
        }
        return;
    }
    if full.len() == 1 {
        full[0].hash_staged();
        return;
    }
    let mut states: Vec<Md5State> = full.iter().map(|s| s.md5).collect();
    {
        let inputs: Vec<&[u8]> = full.iter().map(|s| s.staged.as_slice()).collect();
        engine.update_many(&mut states, &inputs);
    }
    for (s, state) in full.iter_mut().zip(states) {
        s.md5 = state;
        s.staged.clear();
        s.stage();
    }
}

/// Replies for the closed bodies with nothing left queued (their last piece is hashed
/// here, alone).
fn answer_closed(streams: &mut HashMap<u64, Stream>) {
    let done: Vec<u64> = streams
        .iter()
        .filter(|(_, s)| s.close.is_some() && s.queue.is_empty())
        .map(|(id, _)| *id)
        .collect();
    for id in done {
        if let Some(mut s) = streams.remove(&id) {
            if s.has_data() {
                s.hash_staged();
            }
            if let Some(reply) = s.close.take() {
                let _ = reply.send(s.md5);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn hub() -> &'static Hub {
        static HUB: OnceLock<Hub> = OnceLock::new();
        HUB.get_or_init(|| Hub::start().unwrap())
    }

    fn body(seed: usize, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| ((i * 31 + seed * 7) % 251) as u8)
            .collect()
    }

    /// md-5 as the reference: another crate than the one hashing.
    fn reference(data: &[u8]) -> Vec<u8> {
        <md5::Md5 as md5::Digest>::digest(data).to_vec()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_bodies_hash_as_they_would_alone() {
        let mut tasks = Vec::new();
        for n in 0..24usize {
            tasks.push(tokio::spawn(async move {
                // Lengths around block and piece edges; chunk sizes vary by body.
                let data = body(n, 300_000 + n * 4_099 + (n % 3) * 63);
                let head = 1 + n * 17;
                let mut md5 = Md5State::new();
                md5.update(&data[..head]);
                let mut b = hub().open(md5);
                for piece in data[head..].chunks(10_000 + n * 3_001) {
                    b.update(&Bytes::copy_from_slice(piece)).await;
                }
                let md5 = b.finish().await.unwrap();
                assert_eq!(md5.finalize().to_vec(), reference(&data), "body {n}");
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }

    #[tokio::test]
    async fn abandoned_bodies_are_forgotten() {
        for _ in 0..100 {
            let mut b = hub().open(Md5State::new());
            b.update(&Bytes::from_static(b"partial")).await;
            drop(b);
        }
        // The hub still answers, and nothing was mixed into this body.
        let mut b = hub().open(Md5State::new());
        b.update(&Bytes::from_static(b"abc")).await;
        let md5 = b.finish().await.unwrap();
        assert_eq!(md5.finalize().to_vec(), reference(b"abc"));
    }
}
