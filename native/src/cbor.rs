//! Canonical CBOR: `baychain.encoding.encode` and its strict inverse `decode`.
//!
//! baychain accepts a byte string only if it is the one canonical encoding of a value
//! in its model (docs/TRANSACTIONS.md): null, booleans, integers in [-2^64, 2^64 - 1],
//! UTF-8 text, bytes, lists, and maps with text keys, nested at most `max_depth` levels;
//! shortest integer and length forms, definite lengths, map keys in increasing order of
//! their encodings (shorter first, then bytewise), nothing after the value. Python used
//! to decide that by decoding with cbor2, encoding again and comparing; this reads the
//! bytes once, checking as it builds the Python value (the same value cbor2 builds:
//! None, bool, int, str, bytes, list, dict in encoded order). Encoding checks the value
//! against the model in the order `encoding.check_value` did (depth first, dict entries
//! in insertion order, a key before its value), so the first problem is the same one,
//! and writes the bytes cbor2's canonical mode wrote.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyInt, PyList, PyString};

create_exception!(
    baychain_native,
    CborError,
    PyValueError,
    "Bytes that are not the canonical encoding of a value, or a value outside the model."
);

/// Why decoding or encoding stopped: outside the rules (a sentence), or Python failed.
pub enum Error {
    Invalid(String),
    Python(PyErr),
}

impl From<String> for Error {
    fn from(why: String) -> Self {
        Error::Invalid(why)
    }
}

impl From<PyErr> for Error {
    fn from(err: PyErr) -> Self {
        Error::Python(err)
    }
}

impl From<Error> for PyErr {
    fn from(err: Error) -> Self {
        match err {
            Error::Invalid(why) => CborError::new_err(why),
            Error::Python(err) => err,
        }
    }
}

/// The value `data` canonically encodes, or why it encodes none.
pub fn decode<'py>(py: Python<'py>, data: &[u8], max_depth: usize) -> Result<Bound<'py, PyAny>, Error> {
    let mut reader = Reader { py, data, pos: 0, max_depth };
    let value = reader.value(0)?;
    if reader.pos != data.len() {
        return Err(not_canonical("trailing bytes after the value").into());
    }
    Ok(value)
}

/// The canonical encoding of `value`, or the first reason it lies outside the model.
pub fn encode(value: &Bound<'_, PyAny>, max_depth: usize) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(64);
    encode_into(value, 0, max_depth, &mut out)?;
    Ok(out)
}

fn encode_into(value: &Bound<'_, PyAny>, depth: usize, max_depth: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    if depth > max_depth {
        return Err(format!("value nested deeper than {max_depth} levels").into());
    }
    if value.is_none() {
        out.push(0xf6);
    } else if value.is_exact_instance_of::<PyBool>() {
        out.push(if value.is_truthy()? { 0xf5 } else { 0xf4 });
    } else if value.is_exact_instance_of::<PyString>() {
        let text = value.cast_exact::<PyString>().expect("checked").to_str()?;
        put_head(out, MAJOR_TEXT, text.len() as u64);
        out.extend_from_slice(text.as_bytes());
    } else if value.is_exact_instance_of::<PyBytes>() {
        let bytes = value.cast_exact::<PyBytes>().expect("checked").as_bytes();
        put_head(out, MAJOR_BYTES, bytes.len() as u64);
        out.extend_from_slice(bytes);
    } else if value.is_exact_instance_of::<PyInt>() {
        let outside = || Error::Invalid("integer outside the 64-bit range".into());
        let number: i128 = value.extract().map_err(|_| outside())?;
        match number {
            0..=0xffff_ffff_ffff_ffff => put_head(out, MAJOR_UNSIGNED, number as u64),
            -0x1_0000_0000_0000_0000..=-1 => put_head(out, MAJOR_NEGATIVE, (-1 - number) as u64),
            _ => return Err(outside()),
        }
    } else if value.is_exact_instance_of::<PyList>() {
        let list = value.cast_exact::<PyList>().expect("checked");
        put_head(out, MAJOR_ARRAY, list.len() as u64);
        for item in list.iter() {
            encode_into(&item, depth + 1, max_depth, out)?;
        }
    } else if value.is_exact_instance_of::<PyDict>() {
        let dict = value.cast_exact::<PyDict>().expect("checked");
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(dict.len());
        for (key, item) in dict.iter() {
            if !key.is_exact_instance_of::<PyString>() {
                return Err("map keys must be strings".to_string().into());
            }
            let text = key.cast_exact::<PyString>().expect("checked").to_str()?;
            let mut key_bytes = Vec::with_capacity(text.len() + 2);
            put_head(&mut key_bytes, MAJOR_TEXT, text.len() as u64);
            key_bytes.extend_from_slice(text.as_bytes());
            let mut item_bytes = Vec::new();
            encode_into(&item, depth + 1, max_depth, &mut item_bytes)?;
            entries.push((key_bytes, item_bytes));
        }
        entries.sort_unstable_by(|(a, _), (b, _)| (a.len(), a).cmp(&(b.len(), b)));
        put_head(out, MAJOR_MAP, entries.len() as u64);
        for (key_bytes, item_bytes) in entries {
            out.extend_from_slice(&key_bytes);
            out.extend_from_slice(&item_bytes);
        }
    } else {
        let kind = value.get_type().name()?;
        return Err(format!("type {kind} is not allowed (no floats, tags or sets)").into());
    }
    Ok(())
}

