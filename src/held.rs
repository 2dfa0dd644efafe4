//! The rows handed to the sender and not yet settled, kept so that a row the API refuses (or that fails after
//! retries) can be written to the rejected CSV as it was read.
//!
//! Rows arrive in increasing record order and settle in any order. A held row's text and field ends are copied
//! to the end of an arena of blocks, and the row is a small slot in a queue in arrival order. A settled row leaves
//! a hole that is dropped once every row before it has settled, so the front is always the oldest unsettled row
//! (the checkpoint); a block whose rows have all settled goes back to a free list.
//!
//! Copying is the cheap way to hold a row: the reader keeps filling one record whose buffers stay in cache, and
//! the copies go to memory written in order. Swapping the reader's record for a settled one (the way rows were
//! held before) handed the reader buffers last touched a window of rows ago, out of cache: the importer took ~12%
//! longer for a million events than one that held nothing.

use std::collections::VecDeque;

use crate::bytes::append_str;
use crate::csv_input::Record;

/// Text bytes per block of the arena (a longer record gets a block of its own).
const BLOCK_TEXT: usize = 256 * 1024;
/// Free blocks kept for reuse at most (more would only hold memory after a burst).
const MAX_SPARE: usize = 8;

/// One held row (its record number is its key in [`Held::slots`]): its position, its flags, and where its fields
/// are in the arena.
#[derive(Debug, Clone, Copy)]
struct Slot {
    line: u64,
    byte: u64,
    invalid_encoding: bool,
    unclosed_quote: bool,
    stray_quote: bool,
    text_after_quote: Option<usize>,
    gap: usize,
    /// The block's number (see [`Held::first_block`]).
    block: u64,
    text: (usize, usize),
    ends: (usize, usize),
}

#[derive(Debug, Default)]
struct Block {
    text: String,
    ends: Vec<usize>,
    /// Rows of this block not yet settled.
    live: usize,
}

/// Unsettled records by record number.
#[derive(Debug, Default)]
pub(crate) struct Held {
    /// Rows in increasing record order; `None` once the row has settled. The front is never `None`.
    slots: VecDeque<(u64, Option<Slot>)>,
    /// The arena; the back block is the one being filled.
    blocks: VecDeque<Block>,
    /// The number of `blocks[0]`.
    first_block: u64,
    spare: Vec<Block>,
    /// Slots popped off the front so far, and the position (counted from the first slot ever) after the last one
    /// settled: rows settle batch by batch, in order within a batch, and a batch's rows are neighbours here, so
    /// the next row to settle is nearly always at this position (no search).
    popped: u64,
    next: u64,
}

impl Held {
    /// Keep a copy of `rec`. Its record number must be above every record held so far.
    pub(crate) fn take(&mut self, rec: &Record) {
        debug_assert!(self.slots.back().is_none_or(|(r, _)| *r < rec.record));
        let (text, ends, gap) = rec.raw_parts();
        let fits = match self.blocks.back_mut() {
            // a block whose rows have all settled is filled again from its start
            Some(b) if b.live == 0 => {
                b.text.clear();
                b.ends.clear();
                true
            }
            Some(b) => b.text.len() + text.len() <= BLOCK_TEXT,
            None => false,
        };
        if !fits {
            let block = self.spare.pop().unwrap_or_else(|| Block {
                text: String::with_capacity(BLOCK_TEXT),
                ..Block::default()
            });
            self.blocks.push_back(block);
        }
        let number = self.first_block + self.blocks.len() as u64 - 1;
        let Some(b) = self.blocks.back_mut() else { return };
        let slot = Slot {
            line: rec.line,
            byte: rec.byte,
            invalid_encoding: rec.invalid_encoding,
            unclosed_quote: rec.unclosed_quote,
            stray_quote: rec.stray_quote,
            text_after_quote: rec.text_after_quote,
            gap,
            block: number,
            text: (b.text.len(), b.text.len() + text.len()),
            ends: (b.ends.len(), b.ends.len() + ends.len()),
        };
        append_str(&mut b.text, text);
        b.ends.extend_from_slice(ends);
        b.live += 1;
        self.slots.push_back((rec.record, Some(slot)));
    }

