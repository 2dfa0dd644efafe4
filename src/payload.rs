//! Payloads: a validated row becomes one batch item for the Track API v2 (`person` entries, unix seconds,
//! ULID event ids) or the Data Pipelines API (`identify`/`track` items, ISO-8601 timestamps, `messageId`).
//!
//! Ids are deterministic and content-addressed: a ULID whose time part is the row's timestamp and whose random
//! part is a hash of what the row says (identifier, event name, time, properties) — or of the source's own
//! event id when one is mapped. The same row gives the same id on every run, in any file, so a retry, a resume
//! or a re-run of a corrected file never duplicates an event where the API deduplicates.

use crate::bytes::{append, append_quoted, needs_json_escape};
use crate::csv_input::Record;
use crate::hash::xxh3_128;
use crate::issue::IssueCode;
use crate::mapping::{IdKind, Kind, Mapping, Role};
use crate::sender::Api;
use crate::timestamp::{to_unix_seconds, write_iso8601};
use crate::validate::{Limits, PreparedRow, Value};

/// A tree of attribute keys, built once per mapping, so that dotted headers nest without per-row work.
#[derive(Debug, Clone)]
enum Node {
    Leaf {
        key: Vec<u8>,
        col: usize,
    },
    Object {
        key: Vec<u8>,
        children: Vec<Node>,
        cols: Vec<usize>,
    },
}

#[inline(always)]
fn json_str(s: &str, out: &mut Vec<u8>) {
    // Most cells need no escaping: copy them between quotes in one go. serde_json escapes exactly the control
    // bytes, `"` and `\\` (nothing else), so this writes the same bytes it would.
    if !needs_json_escape(s.as_bytes()) {
        return append_quoted(out, s.as_bytes());
    }
    json_str_escaped(s, out);
}

/// serde_json's escaper: correct for every string. Out of line, so that the common case above stays small where
/// it is inlined.
#[inline(never)]
fn json_str_escaped(s: &str, out: &mut Vec<u8>) {
    serde_json::to_writer(out, s).expect("writing to a Vec cannot fail");
}

/// `i` in decimal, the same bytes as `write!(out, "{i}")` without the formatting machinery: two digits at a time
/// from a table, in 32-bit arithmetic. (A 64-bit division is a hardware divide in wasm, where a 32-bit division by a
/// constant is a multiplication: a value above `u32::MAX` pays one 64-bit division per eight digits.)
fn write_int(i: i64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut n = i.unsigned_abs();
    let mut pos = buf.len();
    while n > u64::from(u32::MAX) {
        let q = n / 100_000_000;
        let mut low = (n - q * 100_000_000) as u32;
        n = q;
        for _ in 0..4 {
            pos -= 2;
            buf[pos..pos + 2].copy_from_slice(pair(low % 100));
            low /= 100;
        }
    }
    let mut m = n as u32;
    while m >= 100 {
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(pair(m % 100));
        m /= 100;
    }
    if m >= 10 {
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(pair(m));
    } else {
        pos -= 1;
        buf[pos] = b'0' + m as u8;
    }
    if i < 0 {
        out.push(b'-');
    }
    append(out, &buf[pos..]);
}

/// The two digits of `d` (below 100).
#[inline(always)]
fn pair(d: u32) -> &'static [u8] {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let d = d as usize * 2;
    &PAIRS[d..d + 2]
}

fn build_tree(mapping: &Mapping) -> Vec<Node> {
    let mut roots: Vec<Node> = Vec::new();
    for c in mapping.columns.iter().filter(|c| c.role == Role::Attribute) {
        insert(&mut roots, &c.key_path, c.index);
    }
    roots
}

/// `,"k":`: a key as written after another member (the first member is written without the comma).
fn key_bytes(k: &str) -> Vec<u8> {
    let mut v = vec![b','];
    json_str(k, &mut v);
    v.push(b':');
    v
}

fn insert(nodes: &mut Vec<Node>, path: &[String], col: usize) {
    let key = key_bytes(&path[0]);
    if path.len() == 1 {
        nodes.push(Node::Leaf { key, col });
        return;
    }
    let pos = nodes
        .iter()
        .position(|n| matches!(n, Node::Object { key: k, .. } if *k == key));
    let idx = match pos {
        Some(i) => i,
        None => {
            nodes.push(Node::Object {
                key,
                children: Vec::new(),
                cols: Vec::new(),
            });
            nodes.len() - 1
        }
    };
    if let Node::Object { children, cols, .. } = &mut nodes[idx] {
        cols.push(col);
        insert(children, &path[1..], col);
    }
}

