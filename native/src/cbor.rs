//! The canonical CBOR check behind `baychain.encoding.decode`.
//!
//! baychain accepts a byte string only if it is the one canonical encoding of a value
//! in its model (docs/TRANSACTIONS.md): null, booleans, integers in [-2^64, 2^64 - 1],
//! UTF-8 text, bytes, lists, and maps with text keys, nested at most `max_depth` levels;
//! shortest integer and length forms, definite lengths, map keys in increasing order of
//! their encodings (shorter first, then bytewise), nothing after the value. Python used
//! to decide that by decoding and encoding again and comparing; this reads the bytes
//! once and decides the same without building anything. cbor2 then decodes what passed.

/// Why `data` is not a canonical encoding, or None if it is one.
pub fn problem(data: &[u8], max_depth: usize) -> Option<String> {
    let mut reader = Reader { data, pos: 0, max_depth };
    match reader.value(0) {
        Err(why) => Some(why),
        Ok(()) if reader.pos != data.len() => Some("encoding is not canonical (or has trailing bytes)".into()),
        Ok(()) => None,
    }
}

struct Reader<'a> {
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

fn truncated() -> String {
    "not valid CBOR: the data ends inside a value".into()
}

fn not_canonical(what: &str) -> String {
    format!("encoding is not canonical ({what})")
}

impl<'a> Reader<'a> {
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

    fn value(&mut self, depth: usize) -> Result<(), String> {
        if depth > self.max_depth {
            return Err(format!("value nested deeper than {} levels", self.max_depth));
        }
        let (major, argument) = self.head()?;
        match major {
            MAJOR_UNSIGNED | MAJOR_NEGATIVE | MAJOR_SIMPLE => Ok(()),
            MAJOR_BYTES => self.take(argument).map(|_| ()),
            MAJOR_TEXT => self.text(argument).map(|_| ()),
            MAJOR_ARRAY => {
                self.at_least(argument)?;
                (0..argument).try_for_each(|_| self.value(depth + 1))
            }
            MAJOR_MAP => {
                self.at_least(argument.saturating_mul(2))?;
                let data = self.data;
                let mut previous: &[u8] = &[];
                for _ in 0..argument {
                    let start = self.pos;
                    let (key_major, key_len) = self.head()?;
                    if key_major != MAJOR_TEXT {
                        return Err("map keys must be strings".into());
                    }
                    self.text(key_len)?;
                    let key = &data[start..self.pos];
                    if (key.len(), key) <= (previous.len(), previous) {
                        return Err(not_canonical("map keys duplicated or out of order"));
                    }
                    previous = key;
                    self.value(depth + 1)?;
                }
                Ok(())
            }
            MAJOR_TAG => Err("tags are not allowed (no floats, tags or sets)".into()),
            _ => unreachable!("a major type has three bits"),
        }
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
