//! Fake servers: tokio accept loops with one scripted [`Behaviour`] each, for the service
//! classes and protocols no Debian daemon at hand speaks (or not reliably).
use super::Place;
use std::net::TcpListener as StdListener;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A tokio fake server; Drop aborts its accept loop.
pub struct Fake {
    pub port: u16,
    task: JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a fake does with each connection.
#[derive(Clone)]
pub enum Behaviour {
    /// Accepts, reads and discards, never writes.
    SilentTcp,
    /// Resets every connection at once (SO_LINGER 0, then close).
    Reset,
    /// Sends a MySQL protocol-10 greeting for `version`.
    MysqlGreeting(&'static str),
    /// A line protocol: "version" gets "VERSION 1.6.99", every other line "ERROR".
    MemcachedLike,
    /// TLS, then a greeting over TLS.
    TlsBanner(Arc<rustls::ServerConfig>, &'static str),
    /// TLS, then silence.
    TlsSilent(Arc<rustls::ServerConfig>),
    /// Sends `greeting` in the clear, then reads and discards (an SMTP or FTP banner).
    Banner(&'static str),
    /// Reads a request head (up to a blank line), sends `response` whole and closes.
    Http(&'static str),
}

pub async fn start_fake(behaviour: Behaviour) -> Fake {
    start_fake_at(behaviour, &Place::loopback(), 0).await
}

/// A fake on `place` and `port` (0: any free port). Must run inside a tokio runtime.
pub async fn start_fake_at(behaviour: Behaviour, place: &Place, port: u16) -> Fake {
    let addr = place.socket_addr(port);
    let std_listener = place
        .run(move || StdListener::bind(addr))
        .unwrap_or_else(|e| panic!("bind fake on {addr}: {e}"));
    std_listener
        .set_nonblocking(true)
        .expect("nonblocking fake listener");
    // std listens with a backlog of 128; the throughput benchmark opens thousands at once.
    // SAFETY: listen on a socket we own; calling it again only changes the backlog.
    unsafe { libc::listen(std::os::fd::AsRawFd::as_raw_fd(&std_listener), 4096) };
    let listener = TcpListener::from_std(std_listener).expect("register fake listener");
    let port = listener.local_addr().expect("fake addr").port();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(behaviour.clone(), stream));
        }
    });
    Fake { port, task }
}

async fn drain<S: tokio::io::AsyncRead + Unpin>(mut s: S) {
    let mut buf = [0u8; 1024];
    while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
}

async fn serve(behaviour: Behaviour, mut stream: TcpStream) {
    match behaviour {
        Behaviour::SilentTcp => drain(stream).await,
        Behaviour::Reset => {
            #[expect(
                deprecated,
                reason = "SO_LINGER 0 does not block on drop; it is how a test sends RST"
            )]
            let _ = stream.set_linger(Some(Duration::ZERO));
            drop(stream);
        }
        Behaviour::MysqlGreeting(version) => {
            let mut payload = vec![0x0a];
            payload.extend_from_slice(version.as_bytes());
            payload.push(0);
            payload.extend_from_slice(&7u32.to_le_bytes()); // connection id
            payload.extend_from_slice(b"saltsalt\0");
            payload.extend_from_slice(&[0xff, 0xf7, 0x21, 0x02, 0x00, 0xff, 0x81, 0x15]);
            payload.extend_from_slice(&[0; 10]);
            payload.extend_from_slice(b"moresaltsalt\0mysql_native_password\0");
            let mut packet = u32::try_from(payload.len()).unwrap_or(0).to_le_bytes()[..3].to_vec();
            packet.push(0); // sequence id
            packet.extend_from_slice(&payload);
            let _ = stream.write_all(&packet).await;
            drain(stream).await;
        }
        Behaviour::MemcachedLike => {
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let reply: &[u8] = if line.trim() == "version" {
                    b"VERSION 1.6.99\r\n"
                } else {
                    b"ERROR\r\n"
                };
                if write.write_all(reply).await.is_err() {
                    break;
                }
            }
        }
        Behaviour::TlsBanner(config, greeting) => {
            if let Ok(mut tls) = tokio_rustls::TlsAcceptor::from(config).accept(stream).await {
                let _ = tls.write_all(greeting.as_bytes()).await;
                let _ = tls.flush().await;
                drain(tls).await;
            }
        }
        Behaviour::TlsSilent(config) => {
            if let Ok(tls) = tokio_rustls::TlsAcceptor::from(config).accept(stream).await {
                drain(tls).await;
            }
        }
        Behaviour::Banner(greeting) => {
            let _ = stream.write_all(greeting.as_bytes()).await;
            drain(stream).await;
        }
        Behaviour::Http(response) => {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16384 {
                match stream.read(&mut buf).await {
                    Ok(n) if n > 0 => head.extend_from_slice(&buf[..n]),
                    _ => return,
                }
            }
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    }
}
