// A TCP server on 127.0.0.1 that plays a fixed script on every connection: greetings,
// garbage, silence, one byte at a time. For the faults a real server library will not
// produce: a server that accepts and then says nothing, one that drips bytes forever, one
// that answers a TLS handshake with something else.
//
// Stops on Drop: scripts that wait (Stall, Drip) notice within 50 ms and close.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// One step of the script.
#[derive(Clone, Debug)]
pub enum Step {
    /// Write these bytes.
    Send(Vec<u8>),
    /// Read one line (up to LF) from the client.
    ReadLine,
    /// Read whatever the client sends next (e.g. a TLS ClientHello).
    ReadSome,
    /// Say nothing, keep the connection open, until the server stops.
    Stall,
    /// Send these bytes one at a time, `interval` apart, over and over, until the server
    /// stops.
    Drip(Vec<u8>, Duration),
}

pub struct RawServer {
    pub port: u16,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
}

impl RawServer {
    pub fn start(script: Vec<Step>) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (s, a) = (stop.clone(), accepted.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        a.fetch_add(1, Ordering::SeqCst);
                        let (script, s) = (script.clone(), s.clone());
                        std::thread::spawn(move || play(conn, &script, &s));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        RawServer {
            port,
            stop,
            accepted,
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn play(conn: TcpStream, script: &[Step], stop: &AtomicBool) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut writer = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    let wait = |d: Duration| {
        std::thread::sleep(d);
        !stop.load(Ordering::SeqCst)
    };
    for step in script {
        let ok = match step {
            Step::Send(bytes) => writer.write_all(bytes).is_ok(),
            Step::ReadLine => reader.read_line(&mut String::new()).is_ok_and(|n| n > 0),
            Step::ReadSome => {
                let n = reader.fill_buf().map_or(0, |b| b.len());
                reader.consume(n);
                n > 0
            }
            Step::Stall => {
                while wait(Duration::from_millis(50)) {}
                false
            }
            Step::Drip(bytes, interval) => {
                'drip: loop {
                    for b in bytes {
                        if writer.write_all(&[*b]).is_err() || !wait(*interval) {
                            break 'drip;
                        }
                    }
                }
                false
            }
        };
        if !ok {
            return;
        }
    }
    // Let the client read the last bytes before the connection closes.
    let _ = reader.get_mut().read(&mut [0; 1]);
}