/// Builds payload items for one API and one mapping.
#[derive(Debug)]
pub struct PayloadBuilder {
    api: Api,
    kind: Kind,
    id_kind: IdKind,
    tree: Vec<Node>,
    slots: Vec<Option<Value>>,
    props: Vec<u8>,
    /// What a row's id hashes, laid end to end (one-shot hashing is cheaper than streaming the parts).
    id_input: Vec<u8>,
    has_email_attribute: bool,
    limits: Limits,
}

/// A row that cannot be sent as built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadError {
    /// `event_data_too_large` or `item_too_large`.
    pub code: IssueCode,
    /// Says expected versus found.
    pub message: String,
}

impl PayloadBuilder {
    /// A builder for `api` and `mapping`.
    pub fn new(api: Api, mapping: &Mapping, limits: Limits) -> Self {
        let has_email_attribute = mapping
            .columns
            .iter()
            .any(|c| c.role == Role::Attribute && c.key_path.len() == 1 && c.key_path[0] == "email");
        PayloadBuilder {
            api,
            kind: mapping.kind,
            id_kind: mapping.identifier.1,
            tree: build_tree(mapping),
            slots: vec![None; mapping.columns.len()],
            props: Vec::with_capacity(1024),
            id_input: Vec::with_capacity(1024),
            has_email_attribute,
            limits,
        }
    }

    fn write_object(&self, nodes: &[Node], rec: &Record, out: &mut Vec<u8>) {
        out.push(b'{');
        let mut first = true;
        for n in nodes {
            match n {
                Node::Leaf { key, col } => {
                    let Some(v) = self.slots[*col] else { continue };
                    append(out, &key[usize::from(first)..]);
                    first = false;
                    write_value(v, rec.get(*col).unwrap_or(""), out);
                }
                Node::Object { key, children, cols } => {
                    if !cols.iter().any(|c| self.slots[*c].is_some()) {
                        continue;
                    }
                    append(out, &key[usize::from(first)..]);
                    first = false;
                    self.write_object(children, rec, out);
                }
            }
        }
        out.push(b'}');
    }

    /// Append the row's batch item to `out` (on an error, what was appended is left for the caller to drop).
    pub fn build(&mut self, rec: &Record, row: &PreparedRow, out: &mut Vec<u8>) -> Result<(), PayloadError> {
        for s in self.slots.iter_mut() {
            *s = None;
        }
        for &(c, v) in &row.values {
            self.slots[c] = Some(v);
        }
        // The properties are written right after the other bytes the id hashes, so that the id is one hash of one
        // buffer, without copying them. (With a source event id the id hashes other bytes; a Track person's item
        // has no id.)
        let mut input = std::mem::take(&mut self.id_input);
        input.clear();
        let hashes_props = row.event_id.is_none() && self.has_id();
        if hashes_props {
            self.id_prefix(row, &mut input);
            append(&mut input, row.event_name.as_bytes());
            input.push(0);
            input.extend_from_slice(&row.timestamp_ms.unwrap_or(i64::MIN).to_le_bytes());
        }
        let props_at = input.len();
        self.write_object(&self.tree, rec, &mut input);
        let mut scratch = std::mem::take(&mut self.props);
        let result = self.assemble(row, &input, props_at, &mut scratch, out);
        self.props = scratch;
        self.id_input = input;
        result
    }

    /// True if the item carries an id (every item but a Track person's).
    fn has_id(&self) -> bool {
        !(self.api == Api::TrackV2 && self.kind == Kind::People)
    }

