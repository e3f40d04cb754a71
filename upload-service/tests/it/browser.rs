//! The real page in headless Chromium over WebDriver: choose a file, upload it, see it listed,
//! download it. A screenshot is saved as `target/artifacts/upload-service-browser.png`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (the project's test script installs them);
//! `CHROMEDRIVER` and `CHROMIUM` override their paths.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use thirtyfour::prelude::*;

use crate::common::*;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

fn tool(variable: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.is_file(),
        "{} not found at {}: run the project's test script (scripts/test), which installs Chromium \
         and its WebDriver (apt-get install -y chromium chromium-driver), or set {variable}",
        Path::new(default).file_name().unwrap().to_string_lossy(),
        path.display()
    );
    path
}

/// chromedriver on a free loopback port, killed when dropped.
struct Chromedriver {
    child: Child,
    url: String,
}

impl Chromedriver {
    async fn start(binary: &Path) -> Chromedriver {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let driver = Chromedriver { child, url: format!("http://127.0.0.1:{port}") };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(response) = client.get(format!("{}/status", driver.url)).send().await
                && response.status().is_success()
            {
                return driver;
            }
            assert!(Instant::now() < deadline, "chromedriver did not answer on {}", driver.url);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `target/artifacts`, in the workspace's target directory.
fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("target"), PathBuf::from);
    let dir = target.join("artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A time limit for polling the page.
struct Deadline(Instant);

impl Deadline {
    fn in_30s() -> Deadline {
        Deadline(Instant::now() + Duration::from_secs(30))
    }

    /// Fails the test once the time is up; otherwise waits a little before the next look.
    async fn tick(&self, what: &str) {
        assert!(Instant::now() < self.0, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_list_and_download_in_chromium() {
    let chromedriver = tool("CHROMEDRIVER", CHROMEDRIVER);
    let chromium = tool("CHROMIUM", CHROMIUM);
    let server = TestServer::start().await;
    let workdir = tempfile::tempdir().unwrap();
    let downloads = workdir.path().join("downloads");
    std::fs::create_dir(&downloads).unwrap();
    let profile = workdir.path().join("profile");

    let content = tgz(&[("diag/system.txt", b"kernel: 6.1\nuptime: 42 days\n"), ("diag/app.log", &noise(300_000, 11))]);
    let file = workdir.path().join("browser-diag.tgz");
    std::fs::write(&file, &content).unwrap();

    let driver_process = Chromedriver::start(&chromedriver).await;
    let mut caps = DesiredCapabilities::chrome();
    caps.set_binary(chromium.to_str().unwrap()).unwrap();
    for arg in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        &format!("--user-data-dir={}", profile.display()),
    ] {
        caps.add_arg(arg).unwrap();
    }
    caps.add_experimental_option(
        "prefs",
        serde_json::json!({
            "download.default_directory": downloads.to_str().unwrap(),
            "download.prompt_for_download": false,
        }),
    )
    .unwrap();
    let driver = WebDriver::new(driver_process.url.clone(), caps).await.unwrap();
    // Driven in a task so that, whatever fails in it, the screenshot is taken and the browser
    // is closed before the failure is reported.
    let server = Arc::new(server);
    let run = tokio::spawn(drive(driver.clone(), server.clone(), file, content, downloads));
    let result = run.await;
    let screenshot = artifacts_dir().join("upload-service-browser.png");
    let shot = driver.screenshot(&screenshot).await;
    driver.quit().await.unwrap();
    match result {
        Ok(driven) => driven.unwrap(),
        Err(failure) => std::panic::resume_unwind(failure.into_panic()),
    }
    shot.unwrap();
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 1000);
}

async fn drive(
    driver: WebDriver,
    server: Arc<TestServer>,
    file: PathBuf,
    content: Vec<u8>,
    downloads: PathBuf,
) -> WebDriverResult<()> {
    // Credentials in the URL: Chromium answers the page's 401 challenge with them and reuses
    // them for the page's own requests to the same origin.
    let page = format!("http://{USER}:{}@{}/", PASSWORD.replace(' ', "%20"), server.addr);
    driver.goto(&page).await?;
    let title = driver.find(By::Css("h1")).await?.text().await?;
    assert_eq!(title, "Diagnostics upload");

    // Choose the file: the page uploads it at once, with a progress bar.
    let input = driver.find(By::Id("file-input")).await?;
    input.send_keys(file.to_str().unwrap()).await?;
    let deadline = Deadline::in_30s();
    let transfer = loop {
        if let Ok(item) = driver.find(By::Css("#transfers li")).await {
            let class = item.class_name().await?.unwrap_or_default();
            if class.contains("failed") {
                let state = item.find(By::Css(".state")).await?.text().await?;
                panic!("the page reports a failed upload: {state}");
            }
            if class.contains("done") {
                break item;
            }
        }
        deadline.tick("the upload to finish").await;
    };
    let progress = transfer.find(By::Css("progress")).await?;
    assert_eq!(progress.prop("value").await?.as_deref(), Some("100"));

    // Listed, with its size, and a download button pointing at the file.
    let deadline = Deadline::in_30s();
    let row = loop {
        if let Ok(row) = driver.find(By::Css("#files tbody tr[data-name='browser-diag.tgz']")).await {
            break row;
        }
        deadline.tick("the file to be listed").await;
    };
    let cells = row.find_all(By::Css("td")).await?;
    assert_eq!(cells[0].text().await?, "browser-diag.tgz");
    assert_eq!(cells[1].attr("title").await?, Some(format!("{} bytes", content.len())));
    let link = row.find(By::Css("a.download")).await?;
    let href = link.prop("href").await?.unwrap();
    assert_eq!(href, format!("http://{}/download/browser-diag.tgz", server.addr));

    // The server holds exactly the file the browser sent.
    assert_eq!(server.download("browser-diag.tgz").await, content);

    // Download it through the button.
    link.click().await?;
    let downloaded = downloads.join("browser-diag.tgz");
    let deadline = Deadline::in_30s();
    while std::fs::metadata(&downloaded).map_or(true, |m| m.len() != content.len() as u64) {
        deadline.tick("the download to complete").await;
    }
    assert_eq!(std::fs::read(&downloaded).unwrap(), content);
    Ok(())
}