    /// Settle record `record`: false if it is not held. When `into` is given, the record is written into it first,
    /// as it was taken.
    pub(crate) fn remove(&mut self, record: u64, into: Option<&mut Record>) -> bool {
        let guess = self.next.wrapping_sub(self.popped) as usize;
        let i = match self.slots.get(guess) {
            Some((r, _)) if *r == record => guess,
            _ => match self.slots.binary_search_by_key(&record, |(r, _)| *r) {
                Ok(i) => i,
                Err(_) => return false,
            },
        };
        let Some(slot) = self.slots[i].1.take() else {
            return false;
        };
        self.next = self.popped + i as u64 + 1;
        while matches!(self.slots.front(), Some((_, None))) {
            self.slots.pop_front();
            self.popped += 1;
        }
        let k = (slot.block - self.first_block) as usize;
        let filling = k + 1 == self.blocks.len();
        let Some(b) = self.blocks.get_mut(k) else {
            return true;
        };
        if let Some(out) = into {
            out.record = record;
            out.line = slot.line;
            out.byte = slot.byte;
            out.invalid_encoding = slot.invalid_encoding;
            out.unclosed_quote = slot.unclosed_quote;
            out.stray_quote = slot.stray_quote;
            out.text_after_quote = slot.text_after_quote;
            out.set_raw_parts(
                &b.text[slot.text.0..slot.text.1],
                &b.ends[slot.ends.0..slot.ends.1],
                slot.gap,
            );
        }
        b.live -= 1;
        if b.live == 0 && !filling {
            // every row of a block the arena has moved past has settled: its buffers go to the free list
            let mut done = std::mem::take(b);
            if self.spare.len() < MAX_SPARE && done.text.capacity() <= BLOCK_TEXT {
                done.text.clear();
                done.ends.clear();
                self.spare.push(done);
            }
            while self.blocks.len() > 1 && self.blocks.front().is_some_and(|b| b.live == 0) {
                self.blocks.pop_front();
                self.first_block += 1;
            }
        }
        true
    }

    /// The lowest record number still held.
    pub(crate) fn first(&self) -> Option<u64> {
        self.slots.front().map(|(r, _)| *r)
    }