    /// `input[props_at..]` holds the row's properties (and what precedes them, the rest of what its id hashes).
    fn assemble(
        &self,
        row: &PreparedRow,
        input: &[u8],
        props_at: usize,
        scratch: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Result<(), PayloadError> {
        let props = &input[props_at..];
        let events = self.kind == Kind::Events;
        if events && props.len() > self.limits.event_data_bytes {
            return Err(PayloadError {
                code: IssueCode::EventDataTooLarge,
                message: format!(
                    "expected event data of at most {} bytes, found {} bytes",
                    self.limits.event_data_bytes,
                    props.len()
                ),
            });
        }
        let id = if self.has_id() {
            self.row_id(row, input, scratch)
        } else {
            [0; 26]
        };
        let empty_props = props == b"{}";
        let start = out.len();
        match self.api {
            Api::TrackV2 => {
                out.extend_from_slice(br#"{"type":"person","identifiers":{""#);
                append(out, self.id_kind.as_str().as_bytes());
                out.extend_from_slice(b"\":");
                json_str(&row.identifier, out);
                if events {
                    out.extend_from_slice(br#"},"action":"event","name":"#);
                    json_str(&row.event_name, out);
                    out.extend_from_slice(br#","id":""#);
                    out.extend_from_slice(&id);
                    out.push(b'"');
                } else {
                    out.extend_from_slice(br#"},"action":"identify""#);
                }
                if let Some(ms) = row.timestamp_ms {
                    out.extend_from_slice(br#","timestamp":"#);
                    write_int(to_unix_seconds(ms), out);
                }
                if !empty_props {
                    out.extend_from_slice(br#","attributes":"#);
                    append(out, props);
                }
                out.push(b'}');
            }
            Api::Pipelines => {
                if events {
                    out.extend_from_slice(br#"{"type":"track","userId":"#);
                } else {
                    out.extend_from_slice(br#"{"type":"identify","userId":"#);
                }
                json_str(&row.identifier, out);
                if events {
                    out.extend_from_slice(br#","event":"#);
                    json_str(&row.event_name, out);
                    out.extend_from_slice(br#","properties":"#);
                    append(out, props);
                } else {
                    out.extend_from_slice(br#","traits":"#);
                    if self.id_kind == IdKind::Email && !self.has_email_attribute {
                        // Keep the email as a trait too, so the person has the attribute Customer.io expects.
                        out.extend_from_slice(br#"{"email":"#);
                        json_str(&row.identifier, out);
                        if !empty_props {
                            out.push(b',');
                            out.extend_from_slice(&props[1..]);
                        } else {
                            out.push(b'}');
                        }
                    } else {
                        out.extend_from_slice(props);
                    }
                }
                if let Some(ms) = row.timestamp_ms {
                    out.extend_from_slice(br#","timestamp":""#);
                    write_iso8601(ms, out);
                    out.push(b'"');
                }
                out.extend_from_slice(br#","messageId":""#);
                out.extend_from_slice(&id);
                out.extend_from_slice(b"\"}");
            }
        }
        let size = out.len() - start;
        if size > self.limits.item_bytes {
            return Err(PayloadError {
                code: IssueCode::ItemTooLarge,
                message: format!(
                    "expected a payload item of at most {} bytes, found {size} bytes",
                    self.limits.item_bytes
                ),
            });
        }
        Ok(())
    }

    /// The row's deterministic ULID. `hashed` is what it hashes when the row has no source event id; `scratch`
    /// is room for what it hashes when it has one.
    fn row_id(&self, row: &PreparedRow, hashed: &[u8], scratch: &mut Vec<u8>) -> [u8; 26] {
        let time = row.timestamp_ms.unwrap_or(0).clamp(0, (1 << 48) - 1) as u64;
        // The hashed bytes are part of every id ever sent: changing them (order, separators) changes the ids,
        // and a re-run would duplicate events (tests/pipeline.rs pins some ids).
        let Some(eid) = &row.event_id else {
            return ulid(time, xxh3_128(hashed));
        };
        if let Some(u) = parse_ulid(eid) {
            return u;
        }
        // The source's own id decides alone: the same source event is the same Customer.io event.
        scratch.clear();
        self.id_prefix(row, scratch);
        scratch.extend_from_slice(b"source-id");
        scratch.extend_from_slice(eid.as_bytes());
        ulid(time, xxh3_128(scratch))
    }

    /// What every id hashes first: the kind, the identifier's kind and the identifier.
    #[inline(always)]
    fn id_prefix(&self, row: &PreparedRow, input: &mut Vec<u8>) {
        input.push(if self.kind == Kind::Events { b'e' } else { b'p' });
        append(input, self.id_kind.as_str().as_bytes());
        input.push(0);
        append(input, row.identifier.as_bytes());
        input.push(0);
    }
}

fn write_value(v: Value, text: &str, out: &mut Vec<u8>) {
    match v {
        Value::Str => json_str(text, out),
        Value::Int(i) => write_int(i, out),
        Value::Float(f) => serde_json::to_writer(&mut *out, &f).expect("vec write"),
        Value::Decimal => append(out, crate::mapping::trim(text).as_bytes()),
        Value::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Value::Null => out.extend_from_slice(b"null"),
        Value::Date(s) => write_int(s, out),
    }
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A ULID from a 48-bit millisecond time and 80 bits taken from `entropy`.
pub fn ulid(time_ms: u64, entropy: u128) -> [u8; 26] {
    let value: u128 = (u128::from(time_ms & ((1 << 48) - 1)) << 80) | (entropy & ((1u128 << 80) - 1));
    // 26 base-32 digits, most significant first: digit i holds bits 125 - 5i and up (the first digit only 3).
    // Shifting the two 64-bit halves is cheaper than shifting a u128 where there are no 128-bit registers.
    let (hi, lo) = ((value >> 64) as u64, value as u64);
    let mut out = [0u8; 26];
    for (i, c) in out.iter_mut().enumerate() {
        let shift = 125 - 5 * i as u32;
        let v = if shift >= 64 {
            hi >> (shift - 64)
        } else if shift == 0 {
            lo
        } else {
            (lo >> shift) | (hi << (64 - shift))
        };
        *c = CROCKFORD[(v & 31) as usize];
    }
    out
}

/// The source's id if it already is a ULID (case-insensitive), upper-cased.
fn parse_ulid(s: &str) -> Option<[u8; 26]> {
    let b = s.as_bytes();
    if b.len() != 26 || b[0] > b'7' {
        return None;
    }
    let mut out = [0u8; 26];
    for (o, c) in out.iter_mut().zip(b) {
        let u = c.to_ascii_uppercase();
        if !CROCKFORD.contains(&u) {
            return None;
        }
        *o = u;
    }
    Some(out)
}

/// The time part of a ULID, in unix ms.
pub fn ulid_time(id: &[u8]) -> Option<u64> {
    if id.len() != 26 {
        return None;
    }
    let mut t: u64 = 0;
    for &c in &id[..10] {
        let v = CROCKFORD.iter().position(|x| *x == c.to_ascii_uppercase())? as u64;
        t = (t << 5) | v;
    }
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_writers_match_the_std_and_serde_json_ones() {
        for i in [
            0,
            1,
            4_294_967_295,
            4_294_967_296,
            -4_294_967_296,
            100_000_000_000,
            12_345_678_901_234_567,
            -1,
            9,
            10,
            -10,
            99,
            100,
            1_614_852_900,
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
        ] {
            let mut out = Vec::new();
            write_int(i, &mut out);
            assert_eq!(out, i.to_string().into_bytes(), "{i}");
        }
        for s in [
            "",
            "plain",
            "a \"quoted\" word",
            "back\\slash",
            "tab\there",
            "nl\n",
            "\u{7f}",
            "zoë ✓",
            "\u{1}",
        ] {
            let mut out = Vec::new();
            json_str(s, &mut out);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn write_int_is_display(i in proptest::num::i64::ANY) {
            let mut out = Vec::new();
            write_int(i, &mut out);
            proptest::prop_assert_eq!(out, i.to_string().into_bytes());
        }

        #[test]
        fn json_str_is_serde_json(s in "\\PC*|[\\x00-\\x7f]{0,40}") {
            let mut out = Vec::new();
            json_str(&s, &mut out);
            proptest::prop_assert_eq!(out, serde_json::to_vec(&s).unwrap());
        }
    }

    proptest::proptest! {
        #[test]
        fn ulid_digits_are_the_value_in_base_32(time in 0u64..(1 << 48), entropy in proptest::num::u128::ANY) {
            let value = (u128::from(time) << 80) | (entropy & ((1u128 << 80) - 1));
            let want: Vec<u8> = (0..26).map(|i| CROCKFORD[((value >> (125 - 5 * i)) & 31) as usize]).collect();
            proptest::prop_assert_eq!(ulid(time, entropy).to_vec(), want);
        }
    }

    #[test]
    fn ulid_layout() {
        let id = ulid(1_469_918_176_385, 0);
        assert_eq!(&id[..10], b"01ARYZ6S41");
        assert_eq!(&id[10..], b"0000000000000000");
        assert_eq!(ulid_time(&id), Some(1_469_918_176_385));
        let max = ulid((1 << 48) - 1, u128::MAX);
        assert_eq!(&max, b"7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
        assert_eq!(
            parse_ulid("01arz3ndektsv4rrffq69g5fav"),
            Some(*b"01ARZ3NDEKTSV4RRFFQ69G5FAV")
        );
        assert_eq!(parse_ulid("81ARZ3NDEKTSV4RRFFQ69G5FAV"), None);
        assert_eq!(parse_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAU"), None); // U is not Crockford
    }
}
