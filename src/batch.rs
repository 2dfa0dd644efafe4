//! Byte-exact batch packing: serialized items go in, request bodies that never exceed the limits come out.
//!
//! A body is `prefix item,item,… suffix` (for example `{"batch":[` … `]}`). Rows keep their order, no row is
//! split, dropped or duplicated, and a batch is closed only when the next item would not fit.

use std::ops::Range;
use std::rc::Rc;

/// Where a row came from: enough to put its outcome back on the right line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowRef {
    /// 1-based data record number.
    pub record: u64,
    /// 1-based physical line where the record starts.
    pub line: u64,
}

/// One request body and the rows in it. The body is shared (not copied) with the requests that send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    body: Rc<Vec<u8>>,
    items: Vec<Range<usize>>,
    rows: Vec<RowRef>,
}

impl Batch {
    /// The exact request body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
    /// Consume the batch, keeping the body.
    pub fn into_body(self) -> Vec<u8> {
        Rc::try_unwrap(self.body).unwrap_or_else(|shared| shared.as_ref().clone())
    }
    /// The body, shared: what a [`crate::sender::Request`] carries, without a copy.
    pub fn shared_body(&self) -> Rc<Vec<u8>> {
        Rc::clone(&self.body)
    }
    /// Number of items.
    pub fn len(&self) -> usize {
        self.rows.len()
    }
    /// True if the batch has no items.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
    /// The rows, in item order (`rows()[i]` is `batch_index` i).
    pub fn rows(&self) -> &[RowRef] {
        &self.rows
    }
    /// The serialized item `i`.
    pub fn item(&self, i: usize) -> &[u8] {
        &self.body[self.items[i].clone()]
    }
    fn prefix(&self) -> &[u8] {
        &self.body[..self.items.first().map_or(self.body.len(), |r| r.start)]
    }
    fn suffix(&self) -> &[u8] {
        &self.body[self.items.last().map_or(self.body.len(), |r| r.end)..]
    }
    /// A new batch with the items `range` of this one, with the same prefix and suffix.
    pub fn slice(&self, range: Range<usize>) -> Batch {
        let prefix = self.prefix();
        let suffix = self.suffix();
        let mut body = Vec::with_capacity(self.body.len());
        let mut items = Vec::new();
        let mut rows = Vec::new();
        body.extend_from_slice(prefix);
        for i in range {
            if !items.is_empty() {
                body.push(b',');
            }
            let start = body.len();
            body.extend_from_slice(self.item(i));
            items.push(start..body.len());
            rows.push(self.rows[i]);
        }
        body.extend_from_slice(suffix);
        Batch {
            body: Rc::new(body),
            items,
            rows,
        }
    }
    /// Split into two halves (the first gets the smaller half); `None` for fewer than two items.
    pub fn split(&self) -> Option<(Batch, Batch)> {
        if self.len() < 2 {
            return None;
        }
        let mid = self.len() / 2;
        Some((self.slice(0..mid), self.slice(mid..self.len())))
    }
}

/// Packing limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackerConfig {
    /// Largest body in bytes, prefix and suffix included.
    pub max_body_bytes: usize,
    /// Largest single item in bytes.
    pub max_item_bytes: usize,
    /// Most items in one batch (`usize::MAX` for no limit).
    pub max_items: usize,
    /// Bytes before the first item, e.g. `{"batch":[`.
    pub prefix: Vec<u8>,
    /// Bytes after the last item, e.g. `]}`.
    pub suffix: Vec<u8>,
}

impl PackerConfig {
    /// `{"batch":[` … `]}` with the given body limit and a 32,000-byte item limit.
    pub fn batch_envelope(max_body_bytes: usize) -> Self {
        PackerConfig {
            max_body_bytes,
            max_item_bytes: 32_000,
            max_items: usize::MAX,
            prefix: br#"{"batch":["#.to_vec(),
            suffix: b"]}".to_vec(),
        }
    }
}

/// Why an item was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemTooLarge {
    /// The item's size.
    pub size: usize,
    /// The limit it broke (item limit, or what fits in an empty body).
    pub limit: usize,
}

/// Packs items into [`Batch`]es.
#[derive(Debug)]
pub struct Packer {
    config: PackerConfig,
    current: Batch,
    /// Where the item being written with [`Packer::open`] starts in the open batch's body.
    item_start: usize,
}

impl Packer {
    /// A packer with `config`.
    pub fn new(config: PackerConfig) -> Self {
        let current = Self::empty(&config, 0);
        Packer {
            config,
            current,
            item_start: 0,
        }
    }

