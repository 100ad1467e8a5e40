//! Where Jinguo's mail lands during a run: an SMTP sink (accepts everything, several messages
//! per connection, because lettre pools connections) or a watcher of the `.eml` files the
//! embedded mailer writes. Both hand every message, with the instant it was accepted, to the
//! driver through one channel.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::UnboundedSender;

use crate::mime::{self, Parsed};

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Mail {
    /// When the sink answered 250 to the DATA (or first saw the file).
    pub at: Instant,
    pub recipients: Vec<String>,
    pub parsed: Parsed,
}

/// Binds 127.0.0.1 on a free port and serves SMTP until the runtime stops; returns the port.
pub async fn smtp(out: UnboundedSender<Mail>) -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the SMTP sink")?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let out = out.clone();
            tokio::spawn(async move {
                // A broken connection loses nothing accepted: each message was handed over
                // when its 250 was written.
                let _ = session(stream, out).await;
            });
        }
    });
    Ok(port)
}

async fn session(stream: TcpStream, out: UnboundedSender<Mail>) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 jinguo-bench ESMTP sink\r\n").await?;
    let mut recipients = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let command = String::from_utf8_lossy(&line).trim_end().to_owned();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-jinguo-bench\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "HELO" | "NOOP" => b"250 ok\r\n",
            "MAIL" | "RSET" => {
                recipients.clear();
                b"250 ok\r\n"
            }
            "RCPT" => {
                let address = command
                    .split_once('<')
                    .and_then(|(_, r)| r.split_once('>'))
                    .map(|(a, _)| a.to_owned())
                    .unwrap_or_default();
                recipients.push(address);
                b"250 ok\r\n"
            }
            "DATA" => {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let raw = read_data(&mut read).await?;
                let at = Instant::now();
                write.write_all(b"250 queued\r\n").await?;
                let _ = out.send(Mail {
                    at,
                    recipients: std::mem::take(&mut recipients),
                    parsed: mime::parse(&raw),
                });
                continue;
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// The message after DATA up to the lone `.` line, dot-unstuffed.
async fn read_data<R: AsyncBufReadExt + Unpin>(read: &mut R) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(raw);
        }
        let unstuffed = if line.starts_with(b"..") {
            &line[1..]
        } else {
            &line[..]
        };
        raw.extend_from_slice(unstuffed);
    }
}

/// Watches `dir` for the `.eml` files the file transport writes (atomically, by rename), and
/// moves each one it read into `seen` so that the directory listing stays short.
pub fn watch_files(dir: PathBuf, seen: PathBuf, out: UnboundedSender<Mail>) {
    tokio::spawn(async move {
        let _ = tokio::fs::create_dir_all(&seen).await;
        loop {
            let found = scan(&dir, &seen, &out).await;
            if out.is_closed() {
                return;
            }
            if found == 0 {
                // 1 ms between listings: the arrival instant is at most this late.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    });
}

async fn scan(dir: &PathBuf, seen: &std::path::Path, out: &UnboundedSender<Mail>) -> usize {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return 0;
    };
    let mut found = 0;
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !name.ends_with(".eml") {
            continue; // the mailer's temporary files
        }
        let at = Instant::now();
        let Ok(raw) = tokio::fs::read(entry.path()).await else {
            continue;
        };
        let _ = tokio::fs::rename(entry.path(), seen.join(&name)).await;
        let parsed = mime::parse(&raw);
        let recipients = parsed.to.iter().cloned().collect();
        let _ = out.send(Mail {
            at,
            recipients,
            parsed,
        });
        found += 1;
    }
    found
}
