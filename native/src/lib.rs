//! baychain's native helpers, for the checks every node must decide identically and fast.
//!
//! - `ed25519`: signature verification under ZIP-215 rules, single and batched;
//! - `cbor`: canonical CBOR encoding and strict decoding for `baychain.encoding`;
//! - `trie`: one block's staging in the state trie for `baychain.state.StateStore`;
//! - `sizing`: the contract runtime's sizing walk and event texts.
//!
//! Signature checks run without the GIL, so Python threads verify in parallel.

mod cbor;
mod ed25519;
mod sizing;
mod trie;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use ed25519::{small_order_encodings, verify_all, verify_one, Item, BATCH_LEN};

/// True if `signature` is a valid Ed25519 signature of `message` by `public_key`
/// (ZIP-215 rules, small-order keys refused). Wrong lengths are simply invalid.
#[pyfunction]
fn verify(py: Python<'_>, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    py.detach(|| verify_one(public_key, message, signature))
}

/// One verdict per (public_key, message, signature) item, each equal to `verify`'s.
#[pyfunction]
fn verify_batch(
    py: Python<'_>,
    items: Vec<(Bound<'_, PyBytes>, Bound<'_, PyBytes>, Bound<'_, PyBytes>)>,
) -> Vec<bool> {
    let slices: Vec<Item> = items.iter().map(|(k, m, s)| (k.as_bytes(), m.as_bytes(), s.as_bytes())).collect();
    py.detach(|| verify_all(&slices))
}

/// The backend curve25519-dalek picks at run time on this CPU (the same test it makes).
#[pyfunction]
fn backend() -> &'static str {
    #[cfg(curve25519_dalek_backend = "avx512")]
    if std::arch::is_x86_feature_detected!("avx512ifma") && std::arch::is_x86_feature_detected!("avx512vl") {
        return "avx512ifma";
    }
    #[cfg(all(target_arch = "x86_64", not(any(curve25519_dalek_backend = "serial", curve25519_dalek_backend = "fiat"))))]
    if std::arch::is_x86_feature_detected!("avx2") {
        return "avx2";
    }
    "serial"
}

/// The value `data` canonically encodes (nested at most `max_depth` deep); CborError
/// saying why if it is not the canonical encoding of a value.
#[pyfunction]
fn cbor_decode<'py>(py: Python<'py>, data: &[u8], max_depth: usize) -> PyResult<Bound<'py, PyAny>> {
    Ok(cbor::decode(py, data, max_depth)?)
}

/// The canonical encoding of `value`; CborError naming the first part outside the model.
#[pyfunction]
fn cbor_encode<'py>(py: Python<'py>, value: &Bound<'py, PyAny>, max_depth: usize) -> PyResult<Bound<'py, PyBytes>> {
    Ok(PyBytes::new(py, &cbor::encode(value, max_depth)?))
}

/// The public key encodings refused for being of small order (for tests and audits).
#[pyfunction]
fn small_order_keys(py: Python<'_>) -> Vec<Bound<'_, PyBytes>> {
    small_order_encodings().iter().map(|e| PyBytes::new(py, e)).collect()
}

#[pymodule]
fn baychain_native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(verify, module)?)?;
    module.add_function(wrap_pyfunction!(verify_batch, module)?)?;
    module.add_function(wrap_pyfunction!(backend, module)?)?;
    module.add_function(wrap_pyfunction!(cbor_decode, module)?)?;
    module.add_function(wrap_pyfunction!(cbor_encode, module)?)?;
    module.add("CborError", module.py().get_type::<cbor::CborError>())?;
    module.add("BATCH_LEN", BATCH_LEN)?;
    module.add_function(wrap_pyfunction!(small_order_keys, module)?)?;
    module.add_function(wrap_pyfunction!(trie::trie_stage, module)?)?;
    module.add_function(wrap_pyfunction!(sizing::text_size, module)?)?;
    module.add_function(wrap_pyfunction!(sizing::event_texts, module)?)?;
    Ok(())
}
