//! The importer: the one object every edge drives. Bytes go in, requests come out, responses go back in, and
//! the ledger says what happened to every row.
//!
//! ```text
//! loop {
//!     match importer.poll(now) {
//!         Step::Send(req)          => start the request; later call on_response / on_network_error,
//!         Step::Wait { until }     => if importer.wants_input() { push the next chunk (or finish) }
//!                                     else wait for a response or until `until`,
//!         Step::Done               => break,
//!     }
//! }
//! ```

use serde::{Deserialize, Serialize};

use crate::batch::{Batch, Packer, PackerConfig, RowRef};
use crate::csv_input::{CsvOptions, CsvReader, Dialect, Encoding, Limit, ReadResult, Record};
use crate::held::Held;
use crate::issue::{Issue, IssueCode, Severity};
use crate::ledger::{RejectedCsv, Summary};
use crate::mapping::{self, Column, Kind, Mapping, MappingError, MappingOptions};
use crate::payload::PayloadBuilder;
use crate::sender::{Action, Api, Request, Response, RowOutcome, Sender, SenderConfig, SenderStats};
use crate::timestamp::DefaultZone;
use crate::validate::{Limits, PreparedRow, Validator, ValidatorOptions};

/// The API, as users name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiChoice {
    /// Track API v2.
    Track,
    /// Data Pipelines.
    Pipelines,
}

impl From<ApiChoice> for Api {
    fn from(a: ApiChoice) -> Api {
        match a {
            ApiChoice::Track => Api::TrackV2,
            ApiChoice::Pipelines => Api::Pipelines,
        }
    }
}

/// Everything the core needs to know (the edges add region, endpoint and credentials).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportOptions {
    /// Track or Pipelines.
    pub api: ApiChoice,
    /// People or events.
    pub kind: Kind,
    /// The mapping choices.
    #[serde(default)]
    pub mapping: MappingOptions,
    /// Build and pack everything, send nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Reject (code `skipped`) events inside the 72-hour campaign window.
    #[serde(default)]
    pub skip_campaign_window: bool,
    /// The clock for the campaign window (unix ms); the core never reads one.
    pub now: f64,
    /// Requests per second.
    #[serde(default)]
    pub rate_limit: Option<f64>,
    /// Requests in flight.
    #[serde(default)]
    pub concurrency: Option<usize>,
    /// Attempts per request.
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// Largest request body (default 475,000 for Pipelines, 490,000 for Track v2).
    #[serde(default)]
    pub batch_bytes: Option<usize>,
    /// Skip records up to and including this one (from a checkpoint).
    #[serde(default)]
    pub resume_after_record: u64,
    /// Force a delimiter (one character).
    #[serde(default)]
    pub delimiter: Option<String>,
    /// Force an encoding: `utf-8`, `utf-16le`, `utf-16be`, `windows-1252`.
    #[serde(default)]
    pub encoding: Option<String>,
    /// Pipelines from a browser: the key goes into the body as `writeKey` (no `Authorization` header).
    #[serde(default, skip_serializing)]
    pub write_key: Option<String>,
    /// Seed of the retry jitter.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Rows sampled to infer types and date orders (default 1000).
    #[serde(default)]
    pub sample_rows: Option<usize>,
    /// Keep the serialized items (NDJSON) for [`Importer::take_payloads`] (dry runs).
    #[serde(default)]
    pub keep_payloads: bool,
}

impl ImportOptions {
    /// Options with the defaults for `api` and `kind` at time `now` (unix ms).
    pub fn new(api: ApiChoice, kind: Kind, now: f64) -> Self {
        ImportOptions {
            api,
            kind,
            mapping: MappingOptions::default(),
            dry_run: false,
            skip_campaign_window: false,
            now,
            rate_limit: None,
            concurrency: None,
            max_attempts: None,
            batch_bytes: None,
            resume_after_record: 0,
            delimiter: None,
            encoding: None,
            write_key: None,
            seed: None,
            sample_rows: None,
            keep_payloads: false,
        }
    }
}

