//! Progress of an apply/destroy: one timestamped line per event; on a terminal also a periodic
//! line naming what is in flight and for how long.

use super::out::outln;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::apply::{Event, Progress, Step};

fn now() -> String {
    let t = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    t.get(11..19).unwrap_or(&t).to_owned()
}

fn past(step: Step) -> &'static str {
    match step.verb() {
        "delete" => "deleted",
        "create" => "created",
        "update" => "updated",
        "adopt" => "adopted",
        _ => "read",
    }
}

fn ing(step: Step) -> &'static str {
    match step.verb() {
        "delete" => "deleting",
        "create" => "creating",
        "update" => "updating",
        "adopt" => "adopting",
        _ => "reading",
    }
}

pub struct Printer {
    pub progress: Progress,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Printer {
    fn drop(&mut self) {
        if let Some(t) = self.ticker.take() {
            t.abort();
        }
    }
}

pub fn printer(color: bool, tty: bool) -> Printer {
    let in_flight: Arc<Mutex<BTreeMap<String, Instant>>> = Arc::default();
    let paint = move |code: &str, s: &str| if color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_owned() };
    let flights = in_flight.clone();
    let progress: Progress = Arc::new(move |e: Event<'_>| {
        let line = match e {
            Event::Started { id, step } => {
                flights.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_owned(), Instant::now());
                format!("{id}: {}...", ing(step))
            }
            Event::Status { id, message } => format!("{id}: {message}"),
            Event::Retrying { id, step, error, after } => {
                format!("{id}: {} will retry in {:.1}s: {error}", step.verb(), after.as_secs_f64())
            }
            Event::Done { id, step, elapsed, physical_id } => {
                flights.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
                let pid = physical_id.map(|p| format!(" {p}")).unwrap_or_default();
                paint("32", &format!("{id}: {}{pid} ({:.1}s)", past(step), elapsed.as_secs_f64()))
            }
            Event::Failed { id, step, error } => {
                flights.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
                paint("31", &format!("{id}: {} failed: {error}", step.verb()))
            }
            Event::Skipped { id, because } => paint("33", &format!("{id}: skipped because `{because}` failed")),
            Event::Interrupted { in_flight } => paint(
                "33",
                &format!(
                    "interrupted: starting nothing new; waiting for {in_flight} operation(s) in flight, then saving state"
                ),
            ),
        };
        outln!("[{}] {line}", now());
    });
    let ticker = tty.then(|| {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                let list: Vec<String> = in_flight
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .map(|(id, t)| format!("{id} ({}s)", t.elapsed().as_secs()))
                    .collect();
                if !list.is_empty() {
                    outln!("[{}]   still in flight: {}", now(), list.join(", "));
                }
            }
        })
    });
    Printer { progress, ticker }
}
