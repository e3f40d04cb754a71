//! Counters and histograms, rendered in the Prometheus text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds, in seconds; uploads of large files over slow links take minutes.
const UPLOAD_BUCKETS: [f64; 14] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0];
const HTTP_BUCKETS: [f64; 11] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0];

#[derive(Debug)]
struct Histogram {
    bounds: &'static [f64],
    /// One count per bound (not cumulative); the `+Inf` bucket is `count`.
    counts: Vec<AtomicU64>,
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    fn observe(&self, duration: Duration) {
        let seconds = duration.as_secs_f64();
        if let Some(i) = self.bounds.iter().position(|&bound| seconds <= bound) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(duration.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {count}");
    }
}

#[derive(Debug)]
pub struct Metrics {
    uploads: AtomicU64,
    upload_bytes: AtomicU64,
    uploads_in_progress: AtomicI64,
    upload_failures: Mutex<BTreeMap<&'static str, u64>>,
    upload_duration: Histogram,
    downloads: AtomicU64,
    download_bytes: AtomicU64,
    deletes: AtomicU64,
    auth_failures: AtomicU64,
    rate_limited: AtomicU64,
    cross_site_refused: AtomicU64,
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    request_duration: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            uploads: AtomicU64::new(0),
            upload_bytes: AtomicU64::new(0),
            uploads_in_progress: AtomicI64::new(0),
            upload_failures: Mutex::new(BTreeMap::new()),
            upload_duration: Histogram::new(&UPLOAD_BUCKETS),
            downloads: AtomicU64::new(0),
            download_bytes: AtomicU64::new(0),
            deletes: AtomicU64::new(0),
            auth_failures: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            cross_site_refused: AtomicU64::new(0),
            requests: Mutex::new(BTreeMap::new()),
            request_duration: Histogram::new(&HTTP_BUCKETS),
        }
    }
}

/// Counts an upload in progress until dropped.
pub struct InProgress<'a>(&'a Metrics);

impl Drop for InProgress<'_> {
    fn drop(&mut self) {
        self.0.uploads_in_progress.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    pub fn upload_started(&self) -> InProgress<'_> {
        self.uploads_in_progress.fetch_add(1, Ordering::Relaxed);
        InProgress(self)
    }

    pub fn upload_stored(&self, bytes: u64, duration: Duration) {
        self.uploads.fetch_add(1, Ordering::Relaxed);
        self.upload_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.upload_duration.observe(duration);
    }

    pub fn upload_failed(&self, reason: &'static str) {
        *lock(&self.upload_failures).entry(reason).or_default() += 1;
    }

    pub fn download_started(&self, bytes: u64) {
        self.downloads.fetch_add(1, Ordering::Relaxed);
        self.download_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn deleted(&self) {
        self.deletes.fetch_add(1, Ordering::Relaxed);
    }

    pub fn auth_failed(&self) {
        self.auth_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    pub fn cross_site_refused(&self) {
        self.cross_site_refused.fetch_add(1, Ordering::Relaxed);
    }

    pub fn request_done(&self, method: &'static str, status: u16, duration: Duration) {
        *lock(&self.requests).entry((method, status)).or_default() += 1;
        self.request_duration.observe(duration);
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        counter(&mut out, "upload_files_total", "Files stored.", self.uploads.load(Ordering::Relaxed));
        counter(&mut out, "upload_bytes_total", "Bytes of files stored.", self.upload_bytes.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP upload_in_progress Uploads being received.");
        let _ = writeln!(out, "# TYPE upload_in_progress gauge");
        let _ = writeln!(out, "upload_in_progress {}", self.uploads_in_progress.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP upload_errors_total Uploads refused or failed, by reason.");
        let _ = writeln!(out, "# TYPE upload_errors_total counter");
        for (reason, count) in lock(&self.upload_failures).iter() {
            let _ = writeln!(out, "upload_errors_total{{reason=\"{reason}\"}} {count}");
        }
        self.upload_duration.render(&mut out, "upload_duration_seconds", "Time to receive, verify and store one file.");
        counter(&mut out, "upload_downloads_total", "Downloads started.", self.downloads.load(Ordering::Relaxed));
        counter(
            &mut out,
            "upload_download_bytes_total",
            "Bytes of downloads started.",
            self.download_bytes.load(Ordering::Relaxed),
        );
        counter(&mut out, "upload_deletes_total", "Files deleted.", self.deletes.load(Ordering::Relaxed));
        counter(
            &mut out,
            "upload_auth_failures_total",
            "Requests refused for missing or wrong credentials.",
            self.auth_failures.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "upload_auth_rate_limited_total",
            "Requests refused (429) because their client had too many recent failed logins.",
            self.rate_limited.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "upload_cross_site_refused_total",
            "Requests that would change files refused (403) as coming from another site.",
            self.cross_site_refused.load(Ordering::Relaxed),
        );
        let _ = writeln!(out, "# HELP http_requests_total HTTP requests answered.");
        let _ = writeln!(out, "# TYPE http_requests_total counter");
        for ((method, status), count) in lock(&self.requests).iter() {
            let _ = writeln!(out, "http_requests_total{{method=\"{method}\",status=\"{status}\"}} {count}");
        }
        self.request_duration.render(
            &mut out,
            "http_request_duration_seconds",
            "Time to produce a response (an upload's time is in the response time, a download's is not).",
        );
        out
    }
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
    let _ = writeln!(out, "{name} {value}");
}

/// A poisoned lock only means a panic elsewhere while counting; the counts are still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_exposition_format() {
        let metrics = Metrics::default();
        metrics.upload_stored(100, Duration::from_millis(200));
        metrics.upload_failed("not_gzip");
        metrics.request_done("GET", 200, Duration::from_millis(2));
        metrics.auth_failed();
        metrics.rate_limited();
        metrics.rate_limited();
        let text = metrics.render();
        assert!(text.contains("upload_files_total 1\n"), "{text}");
        assert!(text.contains("upload_bytes_total 100\n"), "{text}");
        assert!(text.contains("upload_errors_total{reason=\"not_gzip\"} 1\n"), "{text}");
        assert!(text.contains("upload_duration_seconds_bucket{le=\"0.1\"} 0\n"), "{text}");
        assert!(text.contains("upload_duration_seconds_bucket{le=\"0.25\"} 1\n"), "{text}");
        assert!(text.contains("upload_duration_seconds_bucket{le=\"+Inf\"} 1\n"), "{text}");
        assert!(text.contains("upload_duration_seconds_sum 0.2\n"), "{text}");
        assert!(text.contains("http_requests_total{method=\"GET\",status=\"200\"} 1\n"), "{text}");
        assert!(text.contains("upload_auth_failures_total 1\n"), "{text}");
        assert!(
            text.contains("# TYPE upload_auth_rate_limited_total counter\nupload_auth_rate_limited_total 2\n"),
            "{text}"
        );
        assert!(text.contains("upload_cross_site_refused_total 0\n"), "{text}");
    }
}
