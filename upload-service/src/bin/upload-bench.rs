//! Upload throughput against the disk's own: a generated 1 GiB .tgz is sent over loopback with
//! `PUT /files/{name}` to the service running as a child process, and `dd` writes the same amount
//! (with `conv=fsync`, as the service syncs before it answers) to the same directory. Rounds
//! alternate, and medians are compared. Also reports the service's peak RSS and the CPU time it
//! used per upload. The upload announces its SHA-256; with `--content-md5` it sends a
//! `Content-MD5` too, which the service then computes as well.
//!
//! ```text
//! cargo run -p upload-service --bin upload-bench [-- --size-mib 1024 --rounds 3 --dir DIR --content-md5]
//! ```
//!
//! The last line is `bench upload: ratio=R service_mib_s=X dd_mib_s=Y peak_rss_mb=Z`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::Md5;
use sha2::{Digest, Sha256};
use upload_service::{Account, Config, Role};

const USER: &str = "bench";
const PASSWORD_VARIABLE: &str = "UPLOAD_BENCH_PASSWORD";
const MIB: u64 = 1 << 20;

struct Options {
    size_mib: u64,
    content_md5: bool,
    rounds: usize,
    dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some("--serve") {
        serve(args.get(1).map(PathBuf::from))
    } else {
        parse_options(&args).and_then(bench)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("upload-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn parse_options(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options { size_mib: 1024, content_md5: false, rounds: 3, dir: None };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--size-mib" => options.size_mib = value()?.parse().context("--size-mib")?,
            "--rounds" => options.rounds = value()?.parse().context("--rounds")?,
            "--dir" => options.dir = Some(PathBuf::from(value()?)),
            "--content-md5" => options.content_md5 = true,
            "-h" | "--help" => {
                println!("usage: upload-bench [--size-mib N] [--rounds N] [--dir DIR] [--content-md5]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}"),
        }
    }
    ensure!(options.size_mib >= 1 && options.rounds >= 1, "sizes and rounds must be positive");
    Ok(options)
}

/// Child mode: the service on an ephemeral loopback port, until stdin closes.
fn serve(data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let data_dir = data_dir.context("--serve needs a data directory")?;
    upload_service::tune_allocator();
    let password = std::env::var(PASSWORD_VARIABLE).context(PASSWORD_VARIABLE)?;
    let config = Config::new(data_dir, vec![Account::with_password(USER, &password, Role::Uploader)?]);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("listening {}", listener.local_addr()?);
        io::stdout().flush()?;
        let parent_gone = async {
            let _ = tokio::task::spawn_blocking(|| io::copy(&mut io::stdin(), &mut io::sink())).await;
        };
        upload_service::serve(listener, config, parent_gone).await?;
        anyhow::Ok(())
    })
}

fn bench(options: Options) -> anyhow::Result<()> {
    let base =
        options.dir.clone().unwrap_or_else(std::env::temp_dir).join(format!("upload-bench-{}", std::process::id()));
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    let result = run_rounds(&options, &base);
    let _ = std::fs::remove_dir_all(&base);
    result
}

fn run_rounds(options: &Options, base: &Path) -> anyhow::Result<()> {
    let bytes = options.size_mib * MIB;
    let input = base.join("input.tgz");
    let started = Instant::now();
    let digests = generate_tgz(&input, bytes, options.content_md5)?;
    let size = std::fs::metadata(&input)?.len();
    println!("generated {} ({} bytes) in {:.1} s", input.display(), size, started.elapsed().as_secs_f64());

    let password = format!("bench-{}", std::process::id());
    let service = Service::start(&base.join("data"), &password)?;
    println!("service pid {} on {}", service.child.id(), service.addr);

    let mut service_rates = Vec::new();
    let mut dd_rates = Vec::new();
    for round in 1..=options.rounds {
        let dd = run_dd(base, options.size_mib)?;
        let cpu_before = cpu_seconds(service.child.id());
        let upload = upload(service.addr, &password, &input, &format!("bench-{round}.tgz"), &digests)?;
        let cpu = cpu_seconds(service.child.id()).zip(cpu_before).map(|(after, before)| after - before);
        delete(service.addr, &password, &format!("bench-{round}.tgz"))?;
        let dd_rate = mib_per_s(bytes, dd);
        let service_rate = mib_per_s(size, upload);
        println!(
            "round {round}: service {service_rate:.1} MiB/s ({:.2} s, {} CPU), dd {dd_rate:.1} MiB/s ({:.2} s)",
            upload.as_secs_f64(),
            cpu.map_or("unknown".to_owned(), |cpu| format!("{cpu:.2} s")),
            dd.as_secs_f64()
        );
        service_rates.push(service_rate);
        dd_rates.push(dd_rate);
    }
    let peak_rss_kib = peak_rss_kib(service.child.id())?;
    service.stop()?;

    let service_mib_s = median(&mut service_rates);
    let dd_mib_s = median(&mut dd_rates);
    println!(
        "bench upload: ratio={:.2} service_mib_s={service_mib_s:.1} dd_mib_s={dd_mib_s:.1} peak_rss_mb={:.1}",
        service_mib_s / dd_mib_s,
        peak_rss_kib as f64 / 1024.0
    );
    Ok(())
}

