//! The ledger: every row ends in exactly one state, the summary adds up, and the rows that were not delivered
//! come back as a CSV that is ready to fix and re-import.

use serde::Serialize;

use crate::csv_input::Record;

/// What happened to all rows so far. Invariant: `rows == rejected + sent + api_rejected + failed + unsent +
/// pending + skipped_resume`, and `valid == rows - rejected - skipped_resume`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Data rows read.
    pub rows: u64,
    /// Rows that passed validation.
    pub valid: u64,
    /// Rows rejected before sending.
    pub rejected: u64,
    /// Rows with at least one warning (they are still sent).
    pub warnings: u64,
    /// Rows accepted by the API.
    pub sent: u64,
    /// Rows rejected by the API.
    pub api_rejected: u64,
    /// Rows not delivered after retries (or cancelled, or stopped by an auth error).
    pub failed: u64,
    /// Valid rows not sent because this is a dry run.
    pub unsent: u64,
    /// Valid rows packed or in flight, not yet settled.
    pub pending: u64,
    /// Rows at or below the resume checkpoint, skipped.
    pub skipped_resume: u64,
    /// Requests made (retries included); in a dry run, the requests that would be made.
    pub requests: u64,
    /// Retries.
    pub retries: u64,
    /// Batches split to isolate rows the API refused.
    pub bisections: u64,
    /// Valid rows inside the 72-hour campaign window.
    pub campaign_window: u64,
    /// Valid rows older than 30 days (they count in segments but do not show in the activity log).
    pub older_than_30_days: u64,
    /// Bytes of request bodies (in a dry run, the bodies that would be sent).
    pub body_bytes: u64,
    /// The highest record number below which every row is settled (for `--resume`).
    pub checkpoint: u64,
    /// True when nothing was sent on purpose.
    pub dry_run: bool,
}

impl Summary {
    /// True when the counts add up.
    pub fn adds_up(&self) -> bool {
        self.rows
            == self.rejected
                + self.sent
                + self.api_rejected
                + self.failed
                + self.unsent
                + self.pending
                + self.skipped_resume
            && self.valid + self.rejected + self.skipped_resume == self.rows
    }
}

/// Writes the rows that were not delivered as CSV: the original columns, then `line`, `code`, `reason`.
/// Cells that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return first) are
/// prefixed with `'`.
#[derive(Debug, Default)]
pub struct RejectedCsv {
    out: Vec<u8>,
    header_written: bool,
    headers: Vec<String>,
    /// Rows written so far.
    pub rows: u64,
}

impl RejectedCsv {
    /// A writer for a file with `headers`.
    pub fn new(headers: Vec<String>) -> Self {
        RejectedCsv {
            out: Vec::new(),
            header_written: false,
            headers,
            rows: 0,
        }
    }

    fn write_header(&mut self) {
        if self.header_written {
            return;
        }
        self.header_written = true;
        let headers = std::mem::take(&mut self.headers);
        for h in &headers {
            self.cell(h);
            self.out.push(b',');
        }
        self.out.extend_from_slice(b"line,code,reason\n");
        self.headers = headers;
    }

    fn cell(&mut self, s: &str) {
        let risky = matches!(s.as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'));
        let quote = risky || s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
        if quote {
            self.out.push(b'"');
        }
        if risky {
            self.out.push(b'\'');
        }
        for b in s.bytes() {
            if b == b'"' {
                self.out.push(b'"');
            }
            self.out.push(b);
        }
        if quote {
            self.out.push(b'"');
        }
    }

    /// Write one row: its original cells (padded or cut to the header's width), line, code and reason.
    pub fn write(&mut self, rec: &Record, code: &str, reason: &str) {
        self.write_header();
        let width = self.headers.len().max(1);
        for i in 0..width {
            self.cell(rec.get(i).unwrap_or(""));
            self.out.push(b',');
        }
        if rec.len() > width {
            // Extra fields of a ragged row are kept, joined into the last column's neighbour, so nothing is lost.
            let extra: Vec<&str> = rec.iter().skip(width).collect();
            let joined = extra.join(",");
            let reason = format!("{reason} (extra fields: {joined})");
            self.tail(rec.line, code, &reason);
        } else {
            self.tail(rec.line, code, reason);
        }
        self.rows += 1;
    }

    fn tail(&mut self, line: u64, code: &str, reason: &str) {
        self.out.extend_from_slice(line.to_string().as_bytes());
        self.out.push(b',');
        self.cell(code);
        self.out.push(b',');
        self.cell(reason);
        self.out.push(b'\n');
    }

    /// The CSV written since the last call (the header comes with the first row).
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Bytes waiting to be taken.
    pub fn pending_bytes(&self) -> usize {
        self.out.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(line: u64, cells: &[&str]) -> Record {
        let mut r = Record::default();
        r.line = line;
        r.record = line - 1;
        r.set_fields(cells.iter().copied());
        r
    }

    #[test]
    fn rejected_csv_neutralises_formulas_and_quotes() {
        let mut w = RejectedCsv::new(vec!["id".into(), "note".into()]);
        let cases: &[(&[&str], &str)] = &[
            (
                &["1", "=HYPERLINK(\"x\")"],
                "1,\"'=HYPERLINK(\"\"x\"\")\",2,id_missing,r\n",
            ),
            (&["+1", "a,b"], "\"'+1\",\"a,b\",3,id_missing,r\n"),
            (&["-2", "@x"], "\"'-2\",\"'@x\",4,id_missing,r\n"),
            (&["x"], "x,,5,id_missing,r\n"),
        ];
        let mut expected = String::from("id,note,line,code,reason\n");
        for (i, (cells, line)) in cases.iter().enumerate() {
            w.write(&rec(i as u64 + 2, cells), "id_missing", "r");
            expected.push_str(line);
        }
        assert_eq!(String::from_utf8(w.take()).unwrap(), expected);
        assert!(w.take().is_empty());
    }

    #[test]
    fn ragged_rows_keep_their_extra_fields() {
        let mut w = RejectedCsv::new(vec!["id".into()]);
        w.write(&rec(2, &["1", "extra", "more"]), "field_count", "expected 1 fields");
        let s = String::from_utf8(w.take()).unwrap();
        assert_eq!(
            s,
            "id,line,code,reason\n1,2,field_count,\"expected 1 fields (extra fields: extra,more)\"\n"
        );
    }

    #[test]
    fn summary_adds_up() {
        let s = Summary {
            rows: 10,
            valid: 7,
            rejected: 3,
            sent: 5,
            failed: 1,
            api_rejected: 1,
            ..Default::default()
        };
        assert!(s.adds_up());
        assert!(!Summary {
            rows: 1,
            ..Default::default()
        }
        .adds_up());
    }
}
