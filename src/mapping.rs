//! mapping (in progress)
