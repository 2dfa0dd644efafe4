//! The rows handed to the sender and not yet settled, kept so that a row the API refuses (or that fails after
//! retries) can be written to the rejected CSV as it was read.
//!
//! Rows arrive in increasing record order and settle in any order. They are kept in a queue in arrival order;
//! a settled row leaves a hole that is dropped once every row before it has settled, so the front is always the
//! oldest unsettled row (the checkpoint). A held record is swapped in, not copied, and settled records go back
//! to a free list whose buffers the reader fills next: holding a row costs neither a copy nor an allocation.

use std::collections::VecDeque;

use crate::csv_input::Record;

/// Unsettled records by record number.
#[derive(Debug, Default)]
pub(crate) struct Held {
    /// Record numbers in increasing order; `None` once the row has settled. The front is never `None`.
    slots: VecDeque<(u64, Option<Record>)>,
    spare: Vec<Record>,
}

/// Records kept on the free list at most (more would only hold memory after a burst).
const MAX_SPARE: usize = 4096;

impl Held {
    /// Keep `rec`: its contents move in, and `rec` is left holding a settled record's buffers (stale contents,
    /// for the reader to overwrite), so holding a row neither copies nor allocates. Its record number must be above
    /// every record held so far.
    pub(crate) fn take(&mut self, rec: &mut Record) {
        debug_assert!(self.slots.back().is_none_or(|(r, _)| *r < rec.record));
        let mut kept = self.spare.pop().unwrap_or_default();
        std::mem::swap(&mut kept, rec);
        self.slots.push_back((kept.record, Some(kept)));
    }

    /// Take record `record` out, if it is held. Give it back with [`Held::recycle`] when done with it.
    pub(crate) fn remove(&mut self, record: u64) -> Option<Record> {
        let i = self.slots.binary_search_by_key(&record, |(r, _)| *r).ok()?;
        let rec = self.slots[i].1.take()?;
        while matches!(self.slots.front(), Some((_, None))) {
            self.slots.pop_front();
        }
        Some(rec)
    }

    /// Return a record taken out by [`Held::remove`], so that its buffers serve a later row.
    pub(crate) fn recycle(&mut self, rec: Record) {
        if self.spare.len() < MAX_SPARE {
            self.spare.push(rec);
        }
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
        let cell = format!("row {n}");
        r.set_fields([cell.as_str(), "x"]);
        r
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
                h.take(&mut rec(n));
            }
            assert_eq!(h.len(), inserted.len());
            for (k, (&n, want)) in removed.iter().zip(firsts.iter()).enumerate() {
                let got = h.remove(n).expect("held");
                assert_eq!(got, rec(n), "the record comes back as it was inserted");
                h.recycle(got);
                assert_eq!(h.first(), *want, "after removing {n} from {inserted:?}");
                assert_eq!(h.len(), inserted.len() - k - 1);
            }
            assert!(h.is_empty());
        }
    }

    #[test]
    fn unknown_or_settled_records_are_not_found() {
        let mut h = Held::default();
        assert!(h.remove(1).is_none());
        h.take(&mut rec(3));
        h.take(&mut rec(7));
        assert!(h.remove(5).is_none());
        assert!(h.remove(7).is_some());
        assert!(h.remove(7).is_none(), "a settled row is gone");
        assert_eq!(h.first(), Some(3));
    }

    #[test]
    fn taking_a_record_hands_back_recycled_buffers() {
        let mut h = Held::default();
        let mut long = rec(1);
        long.set_fields(["a much longer first cell than the next row has", "y", "z"]);
        let kept = long.clone();
        h.take(&mut long);
        assert_eq!(
            long,
            Record::default(),
            "nothing recycled yet: an empty record comes back"
        );
        let r = h.remove(1).unwrap();
        assert_eq!(r, kept);
        h.recycle(r);
        let mut next = rec(2);
        h.take(&mut next);
        assert_eq!(
            next, kept,
            "the settled record's buffers (stale contents) come back for the reader"
        );
        assert_eq!(h.remove(2).unwrap(), rec(2), "the held record is the one taken");
    }
}