    /// Number of records held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.iter().filter(|(_, r)| r.is_some()).count()
    }

    /// True when nothing is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: u64) -> Record {
        let mut r = Record::default();
        r.record = n;
        r.line = n + 1;
        r.byte = n * 10;
        let cell = format!("row {n}");
        r.set_fields([cell.as_str(), "x"]);
        r
    }

    fn give_back(h: &mut Held, n: u64) -> Record {
        let mut out = Record::default();
        assert!(h.remove(n, Some(&mut out)), "record {n} is held");
        out
    }

    #[test]
    fn settles_in_any_order_and_keeps_the_oldest_first() {
        // (records inserted, records removed in this order, expected first() after each removal)
        type Case<'a> = (&'a [u64], &'a [u64], &'a [Option<u64>]);
        let cases: &[Case] = &[
            (&[1, 2, 3], &[1, 2, 3], &[Some(2), Some(3), None]),
            (&[1, 2, 3], &[3, 2, 1], &[Some(1), Some(1), None]),
            (&[1, 5, 9], &[5, 1, 9], &[Some(1), Some(9), None]),
            (&[2, 4, 6, 8], &[4, 8, 2, 6], &[Some(2), Some(2), Some(6), None]),
        ];
        for (inserted, removed, firsts) in cases {
            let mut h = Held::default();
            for &n in *inserted {
                h.take(&rec(n));
            }
            assert_eq!(h.len(), inserted.len());
            for (k, (&n, want)) in removed.iter().zip(firsts.iter()).enumerate() {
                assert_eq!(give_back(&mut h, n), rec(n), "the record comes back as it was taken");
                assert_eq!(h.first(), *want, "after removing {n} from {inserted:?}");
                assert_eq!(h.len(), inserted.len() - k - 1);
            }
            assert!(h.is_empty());
        }
    }

    #[test]
    fn unknown_or_settled_records_are_not_found() {
        let mut h = Held::default();
        assert!(!h.remove(1, None));
        h.take(&rec(3));
        h.take(&rec(7));
        assert!(!h.remove(5, None));
        assert!(h.remove(7, None));
        assert!(!h.remove(7, None), "a settled row is gone");
        assert_eq!(h.first(), Some(3));
    }

    #[test]
    fn records_come_back_whole_across_blocks() {
        // Rows of every layout (delimiters kept in place or not, flags, empty and long fields), enough of them to fill
        // several blocks, settled out of order: each comes back equal to what was taken, and the arena shrinks.
        let mut taken = Vec::new();
        let mut h = Held::default();
        for n in 1..=3000u64 {
            let mut r = rec(n);
            let long = "é".repeat((n as usize * 37) % 700);
            match n % 4 {
                0 => r.set_fields([long.as_str(), "", "z"]),
                1 => r.set_fields(std::iter::empty::<&str>()),
                2 => r.invalid_encoding = true,
                _ if n % 8 == 3 => {
                    r.text_after_quote = Some(n as usize % 3);
                    r.set_fields(["a", long.as_str(), "b"]);
                }
                _ => {
                    r.stray_quote = true;
                    r.set_fields(["a", long.as_str()]);
                }
            }
            h.take(&r);
            taken.push(r);
        }
        // A record longer than a block gets one of its own.
        let mut big = rec(3001);
        let huge = "x".repeat(BLOCK_TEXT * 2);
        big.set_fields([huge.as_str(), "y"]);
        h.take(&big);
        taken.push(big);
        assert!(h.blocks.len() > 3, "several blocks: {}", h.blocks.len());
        // settle evens first (some without reading them back), then odds in reverse
        let mut order: Vec<u64> = (2..=3001).step_by(2).collect();
        order.extend((1..=3001u64).filter(|n| n % 2 == 1).rev());
        for n in order {
            let want = &taken[n as usize - 1];
            if n % 3 == 0 {
                assert!(h.remove(n, None));
            } else {
                assert_eq!(&give_back(&mut h, n), want, "record {n}");
            }
        }
        assert!(h.is_empty());
        assert!(h.blocks.len() <= 1, "settled blocks are freed: {} left", h.blocks.len());
        assert!(h.spare.len() <= MAX_SPARE);
    }

    #[test]
    fn a_record_keeps_the_layout_the_reader_gave_it() {
        // The reader may leave a line's delimiters in place (gap 1, quoted fields too) or not (a record over two
        // lines): fields come back the same either way.
        let mut reader = crate::csv_input::CsvReader::new(Default::default());
        reader.push(b"a,b,c\n1,\"t,\"\"o\",3\n\"q,\nx\",y,\n");
        reader.finish();
        let mut h = Held::default();
        let mut want = Vec::new();
        let mut r = Record::default();
        while reader.read(&mut r) == crate::csv_input::ReadResult::Record {
            h.take(&r);
            want.push(r.clone());
        }
        assert_eq!(want.len(), 2);
        assert_eq!(want[0].get(1), Some("t,\"o"));
        let gaps: Vec<usize> = want.iter().map(|w| w.raw_parts().2).collect();
        assert_eq!(gaps, [1, 0], "a line read as it is, and a record split by csv-core");
        for w in &want {
            assert_eq!(&give_back(&mut h, w.record), w);
            assert_eq!(w.iter().count(), 3);
        }
    }
}