/// A gzip-compressed tar of one member holding `bytes` of incompressible data, gzip-stored
/// (deflate's uncompressed blocks) so that the file is about `bytes` long and quick to generate.
/// Returns its SHA-256, and its MD5 if asked.
fn generate_tgz(path: &Path, bytes: u64, with_md5: bool) -> anyhow::Result<Digests> {
    // The header, the member's padding and the end-of-archive blocks come on top of the data.
    let member = bytes.saturating_sub(3 * 512).max(512);
    let file = HashingWriter::new(BufWriter::with_capacity(MIB as usize, File::create(path)?), with_md5);
    let mut gzip = StoredGzip::new(file)?;
    gzip.write_all(&tar_header("diag/bench.bin", member))?;
    let block = noise(MIB as usize);
    let mut left = member;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        gzip.write_all(&block[..n])?;
        left -= n as u64;
    }
    let padding = (512 - member % 512) % 512;
    gzip.write_all(&vec![0u8; padding as usize + 1024])?;
    let (writer, digests) = gzip.finish()?.finish();
    let file = writer.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(digests)
}

/// A gzip stream (RFC 1952) of stored deflate blocks (RFC 1951 3.2.4).
struct StoredGzip<W: Write> {
    out: W,
    pending: Vec<u8>,
    crc: flate2::Crc,
}

impl<W: Write> StoredGzip<W> {
    const BLOCK: usize = 65_535;

    fn new(mut out: W) -> io::Result<Self> {
        // Magic, deflate, no flags, no mtime, no extra flags, unknown OS.
        out.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255])?;
        Ok(StoredGzip { out, pending: Vec::with_capacity(Self::BLOCK), crc: flate2::Crc::new() })
    }

    fn block(&mut self, last: bool) -> io::Result<()> {
        let len = self.pending.len() as u16;
        self.out.write_all(&[u8::from(last)])?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(&(!len).to_le_bytes())?;
        self.out.write_all(&self.pending)?;
        self.pending.clear();
        Ok(())
    }

    fn finish(mut self) -> io::Result<W> {
        self.block(true)?;
        self.out.write_all(&self.crc.sum().to_le_bytes())?;
        self.out.write_all(&self.crc.amount().to_le_bytes())?;
        Ok(self.out)
    }
}

