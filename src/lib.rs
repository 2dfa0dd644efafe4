//! # cio-backfill
//!
//! A sans-IO core that turns historical CSV files (people and events) into validated, batched Customer.io API
//! calls, with every row accounted for. Bytes go in ([`pipeline::Importer::push`]), requests come out, responses
//! go back in, and a [`ledger::Summary`] tells what happened to each row. No I/O, no clock, no randomness: time
//! is passed in as a number, so the same core runs natively, in WebAssembly (browser, Node, Deno, workerd) and in
//! deterministic tests.
//!
//! Modules, in the order data flows through them:
//! [`csv_input`] → [`mapping`] (with [`timestamp`]) → [`validate`] → [`payload`] → [`batch`] → [`sender`],
//! with [`ledger`] keeping the account and [`pipeline`] composing them.

#![warn(missing_docs)]

pub mod batch;
mod bytes;
pub mod csv_input;
pub mod hash;
mod held;
pub mod issue;
pub mod ledger;
pub mod mapping;
pub mod payload;
pub mod pipeline;
mod scan;
pub mod sender;
#[cfg(test)]
mod test_rng;
pub mod timestamp;
pub mod validate;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use batch::{Batch, Packer, PackerConfig, RowRef};
pub use csv_input::{CsvOptions, CsvReader, Dialect, Encoding, Limit, Record};
pub use issue::{Issue, IssueCode, Severity};
pub use sender::{Api, Sender, SenderConfig};