/// Why the import cannot go on. Each has a stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportError {
    /// The options are wrong (`E_CONFIG`).
    Config(String),
    /// The input is not a usable CSV (`E_CSV`).
    Csv(String),
    /// A record went over a limit of the reader (`E_CSV`, with the limit's [`Limit::reason`]): reading stopped.
    CsvLimit(Limit, String),
    /// The mapping cannot be resolved (`E_MAPPING`).
    Mapping(String),
}

impl ImportError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ImportError::Config(_) => "E_CONFIG",
            ImportError::Csv(_) | ImportError::CsvLimit(..) => "E_CSV",
            ImportError::Mapping(_) => "E_MAPPING",
        }
    }
    /// The message (lowercase).
    pub fn message(&self) -> &str {
        match self {
            ImportError::Config(m) | ImportError::Csv(m) | ImportError::Mapping(m) => m,
            ImportError::CsvLimit(_, m) => m,
        }
    }
    /// A finer, stable reason within the code, where there is one: a [`Limit::reason`] for `E_CSV`.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            ImportError::CsvLimit(l, _) => Some(l.reason()),
            _ => None,
        }
    }
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for ImportError {}

/// What the edge should do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Make this request now (`POST` the body to the API's batch path).
    Send(Request),
    /// Push input if [`Importer::wants_input`]; otherwise wait for a response or until `until` (unix ms).
    Wait {
        /// The earliest time something can be sent, if a timer is what we wait for.
        until: Option<f64>,
    },
    /// Every row is settled (or the run stopped): read [`Importer::summary`].
    Done,
}

/// What the edges show before (and while) importing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inspection {
    /// Encoding, delimiter, line endings.
    pub dialect: Option<Dialect>,
    /// The header row.
    pub headers: Vec<String>,
    /// The resolved columns (empty while the mapping cannot be resolved).
    pub columns: Vec<Column>,
    /// The identifier column's index and kind, once resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping: Option<Mapping>,
    /// Why the mapping cannot be resolved, if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping_error: Option<String>,
    /// The first records, as read.
    pub preview: Vec<Vec<String>>,
    /// The first payload items, exactly as they will be sent.
    pub preview_payloads: Vec<serde_json::Value>,
    /// Header and mapping issues.
    pub file_issues: Vec<Issue>,
}

enum Stage {
    /// Reading the header and the sample.
    Sampling(Vec<Record>),
    Running(Box<Running>),
    Failed(ImportError),
}

struct Running {
    validator: Validator,
    builder: PayloadBuilder,
}

const PREVIEW_ROWS: usize = 20;
const PREVIEW_PAYLOADS: usize = 5;
const MAX_BUFFERED_ISSUES: usize = 100_000;
const MAX_READER_BUFFER: usize = 1 << 20;

/// The importer.
pub struct Importer {
    opts: ImportOptions,
    reader: CsvReader,
    rec: Record,
    stage: Stage,
    packer: Packer,
    sender: Option<Sender>,
    row: PreparedRow,
    /// The buffer row outcomes are handed over in (see [`Sender::swap_outcomes`]).
    outcomes: Vec<(RowRef, RowOutcome)>,
    issues: Vec<Issue>,
    issues_total: u64,
    issues_dropped: u64,
    file_issues: Vec<Issue>,
    rejected: Option<RejectedCsv>,
    inflight: Held,
    /// A row the API refused or that failed, read back from `inflight` for the rejected CSV.
    settled: Record,
    summary: Summary,
    preview: Vec<Vec<String>>,
    payloads: Vec<u8>,
    last_record: u64,
    /// The first record that failed to deliver: the checkpoint stays below it, so a resume sends it again.
    first_failed: Option<u64>,
    /// The first payloads, for previews.
    preview_payloads: Vec<serde_json::Value>,
    input_done: bool,
    read_end: bool,
    closed: bool,
    cancelled: Option<String>,
    max_queue: usize,
    sniffed_binary: Option<bool>,
    head: Vec<u8>,
}

impl std::fmt::Debug for Importer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Importer")
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

fn parse_encoding(s: &str) -> Option<Encoding> {
    match mapping::normalize_header(s).as_str() {
        "utf8" => Some(Encoding::Utf8),
        "utf8bom" => Some(Encoding::Utf8Bom),
        "utf16le" | "utf16" => Some(Encoding::Utf16Le),
        "utf16be" => Some(Encoding::Utf16Be),
        "windows1252" | "cp1252" | "latin1" | "iso88591" => Some(Encoding::Windows1252),
        _ => None,
    }
}