/// A head in its shortest form.
fn put_head(out: &mut Vec<u8>, major: u8, argument: u64) {
    let major = major << 5;
    match argument {
        0..=23 => out.push(major | argument as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, argument as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(argument as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend_from_slice(&(argument as u32).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend_from_slice(&argument.to_be_bytes());
        }
    }
}

struct Reader<'py, 'a> {
    py: Python<'py>,
    data: &'a [u8],
    pos: usize,
    max_depth: usize,
}

const MAJOR_UNSIGNED: u8 = 0;
const MAJOR_NEGATIVE: u8 = 1;
const MAJOR_BYTES: u8 = 2;
const MAJOR_TEXT: u8 = 3;
const MAJOR_ARRAY: u8 = 4;
const MAJOR_MAP: u8 = 5;
const MAJOR_TAG: u8 = 6;
const MAJOR_SIMPLE: u8 = 7;

fn infallible<T>(result: Result<T, std::convert::Infallible>) -> T {
    match result {
        Ok(value) => value,
        Err(never) => match never {},
    }
}

fn truncated() -> String {
    "not valid CBOR: the data ends inside a value".into()
}

fn not_canonical(what: &str) -> String {
    format!("encoding is not canonical ({what})")
}

impl<'py, 'a> Reader<'py, 'a> {
    fn take(&mut self, len: u64) -> Result<&'a [u8], String> {
        let start = self.pos;
        let end = usize::try_from(len).ok().and_then(|len| start.checked_add(len)).filter(|&end| end <= self.data.len());
        let end = end.ok_or_else(truncated)?;
        self.pos = end;
        Ok(&self.data[start..end])
    }

    /// The major type and argument of the next item; the argument must be in its shortest form.
    fn head(&mut self) -> Result<(u8, u64), String> {
        let initial = *self.take(1)?.first().expect("one byte");
        let (major, info) = (initial >> 5, initial & 0x1f);
        if major == MAJOR_SIMPLE {
            return match info {
                20..=22 => Ok((major, info as u64)), // false, true, null
                23 => Err("type undefined is not allowed (no floats, tags or sets)".into()),
                25..=27 => Err("type float is not allowed (no floats, tags or sets)".into()),
                31 => Err("not valid CBOR: a break outside an indefinite-length item".into()),
                _ => Err("simple values other than false, true and null are not allowed".into()),
            };
        }
        let (width, least) = match info {
            0..=23 => return Ok((major, info as u64)),
            24 => (1, 24),
            25 => (2, 1 << 8),
            26 => (4, 1 << 16),
            27 => (8, 1 << 32),
            31 => return Err("indefinite lengths are not allowed".into()),
            _ => return Err(format!("not valid CBOR: reserved additional information {info}")),
        };
        let argument = self.take(width)?.iter().fold(0u64, |acc, &b| acc << 8 | b as u64);
        if argument < least {
            return Err(not_canonical("an integer or length in a longer form than needed"));
        }
        Ok((major, argument))
    }

    fn value(&mut self, depth: usize) -> Result<Bound<'py, PyAny>, Error> {
        if depth > self.max_depth {
            return Err(format!("value nested deeper than {} levels", self.max_depth).into());
        }
        let py = self.py;
        let (major, argument) = self.head()?;
        Ok(match major {
            MAJOR_UNSIGNED => infallible(argument.into_pyobject(py)).into_any(),
            MAJOR_NEGATIVE => infallible((-1 - argument as i128).into_pyobject(py)).into_any(),
            MAJOR_BYTES => PyBytes::new(py, self.take(argument)?).into_any(),
            MAJOR_TEXT => PyString::new(py, self.text(argument)?).into_any(),
            MAJOR_ARRAY => {
                self.at_least(argument)?;
                let list = PyList::empty(py);
                for _ in 0..argument {
                    list.append(self.value(depth + 1)?)?;
                }
                list.into_any()
            }
            MAJOR_MAP => {
                self.at_least(argument.saturating_mul(2))?;
                let dict = PyDict::new(py);
                let data = self.data;
                let mut previous: &[u8] = &[];
                for _ in 0..argument {
                    let start = self.pos;
                    let (key_major, key_len) = self.head()?;
                    if key_major != MAJOR_TEXT {
                        return Err(Error::Invalid("map keys must be strings".into()));
                    }
                    let key_text = self.text(key_len)?;
                    let key = &data[start..self.pos];
                    if (key.len(), key) <= (previous.len(), previous) {
                        return Err(not_canonical("map keys duplicated or out of order").into());
                    }
                    previous = key;
                    dict.set_item(PyString::new(py, key_text), self.value(depth + 1)?)?;
                }
                dict.into_any()
            }
            MAJOR_SIMPLE => match argument {
                20 => PyBool::new(py, false).to_owned().into_any(),
                21 => PyBool::new(py, true).to_owned().into_any(),
                _ => py.None().into_bound(py),
            },
            MAJOR_TAG => return Err(Error::Invalid("tags are not allowed (no floats, tags or sets)".into())),
            _ => unreachable!("a major type has three bits"),
        })
    }

    fn text(&mut self, len: u64) -> Result<&'a str, String> {
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map_err(|_| "not valid CBOR: text is not valid UTF-8".into())
    }

    /// Every item takes at least one byte, so a count beyond the bytes left is truncated data.
    fn at_least(&self, items: u64) -> Result<(), String> {
        if items > (self.data.len() - self.pos) as u64 {
            return Err(truncated());
        }
        Ok(())
    }
}
