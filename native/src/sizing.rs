//! The contract runtime's sizing walk: how long a value's text may be, and what
//! walking it costs (`baychain.runtime.machine.Machine.text_size` for containers).
//!
//! A contract may build a small value with a huge text (a list repeating a big list),
//! so before a container is turned into text, stored or passed on, the runtime walks
//! it: each container costs one compute unit plus one per 16 elements and adds
//! `2 + 2 * len` to the estimate; a str or bytes adds `len + 3`, an int
//! `bit_length // 3 + 2`, a bool, None or Decimal 64. Anything else (or a container
//! deeper than 16) has no text. The walk is ordered, one stack, last pushed first
//! popped (a dict pushes its keys, then its values), and stops where a limit says: at
//! the first charge past the compute units left, at the first item without a text, or
//! once the size passes the largest value allowed. Every node must stop at the same
//! item with the same counts, so this is that walk, step for step (the Python it
//! replaced is kept as the oracle of tests/runtime/test_runtime_call_costs.py).
//!
//! The same module makes an event's attribute texts (`emit`): bytes as lower-case hex,
//! str as it is, int, bool and Decimal as `str()` gives them.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyInt, PyList, PyString, PyTuple, PyType};

/// Containers nest at most this deep in a value turned into text.
const TEXT_DEPTH: u32 = 16;

/// `bit_length()` of an exact int (the magnitude's bits; 0 for 0).
fn bit_length(value: &Bound<'_, PyAny>) -> PyResult<i128> {
    let mut overflow = 0;
    // SAFETY: `value` is an exact int; with the GIL held this only reads it.
    let small = unsafe { ffi::PyLong_AsLongLongAndOverflow(value.as_ptr(), &mut overflow) };
    if overflow == 0 {
        return Ok(i128::from(64 - small.unsigned_abs().leading_zeros()));
    }
    value.call_method0("bit_length")?.extract()
}

/// An int limit, saturated to i64 (a walk never reaches 2^63 units or characters).
fn saturated(limit: &Bound<'_, PyAny>) -> PyResult<i64> {
    let mut overflow = 0;
    // SAFETY: a plain read of an int (PyLong_AsLongLongAndOverflow sets an error for anything else).
    let value = unsafe { ffi::PyLong_AsLongLongAndOverflow(limit.as_ptr(), &mut overflow) };
    if value == -1 && overflow == 0 {
        if let Some(err) = PyErr::take(limit.py()) {
            return Err(err);
        }
    }
    Ok(match overflow {
        0 => value,
        1.. => i64::MAX,
        _ => i64::MIN,
    })
}

/// `(size, units, refused)`: the text size reached, the compute units the walk charged
/// and, if it met an item without a text, that item's type name. The caller adds the
/// units to the call's count (past `units_left`: the walk stopped at that charge) and
/// then refuses or allocates `size` (past `max_size`: the walk stopped there).
#[pyfunction]
pub fn text_size<'py>(
    value: &Bound<'py, PyAny>,
    max_size: &Bound<'py, PyAny>,
    units_left: &Bound<'py, PyAny>,
    decimal: &Bound<'py, PyType>,
) -> PyResult<(i64, i64, Option<Bound<'py, PyString>>)> {
    let (max_size, units_left) = (i128::from(saturated(max_size)?), i128::from(saturated(units_left)?));
    let mut size: i128 = 0;
    let mut units: i128 = 0;
    let mut stack: Vec<(Bound<'py, PyAny>, u32)> = vec![(value.clone(), 0)];
    while let Some((item, depth)) = stack.pop() {
        if item.is_exact_instance_of::<PyString>() || item.is_exact_instance_of::<PyBytes>() {
            size += item.len()? as i128 + 3;
        } else if item.is_exact_instance_of::<PyInt>() {
            size += bit_length(&item)? / 3 + 2;
        } else if item.is_exact_instance_of::<PyBool>() || item.is_none() || item.get_type().is(decimal) {
            size += 64;
        } else if depth < TEXT_DEPTH
            && (item.is_exact_instance_of::<PyList>()
                || item.is_exact_instance_of::<PyTuple>()
                || item.is_exact_instance_of::<PyDict>())
        {
            let n = item.len()? as i128;
            units += 1 + (n >> 4);
            if units > units_left {
                return Ok((narrow(size), narrow(units), None));
            }
            size += 2 + 2 * n;
            if let Ok(list) = item.cast_exact::<PyList>() {
                stack.extend(list.iter().map(|e| (e, depth + 1)));
            } else if let Ok(tuple) = item.cast_exact::<PyTuple>() {
                stack.extend(tuple.iter().map(|e| (e, depth + 1)));
            } else {
                let dict = item.cast_exact::<PyDict>().expect("checked");
                stack.extend(dict.iter().map(|(key, _)| (key, depth + 1)));
                stack.extend(dict.iter().map(|(_, element)| (element, depth + 1)));
            }
        } else {
            return Ok((narrow(size), narrow(units), Some(item.get_type().name()?)));
        }
        if size > max_size {
            break;
        }
    }
    Ok((narrow(size), narrow(units), None))
}

/// A count as returned (never past 2^63 in a walk that ends).
fn narrow(count: i128) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// An event's `(key, text)` attributes and the sum of their lengths (characters), or
/// None if a value is not an int, str, bytes, bool or Decimal (the caller names it).
#[pyfunction]
pub fn event_texts<'py>(
    py: Python<'py>,
    attributes: &Bound<'py, PyDict>,
    decimal: &Bound<'py, PyType>,
) -> PyResult<Option<(Bound<'py, PyList>, usize)>> {
    let texts = PyList::empty(py);
    let mut size = 0;
    for (key, value) in attributes.iter() {
        let text = if let Ok(bytes) = value.cast_exact::<PyBytes>() {
            let mut hex = String::with_capacity(2 * bytes.as_bytes().len());
            for byte in bytes.as_bytes() {
                hex.push(HEX[usize::from(byte >> 4)] as char);
                hex.push(HEX[usize::from(byte & 0x0f)] as char);
            }
            PyString::new(py, &hex)
        } else if value.is_exact_instance_of::<PyString>() {
            value.cast_into_exact::<PyString>().expect("checked")
        } else if value.is_exact_instance_of::<PyInt>()
            || value.is_exact_instance_of::<PyBool>()
            || value.get_type().is(decimal)
        {
            value.str()?
        } else {
            return Ok(None);
        };
        size += key.len()? + text.len()?;
        texts.append(PyTuple::new(py, [key, text.into_any()])?)?;
    }
    Ok(Some((texts, size)))
}