impl Importer {
    /// A new importer; fails on options that cannot work.
    pub fn new(opts: ImportOptions) -> Result<Self, ImportError> {
        let api = Api::from(opts.api);
        let delimiter = match opts.delimiter.as_deref() {
            None | Some("") | Some("auto") => None,
            Some("\\t") | Some("tab") => Some(b'\t'),
            Some(d) if d.len() == 1 && d != "\"" && d != "\n" && d != "\r" => Some(d.as_bytes()[0]),
            Some(d) => {
                return Err(ImportError::Config(format!(
                    "expected a one-byte delimiter such as , ; | or tab, found {d:?}"
                )))
            }
        };
        let encoding = match opts.encoding.as_deref() {
            None | Some("") | Some("auto") => None,
            Some(e) => Some(parse_encoding(e).ok_or_else(|| {
                ImportError::Config(format!(
                    "expected an encoding of utf-8, utf-16le, utf-16be or windows-1252, found {e:?}"
                ))
            })?),
        };
        if let Some(z) = &opts.mapping.default_zone {
            DefaultZone::parse(z).map_err(|e| ImportError::Config(format!("default zone: {e}")))?;
        }
        let batch_bytes = opts.batch_bytes.unwrap_or(match api {
            Api::Pipelines => 475_000,
            Api::TrackV2 => 490_000,
        });
        if !(1_000..=500_000).contains(&batch_bytes) {
            return Err(ImportError::Config(format!(
                "expected a batch size between 1000 and 500000 bytes (the api's limit), found {batch_bytes}"
            )));
        }
        let mut packer_cfg = PackerConfig::batch_envelope(batch_bytes);
        if let Some(key) = &opts.write_key {
            let mut suffix = br#"],"writeKey":"#.to_vec();
            serde_json::to_writer(&mut suffix, key).expect("vec write");
            suffix.push(b'}');
            packer_cfg.suffix = suffix;
        }
        let mut sender_cfg = SenderConfig::new(api);
        if let Some(r) = opts.rate_limit {
            if !(r.is_finite() && r > 0.0) {
                return Err(ImportError::Config(format!(
                    "expected a positive rate limit, found {r}"
                )));
            }
            sender_cfg.rate_per_sec = r;
        }
        if let Some(c) = opts.concurrency {
            if !(1..=64).contains(&c) {
                return Err(ImportError::Config(format!(
                    "expected a concurrency from 1 to 64, found {c}"
                )));
            }
            sender_cfg.concurrency = c;
            sender_cfg.burst = sender_cfg.burst.max(c as f64);
        }
        if let Some(a) = opts.max_attempts {
            sender_cfg.max_attempts = a.max(1);
        }
        if let Some(s) = opts.seed {
            sender_cfg.seed = s;
        }
        let max_queue = sender_cfg.concurrency * 2;
        let sender = (!opts.dry_run).then(|| Sender::new(sender_cfg));
        let summary = Summary {
            dry_run: opts.dry_run,
            ..Default::default()
        };
        Ok(Importer {
            reader: CsvReader::new(CsvOptions {
                delimiter,
                encoding,
                ..CsvOptions::default()
            }),
            rec: Record::default(),
            stage: Stage::Sampling(Vec::new()),
            packer: Packer::new(packer_cfg),
            sender,
            row: PreparedRow::default(),
            outcomes: Vec::new(),
            issues: Vec::new(),
            issues_total: 0,
            issues_dropped: 0,
            file_issues: Vec::new(),
            rejected: None,
            inflight: Held::default(),
            settled: Record::default(),
            summary,
            preview: Vec::new(),
            payloads: Vec::new(),
            last_record: 0,
            first_failed: None,
            preview_payloads: Vec::new(),
            input_done: false,
            read_end: false,
            closed: false,
            cancelled: None,
            max_queue,
            sniffed_binary: None,
            head: Vec::new(),
            opts,
        })
    }

    /// The options.
    pub fn options(&self) -> &ImportOptions {
        &self.opts
    }

