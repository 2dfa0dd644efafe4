//! The wasm-bindgen edge (in progress).