impl<W: Write> Write for StoredGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(Self::BLOCK - self.pending.len());
        self.pending.extend_from_slice(&buf[..n]);
        self.crc.update(&buf[..n]);
        if self.pending.len() == Self::BLOCK {
            self.block(false)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn tar_header(name: &str, size: u64) -> [u8; 512] {
    let mut block = [0u8; 512];
    block[..name.len()].copy_from_slice(name.as_bytes());
    block[100..108].copy_from_slice(b"0000644\0");
    block[108..116].copy_from_slice(b"0000000\0");
    block[116..124].copy_from_slice(b"0000000\0");
    block[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    block[136..148].copy_from_slice(b"00000000000\0");
    block[156] = b'0';
    block[257..263].copy_from_slice(b"ustar\0");
    block[263..265].copy_from_slice(b"00");
    block[148..156].copy_from_slice(b"        ");
    let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
    block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    block
}

fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

struct Digests {
    sha256: [u8; 32],
    md5: Option<[u8; 16]>,
}

struct HashingWriter<W> {
    inner: W,
    sha256: Sha256,
    md5: Option<Md5>,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W, with_md5: bool) -> Self {
        HashingWriter { inner, sha256: Sha256::new(), md5: with_md5.then(Md5::new) }
    }

    fn finish(self) -> (W, Digests) {
        let digests = Digests { sha256: self.sha256.finalize().into(), md5: self.md5.map(|md5| md5.finalize().into()) };
        (self.inner, digests)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha256.update(&buf[..n]);
        if let Some(md5) = &mut self.md5 {
            md5.update(&buf[..n]);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The service as a child process (this binary with `--serve`), so that its memory is its own.
struct Service {
    child: Child,
    addr: SocketAddr,
}

impl Service {
    fn start(data_dir: &Path, password: &str) -> anyhow::Result<Service> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("--serve")
            .arg(data_dir)
            .env(PASSWORD_VARIABLE, password)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the service")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("service stdout")?).read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .with_context(|| format!("unexpected first line from the service: {line:?}"))?
            .parse()?;
        Ok(Service { child, addr })
    }

    /// Closing its stdin tells the service to shut down.
    fn stop(mut self) -> anyhow::Result<()> {
        drop(self.child.stdin.take());
        let status = self.child.wait()?;
        ensure!(status.success(), "the service exited with {status}");
        Ok(())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn authorization(password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{USER}:{password}")))
}

/// Sends the file with `sendfile` (std's copy from a file to a socket) so that the client costs
/// as little CPU as possible; timed until the service has answered, after its fsync.
fn upload(addr: SocketAddr, password: &str, input: &Path, name: &str, digests: &Digests) -> anyhow::Result<Duration> {
    let mut file = File::open(input)?;
    let size = file.metadata()?.len();
    let hex: String = digests.sha256.iter().map(|b| format!("{b:02x}")).collect();
    let md5 = digests.md5.map(|md5| format!("Content-MD5: {}\r\n", STANDARD.encode(md5))).unwrap_or_default();
    let head = format!(
        "PUT /files/{name} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\nContent-Type: application/gzip\r\n\
         Content-Length: {size}\r\nx-checksum-sha256: {hex}\r\n{md5}Connection: close\r\n\r\n",
        authorization(password)
    );
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr)?;
    stream.write_all(head.as_bytes())?;
    let sent = io::copy(&mut file, &mut stream)?;
    ensure!(sent == size, "sent {sent} of {size} bytes");
    let (status, body) = read_response(stream)?;
    let elapsed = started.elapsed();
    ensure!(status == 201, "upload answered {status}: {body}");
    ensure!(body.contains(&hex), "the service recorded another digest: {body}");
    Ok(elapsed)
}

fn delete(addr: SocketAddr, password: &str, name: &str) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    write!(
        stream,
        "DELETE /files/{name} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        authorization(password)
    )?;
    let (status, body) = read_response(stream)?;
    ensure!(status == 204, "delete answered {status}: {body}");
    Ok(())
}

fn read_response(mut stream: TcpStream) -> anyhow::Result<(u16, String)> {
    stream.set_read_timeout(Some(Duration::from_secs(600)))?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).with_context(|| format!("no HTTP status in {text:?}"))?;
    Ok((status, text))
}

fn run_dd(dir: &Path, size_mib: u64) -> anyhow::Result<Duration> {
    let target = dir.join("dd.bin");
    let started = Instant::now();
    let output = Command::new("dd")
        .arg("if=/dev/zero")
        .arg(format!("of={}", target.display()))
        .args(["bs=1M", &format!("count={size_mib}"), "conv=fsync"])
        .output()
        .context("running dd")?;
    let elapsed = started.elapsed();
    ensure!(output.status.success(), "dd failed: {}", String::from_utf8_lossy(&output.stderr));
    std::fs::remove_file(&target)?;
    Ok(elapsed)
}

fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("reading the service's /proc status (Linux only)")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc status")
}

/// User and system CPU time the process has used so far.
#[cfg(target_os = "linux")]
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks > 0).then(|| (utime + stime) / ticks as f64)
}

#[cfg(not(target_os = "linux"))]
fn cpu_seconds(_pid: u32) -> Option<f64> {
    None
}

fn mib_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / MIB as f64 / elapsed.as_secs_f64()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) { (values[mid - 1] + values[mid]) / 2.0 } else { values[mid] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_input_is_a_valid_tgz() {
        let dir = std::env::temp_dir().join(format!("upload-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("input.tgz");
        let digests = generate_tgz(&path, 3 * MIB + 12_345, true).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(<[u8; 32]>::from(Sha256::digest(&bytes)), digests.sha256);
        assert_eq!(digests.md5, Some(<[u8; 16]>::from(Md5::digest(&bytes))));

        // Decoding checks the deflate blocks, the CRC and the length.
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut tar).unwrap();
        assert_eq!(tar.len() % 512, 0);
        let header: &[u8; 512] = tar[..512].try_into().unwrap();
        assert!(upload_service::sniff::looks_like_tar_header(header));
        assert!(tar[tar.len() - 1024..].iter().all(|&b| b == 0));
        let member = 3 * MIB + 12_345 - 3 * 512;
        assert_eq!(&header[124..136], format!("{member:011o}\0").as_bytes());
    }
}