    /// Feed the next chunk of the file.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), ImportError> {
        self.check_failed()?;
        if self.input_done {
            return Err(ImportError::Config("push after finish".into()));
        }
        if self.sniffed_binary.is_none() {
            let want = 1024 - self.head.len();
            self.head.extend_from_slice(&chunk[..chunk.len().min(want)]);
            if self.head.len() >= 1024 {
                self.check_binary()?;
            }
        }
        self.reader.push(chunk);
        self.pump();
        self.check_failed()
    }

    /// The file is complete.
    pub fn finish(&mut self) -> Result<(), ImportError> {
        self.check_failed()?;
        if self.sniffed_binary.is_none() {
            self.check_binary()?;
        }
        if !self.input_done {
            self.input_done = true;
            self.reader.finish();
        }
        self.pump();
        self.check_failed()
    }

    fn check_binary(&mut self) -> Result<(), ImportError> {
        let head = std::mem::take(&mut self.head);
        let h = &head[..];
        let utf16 = h.starts_with(&[0xFF, 0xFE]) || h.starts_with(&[0xFE, 0xFF]);
        let magic: &[&[u8]] = &[b"PK\x03\x04", b"%PDF", b"\x89PNG", b"\x1f\x8b", b"\xd0\xcf\x11\xe0"];
        let binary = !utf16 && (h.contains(&0) || magic.iter().any(|m| h.starts_with(m)));
        self.sniffed_binary = Some(binary);
        if binary {
            let what = if h.starts_with(b"PK\x03\x04") || h.starts_with(b"\xd0\xcf\x11\xe0") {
                " (it looks like a spreadsheet or zip archive: export it as csv first)"
            } else {
                ""
            };
            let e = ImportError::Csv(format!("expected a csv text file, found binary data{what}"));
            self.stage = Stage::Failed(e.clone());
            return Err(e);
        }
        Ok(())
    }

    fn check_failed(&self) -> Result<(), ImportError> {
        match &self.stage {
            Stage::Failed(e) => Err(e.clone()),
            _ => Ok(()),
        }
    }

    /// True when the importer can take another chunk now (false while the send window is full: backpressure).
    pub fn wants_input(&self) -> bool {
        !self.input_done
            && self.cancelled.is_none()
            && !matches!(self.stage, Stage::Failed(_))
            && self
                .sender
                .as_ref()
                .is_none_or(|s| s.queued() < self.max_queue && s.fatal().is_none())
            && self.reader.bytes_buffered() < MAX_READER_BUFFER
    }

    fn backpressured(&self) -> bool {
        self.sender.as_ref().is_some_and(|s| s.queued() >= self.max_queue)
    }

    fn pump(&mut self) {
        while !self.read_end && self.cancelled.is_none() && !self.backpressured() {
            if matches!(self.stage, Stage::Failed(_)) {
                return;
            }
            let mut rec = std::mem::take(&mut self.rec);
            match self.reader.read(&mut rec) {
                ReadResult::Record => self.on_record(&rec),
                ReadResult::NeedMore => {
                    self.rec = rec;
                    return;
                }
                ReadResult::End => {
                    self.read_end = true;
                    self.on_end();
                }
            }
            self.rec = rec;
        }
    }

    /// A record read.
    fn on_record(&mut self, rec: &Record) {
        if self.preview.len() < PREVIEW_ROWS {
            self.preview.push(rec.iter().map(str::to_string).collect());
        }
        if let Stage::Sampling(sample) = &mut self.stage {
            sample.push(rec.clone());
            if sample.len() >= self.opts.sample_rows.unwrap_or(1000) {
                self.start_running();
            }
            return;
        }
        self.process(rec);
    }

    fn on_end(&mut self) {
        // A record too long to read (an unclosed quote, nearly always) ends the input early: the rows before it go on
        // as usual, then the run stops with the error, and rows not yet handed to the API end failed with it.
        let cut_short = self
            .reader
            .stopped()
            .map(|(l, e)| ImportError::CsvLimit(l, e.to_string()));
        if matches!(self.stage, Stage::Sampling(_)) {
            if self.reader.headers().is_none() {
                self.stage = Stage::Failed(cut_short.unwrap_or_else(|| {
                    ImportError::Csv("the file is empty: expected a header row and data rows".into())
                }));
                return;
            }
            self.start_running();
        }
        if let Some(b) = self.packer.flush() {
            self.emit(b);
        }
        if let Some(e) = cut_short {
            self.stage = Stage::Failed(e);
        }
    }

    fn start_running(&mut self) {
        let Stage::Sampling(sample) = std::mem::replace(&mut self.stage, Stage::Sampling(Vec::new())) else {
            return;
        };
        let headers: Vec<String> = self.reader.headers().map(<[String]>::to_vec).unwrap_or_default();
        self.file_issues.extend(self.reader.header_issues().iter().cloned());
        let decimal_comma = self.reader.dialect().is_some_and(|d| d.delimiter == b';');
        let resolved = if self.opts.api == ApiChoice::Pipelines && self.opts.mapping.cio_id_column.is_some() {
            Err(MappingError {
                message: "cio_id identifiers work with the track api only; use id or email".into(),
            })
        } else {
            mapping::resolve(self.opts.kind, &headers, &sample, &self.opts.mapping, decimal_comma)
        };
        let (mapping, issues) = match resolved {
            Ok(m) => m,
            Err(e) => {
                self.stage = Stage::Failed(ImportError::Mapping(e.message));
                return;
            }
        };
        if self.opts.api == ApiChoice::Pipelines && mapping.identifier.1 == mapping::IdKind::CioId {
            self.stage = Stage::Failed(ImportError::Mapping(
                "cio_id identifiers work with the track api only; use id or email".into(),
            ));
            return;
        }
        self.file_issues.extend(issues);
        for i in self.file_issues.clone() {
            self.record_issue(i);
        }
        let default_zone = match &self.opts.mapping.default_zone {
            Some(z) => DefaultZone::parse(z).unwrap_or_else(|_| DefaultZone::utc()),
            None => DefaultZone::utc(),
        };
        let limits = Limits::default();
        let builder = PayloadBuilder::new(self.opts.api.into(), &mapping, limits);
        let validator = Validator::new(
            mapping,
            headers.len(),
            ValidatorOptions {
                limits,
                now_ms: self.opts.now as i64,
                skip_campaign_window: self.opts.skip_campaign_window,
                default_zone,
                date_order: self.opts.mapping.date_order,
            },
        );
        self.rejected = Some(RejectedCsv::new(headers));
        self.stage = Stage::Running(Box::new(Running { validator, builder }));
        for rec in sample {
            self.process(&rec);
        }
    }

    fn record_issue(&mut self, issue: Issue) {
        self.issues_total += 1;
        if self.issues.len() < MAX_BUFFERED_ISSUES {
            self.issues.push(issue);
        } else {
            self.issues_dropped += 1;
        }
    }

    /// Validate, build and pack one record; a record handed to the sender is copied into `inflight`.
    fn process(&mut self, rec: &Record) {
        let Stage::Running(run) = &mut self.stage else { return };
        self.last_record = rec.record;
        if rec.record <= self.opts.resume_after_record {
            self.summary.skipped_resume += 1;
            self.summary.rows += 1;
            return;
        }
        self.summary.rows += 1;
        let mut row_issues = Vec::new();
        let mut ok = run.validator.check(rec, &mut self.row, &mut row_issues);
        if ok {
            // The item is written straight into the open batch's body.
            if let Err(e) = run.builder.build(rec, &self.row, self.packer.open()) {
                self.packer.discard();
                row_issues.push(Issue::new(e.code, rec.line, rec.record, e.message));
                ok = false;
            }
        }
        if !ok {
            self.summary.rejected += 1;
            let (code, reason) = first_error(&row_issues);
            if let Some(w) = &mut self.rejected {
                w.write(rec, code, &reason);
            }
        } else {
            self.summary.valid += 1;
            self.summary.warnings += u64::from(self.row.warned);
            self.summary.campaign_window += u64::from(self.row.in_campaign_window);
            self.summary.older_than_30_days += u64::from(self.row.older_than_30_days);
            if self.preview_payloads.len() < PREVIEW_PAYLOADS {
                if let Ok(v) = serde_json::from_slice(self.packer.item()) {
                    self.preview_payloads.push(v);
                }
            }
            if self.opts.keep_payloads {
                self.payloads.extend_from_slice(self.packer.item());
                self.payloads.push(b'\n');
            }
            let row = RowRef {
                record: rec.record,
                line: rec.line,
            };
            match self.packer.commit(row) {
                Ok(closed) => {
                    if self.opts.dry_run {
                        self.summary.unsent += 1;
                    } else {
                        self.summary.pending += 1;
                        self.inflight.take(rec);
                    }
                    if let Some(b) = closed {
                        self.emit(b);
                    }
                }
                Err(e) => {
                    // The payload builder enforces the item limit, so only a tiny batch limit gets here.
                    self.summary.valid -= 1;
                    self.summary.rejected += 1;
                    let msg = format!(
                        "expected a payload item of at most {} bytes, found {} bytes",
                        e.limit, e.size
                    );
                    if let Some(w) = &mut self.rejected {
                        w.write(rec, IssueCode::ItemTooLarge.as_str(), &msg);
                    }
                    row_issues.push(Issue::new(IssueCode::ItemTooLarge, rec.line, rec.record, msg));
                }
            }
        }
        for i in row_issues {
            self.record_issue(i);
        }
    }

    fn emit(&mut self, batch: Batch) {
        if self.opts.dry_run {
            self.summary.requests += 1;
            self.summary.body_bytes += batch.body().len() as u64;
            return;
        }
        if let Some(s) = &mut self.sender {
            s.enqueue(batch);
        }
    }

    /// What to do at time `now_ms`.
    pub fn poll(&mut self, now_ms: f64) -> Step {
        self.pump();
        if matches!(self.stage, Stage::Failed(_)) && self.inflight.is_empty() {
            return Step::Done;
        }
        let finished_reading = self.read_end || self.cancelled.is_some();
        let Some(sender) = &mut self.sender else {
            return if finished_reading {
                Step::Done
            } else {
                Step::Wait { until: None }
            };
        };
        if finished_reading && !self.closed {
            self.closed = true;
            sender.close();
        }
        let step = match sender.poll(now_ms) {
            Action::Send(r) => {
                self.summary.body_bytes += r.body.len() as u64;
                Step::Send(r)
            }
            Action::WaitUntil(t) => Step::Wait { until: Some(t) },
            Action::AwaitResponses | Action::Idle => Step::Wait { until: None },
            Action::Done => Step::Done,
        };
        self.settle();
        step
    }

    /// The API answered request `id`.
    pub fn on_response(&mut self, id: u64, now_ms: f64, response: Response) {
        if let Some(s) = &mut self.sender {
            s.on_response(id, now_ms, response);
        }
        self.settle();
        self.pump();
    }

    /// Request `id` got no HTTP answer.
    pub fn on_network_error(&mut self, id: u64, now_ms: f64, message: &str) {
        if let Some(s) = &mut self.sender {
            s.on_network_error(id, now_ms, message);
        }
        self.settle();
        self.pump();
    }

    /// Stop: read no more input; rows not yet handed to the API end failed with `reason`.
    pub fn cancel(&mut self, reason: &str) {
        if self.cancelled.is_some() {
            return;
        }
        self.cancelled = Some(reason.to_string());
        self.input_done = true;
        if let Some(b) = self.packer.flush() {
            self.emit(b);
        }
        if let Some(s) = &mut self.sender {
            s.cancel(reason);
        }
        self.settle();
    }

    fn settle(&mut self) {
        let Some(s) = &mut self.sender else { return };
        let mut outcomes = std::mem::take(&mut self.outcomes);
        s.swap_outcomes(&mut outcomes);
        for (row, outcome) in outcomes.drain(..) {
            let sent = matches!(outcome, RowOutcome::Sent);
            let rec = &mut self.settled;
            if !self.inflight.remove(row.record, (!sent).then_some(rec)) {
                continue;
            }
            self.summary.pending -= 1;
            let (code, reason) = match outcome {
                RowOutcome::Sent => {
                    self.summary.sent += 1;
                    continue;
                }
                RowOutcome::ApiRejected(r) => {
                    self.summary.api_rejected += 1;
                    (IssueCode::ApiRejected, r)
                }
                RowOutcome::Failed(r) => {
                    self.summary.failed += 1;
                    self.first_failed = Some(self.first_failed.map_or(row.record, |f| f.min(row.record)));
                    (IssueCode::DeliveryFailed, r)
                }
            };
            let rec = &self.settled;
            if let Some(w) = &mut self.rejected {
                w.write(rec, code.as_str(), &reason);
            }
            let issue = Issue::new(code, rec.line, rec.record, reason);
            self.issues_total += 1;
            if self.issues.len() < MAX_BUFFERED_ISSUES {
                self.issues.push(issue);
            } else {
                self.issues_dropped += 1;
            }
        }
        self.outcomes = outcomes;
    }

    /// The summary so far.
    pub fn summary(&self) -> Summary {
        let mut s = self.summary;
        if let Some(sender) = &self.sender {
            let SenderStats {
                requests,
                retries,
                bisections,
                ..
            } = sender.stats();
            s.requests = requests;
            s.retries = retries;
            s.bisections = bisections;
        }
        let unsettled = self.inflight.first().into_iter().chain(self.first_failed);
        s.checkpoint = unsettled.min().map_or(self.last_record, |first| first - 1);
        s
    }

    /// The run-stopping error from the API, if any: (`E_AUTH` or `E_NETWORK`, message).
    pub fn fatal(&self) -> Option<(&'static str, String)> {
        self.sender.as_ref().and_then(|s| s.fatal()).map(|f| match f {
            crate::sender::Fatal::Auth { status, message } => {
                let m = if message.is_empty() {
                    String::new()
                } else {
                    format!(": {message}")
                };
                ("E_AUTH", format!("the api refused the credentials ({status}){m}"))
            }
            crate::sender::Fatal::Unreachable { message } => ("E_NETWORK", format!("cannot reach the api: {message}")),
        })
    }

    /// The error that stopped reading, if any.
    pub fn error(&self) -> Option<&ImportError> {
        match &self.stage {
            Stage::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// Issues found since the last call (at most 100,000 are held between calls; see [`Importer::issue_counts`]).
    pub fn take_issues(&mut self) -> Vec<Issue> {
        std::mem::take(&mut self.issues)
    }

    /// (issues found in all, issues dropped because they were not taken in time).
    pub fn issue_counts(&self) -> (u64, u64) {
        (self.issues_total, self.issues_dropped)
    }

    /// The next part of the rejected-rows CSV (header first). Empty when nothing new.
    pub fn take_rejected_csv(&mut self) -> Vec<u8> {
        self.rejected.as_mut().map(RejectedCsv::take).unwrap_or_default()
    }

    /// The serialized items since the last call, as NDJSON (only with `keep_payloads`).
    pub fn take_payloads(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.payloads)
    }

    /// What was detected and resolved so far.
    pub fn inspect(&self) -> Inspection {
        let (mapping, mapping_error) = match &self.stage {
            Stage::Running(r) => (Some(r.validator.mapping().clone()), None),
            Stage::Failed(e) => (None, Some(e.message().to_string())),
            Stage::Sampling(_) => (None, None),
        };
        Inspection {
            dialect: self.reader.dialect().cloned(),
            headers: self.reader.headers().map(<[String]>::to_vec).unwrap_or_default(),
            columns: mapping.as_ref().map(|m| m.columns.clone()).unwrap_or_default(),
            mapping,
            mapping_error,
            preview: self.preview.clone(),
            preview_payloads: self.preview_payloads.clone(),
            file_issues: if self.file_issues.is_empty() {
                self.reader.header_issues().to_vec()
            } else {
                self.file_issues.clone()
            },
        }
    }

    /// Bytes pushed so far.
    pub fn bytes_read(&self) -> u64 {
        self.reader.bytes_pushed()
    }
}

fn first_error(issues: &[Issue]) -> (&'static str, String) {
    let errors: Vec<&Issue> = issues.iter().filter(|i| i.severity == Severity::Error).collect();
    let Some(first) = errors.first() else {
        return ("rejected", String::from("rejected"));
    };
    let mut reason = String::new();
    for (n, i) in errors.iter().enumerate() {
        if n > 0 {
            reason.push_str("; ");
        }
        if let Some(c) = &i.column_name {
            reason.push_str(c);
            reason.push_str(": ");
        }
        reason.push_str(&i.message);
    }
    (first.code.as_str(), reason)
}