    /// An empty batch, with room for `items` items (as many as the last one had: batches of one file are alike).
    fn empty(config: &PackerConfig, items: usize) -> Batch {
        // Room for one item past the limit too: an item is written into the body before it is known to fit (and
        // then moved to the next batch), which must not reallocate a body of half a megabyte.
        let room = config.max_body_bytes.min(1 << 20) + config.max_item_bytes.min(1 << 16) + 1;
        let mut body = Vec::with_capacity(room);
        body.extend_from_slice(&config.prefix);
        Batch {
            body: Rc::new(body),
            items: Vec::with_capacity(items),
            rows: Vec::with_capacity(items),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &PackerConfig {
        &self.config
    }

    /// The largest item this packer accepts.
    pub fn item_limit(&self) -> usize {
        let room = self
            .config
            .max_body_bytes
            .saturating_sub(self.config.prefix.len() + self.config.suffix.len());
        self.config.max_item_bytes.min(room)
    }

    /// Add one serialized item. Returns the batch that was closed to make room, if any.
    /// An item over [`Packer::item_limit`] is refused and nothing changes.
    pub fn push(&mut self, item: &[u8], row: RowRef) -> Result<Option<Batch>, ItemTooLarge> {
        self.open().extend_from_slice(item);
        self.commit(row)
    }

    /// Start the next item, to be written straight into the open batch's body (instead of being built elsewhere and
    /// copied in): append it to the body this returns, then [`Packer::commit`] or [`Packer::discard`] it.
    pub fn open(&mut self) -> &mut Vec<u8> {
        let sep = !self.current.items.is_empty();
        // The open batch's body is never shared, so this never copies it.
        let body = Rc::make_mut(&mut self.current.body);
        if sep {
            body.push(b',');
        }
        self.item_start = body.len();
        body
    }

    /// The item written since [`Packer::open`].
    pub fn item(&self) -> &[u8] {
        &self.current.body[self.item_start..]
    }

    /// Drop the item written since [`Packer::open`]: the packer is as it was before.
    pub fn discard(&mut self) {
        let sep = usize::from(!self.current.items.is_empty());
        Rc::make_mut(&mut self.current.body).truncate(self.item_start - sep);
    }

    /// Take the item written since [`Packer::open`] as the next one, for `row`. Returns the batch that was closed to
    /// make room, if any (the item then moves to the new batch: one copy per batch). An item over
    /// [`Packer::item_limit`] is refused and dropped, and the packer is as it was before.
    pub fn commit(&mut self, row: RowRef) -> Result<Option<Batch>, ItemTooLarge> {
        let start = self.item_start;
        let size = self.current.body.len() - start;
        let limit = self.item_limit();
        if size > limit {
            self.discard();
            return Err(ItemTooLarge { size, limit });
        }
        let full = self.current.body.len() + self.config.suffix.len() > self.config.max_body_bytes
            || self.current.items.len() >= self.config.max_items;
        if full && !self.current.items.is_empty() {
            let item = self.current.body[start..].to_vec();
            self.discard();
            let closed = self.flush();
            let body = Rc::make_mut(&mut self.current.body);
            let start = body.len();
            body.extend_from_slice(&item);
            self.current.items.push(start..body.len());
            self.current.rows.push(row);
            return Ok(closed);
        }
        self.current.items.push(start..self.current.body.len());
        self.current.rows.push(row);
        Ok(None)
    }

    /// Close the current batch, if it has any item.
    pub fn flush(&mut self) -> Option<Batch> {
        if self.current.items.is_empty() {
            return None;
        }
        let items = self.current.items.len();
        let mut b = std::mem::replace(&mut self.current, Self::empty(&self.config, items));
        Rc::make_mut(&mut b.body).extend_from_slice(&self.config.suffix);
        Some(b)
    }

    /// Bytes in the open batch (prefix included, suffix not).
    pub fn pending_bytes(&self) -> usize {
        self.current.body.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: u64) -> RowRef {
        RowRef { record: n, line: n + 1 }
    }

    #[test]
    fn packs_to_the_byte() {
        // prefix 10 + suffix 2 = 12; items of 10 bytes with commas: 12 + 10 + 11k
        let cases: &[(usize, usize, &[usize])] = &[
            // (limit, items, expected batch sizes)
            (22, 3, &[1, 1, 1]),
            (33, 5, &[2, 2, 1]),
            (32, 5, &[1, 1, 1, 1, 1]),
            (1000, 5, &[5]),
        ];
        for &(limit, n, expected) in cases {
            let mut p = Packer::new(PackerConfig::batch_envelope(limit));
            let mut out = Vec::new();
            for i in 0..n {
                out.extend(p.push(br#""abcdefgh""#, row(i as u64)).unwrap());
            }
            out.extend(p.flush());
            let sizes: Vec<usize> = out.iter().map(Batch::len).collect();
            assert_eq!(sizes, expected, "limit {limit}");
            for b in &out {
                assert!(b.body().len() <= limit);
                let v: serde_json::Value = serde_json::from_slice(b.body()).unwrap();
                assert_eq!(v["batch"].as_array().unwrap().len(), b.len());
            }
        }
    }

    #[test]
    fn items_written_in_place_pack_as_a_greedy_reference_does() {
        // Items of pseudo-random sizes, some over the limit, some discarded after being written: the batches are
        // the ones a greedy packer of the kept items makes, byte for byte.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for (limit, max_items) in [
            (40, usize::MAX),
            (100, usize::MAX),
            (100, 3),
            (1000, 7),
            (13, usize::MAX),
        ] {
            let config = PackerConfig {
                max_items,
                ..PackerConfig::batch_envelope(limit)
            };
            let mut p = Packer::new(config.clone());
            let (mut got, mut kept) = (Vec::new(), Vec::new());
            for n in 0..300u64 {
                let item = vec![b'0' + (n % 10) as u8; 1 + next(40) as usize];
                let body = p.open();
                body.extend_from_slice(&item);
                assert_eq!(p.item(), &item[..]);
                if next(5) == 0 {
                    p.discard();
                    continue;
                }
                match p.commit(row(n)) {
                    Ok(closed) => {
                        got.extend(closed);
                        kept.push((item, row(n)));
                    }
                    Err(e) => assert_eq!(
                        e,
                        ItemTooLarge {
                            size: item.len(),
                            limit: p.item_limit()
                        }
                    ),
                }
            }
            got.extend(p.flush());
            // the reference
            let mut want: Vec<(Vec<u8>, Vec<RowRef>)> = Vec::new();
            let mut open: (Vec<u8>, Vec<RowRef>) = (config.prefix.clone(), Vec::new());
            for (item, r) in kept {
                let with = open.0.len() + usize::from(!open.1.is_empty()) + item.len() + config.suffix.len();
                if !open.1.is_empty() && (with > limit || open.1.len() >= max_items) {
                    open.0.extend_from_slice(&config.suffix);
                    want.push(std::mem::replace(&mut open, (config.prefix.clone(), Vec::new())));
                }
                if !open.1.is_empty() {
                    open.0.push(b',');
                }
                open.0.extend_from_slice(&item);
                open.1.push(r);
            }
            if !open.1.is_empty() {
                open.0.extend_from_slice(&config.suffix);
                want.push(open);
            }
            let got: Vec<(Vec<u8>, Vec<RowRef>)> = got.iter().map(|b| (b.body().to_vec(), b.rows().to_vec())).collect();
            assert_eq!(got, want, "limit {limit}, max_items {max_items}");
            assert!(got.len() > 1);
        }
    }

    #[test]
    fn refuses_oversize_item_without_losing_state() {
        let mut p = Packer::new(PackerConfig {
            max_item_bytes: 5,
            ..PackerConfig::batch_envelope(100)
        });
        assert!(p.push(b"1", row(1)).unwrap().is_none());
        assert_eq!(p.push(b"123456", row(2)), Err(ItemTooLarge { size: 6, limit: 5 }));
        let b = p.flush().unwrap();
        assert_eq!(b.body(), br#"{"batch":[1]}"#);
        assert_eq!(b.rows(), &[row(1)]);
    }

    #[test]
    fn split_keeps_envelope_and_order() {
        let mut p = Packer::new(PackerConfig {
            suffix: br#"],"writeKey":"k"}"#.to_vec(),
            ..PackerConfig::batch_envelope(1000)
        });
        for i in 0..5 {
            p.push(format!("{i}").as_bytes(), row(i)).unwrap();
        }
        let b = p.flush().unwrap();
        let (a, c) = b.split().unwrap();
        assert_eq!(a.body(), br#"{"batch":[0,1],"writeKey":"k"}"#);
        assert_eq!(c.body(), br#"{"batch":[2,3,4],"writeKey":"k"}"#);
        assert_eq!(c.rows()[0], row(2));
        assert!(a.slice(0..1).split().is_none());
    }
}
