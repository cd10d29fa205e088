//! The answers of a Worker's shard reads as JavaScript hands them to wasm: one byte
//! buffer for all the shards a call read (`readAll` in `backend::d1` writes it), so a
//! fan-out costs one crossing and one copy instead of a call per value.
//!
//! The buffer holds, shard after shard, one entry:
//!
//! ```text
//! entry  := 0 answer | 1 (the shard's call threw) | 2 duration:f64 (an answer this format
//!           cannot hold, beside the buffer)
//! answer := duration:f64  names:u32 name*  rows:u32 row*
//! row    := width:u32 value*
//! value  := 0 (null) | 1 f64 (a number) | 2 text | 3 blob | 4 (false) | 5 (true)
//! text   := bytes:u32 UTF-8*      blob := bytes:u32 byte*
//! ```
//!
//! Integers are little-endian. A number is the JavaScript double itself, read by
//! [`number`]'s rule, so every double (NaN and the infinities too) arrives exactly.

use crate::value::Value;

/// One shard's entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// The answer.
    Answer {
        /// Its column names, in order.
        columns: Vec<String>,
        /// Its rows.
        rows: Vec<Vec<Value>>,
        /// How long the shard's call took, in ms.
        duration: f64,
    },
    /// The shard's call threw: the error is beside the buffer, at this shard's index.
    Failed,
    /// The answer holds a value this format does not carry (a bigint, an object): it is
    /// beside the buffer, to be read value by value.
    Elsewhere {
        /// How long the shard's call took, in ms.
        duration: f64,
    },
}

/// The largest integer a JavaScript number holds exactly.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// A JavaScript number as d1plus reads it from D1 (which answers in JSON): an integral one
/// within 2^53 is an INTEGER, any other a REAL. SQLite compares 2 and 2.0 as equal, so
/// merging is not affected.
pub fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER as f64 {
        Value::Integer(n as i64)
    } else {
        Value::Real(n)
    }
}

/// Reads `count` entries. None when the bytes are not that (a bug on the writing side).
pub fn read_entries(bytes: &[u8], count: usize) -> Option<Vec<Entry>> {
    let mut r = Reader { bytes, pos: 0 };
    // Each entry takes a byte at least: a count the buffer cannot hold reserves nothing.
    let mut entries = Vec::with_capacity(count.min(bytes.len()));
    for _ in 0..count {
        entries.push(match r.u8()? {
            0 => r.answer()?,
            1 => Entry::Failed,
            2 => Entry::Elsewhere { duration: r.f64()? },
            _ => return None,
        });
    }
    (r.pos == bytes.len()).then_some(entries)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u32(&mut self) -> Option<usize> {
        let b = self.take(4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }

    fn f64(&mut self) -> Option<f64> {
        let b: [u8; 8] = self.take(8)?.try_into().ok()?;
        Some(f64::from_le_bytes(b))
    }

    fn text(&mut self) -> Option<String> {
        let n = self.u32()?;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }

    /// A count of items each at least `min` bytes long, checked against what is left (so
    /// a bad count cannot reserve memory the buffer could not fill).
    fn count(&mut self, min: usize) -> Option<usize> {
        let n = self.u32()?;
        (n.checked_mul(min)? <= self.bytes.len() - self.pos).then_some(n)
    }

    fn answer(&mut self) -> Option<Entry> {
        let duration = self.f64()?;
        let names = self.count(4)?;
        let columns = (0..names)
            .map(|_| self.text())
            .collect::<Option<Vec<_>>>()?;
        let count = self.count(4)?;
        let mut rows = Vec::with_capacity(count);
        for _ in 0..count {
            let width = self.count(1)?;
            let row = (0..width)
                .map(|_| self.value())
                .collect::<Option<Vec<_>>>()?;
            rows.push(row);
        }
        Some(Entry::Answer {
            columns,
            rows,
            duration,
        })
    }

    fn value(&mut self) -> Option<Value> {
        Some(match self.u8()? {
            0 => Value::Null,
            1 => number(self.f64()?),
            2 => Value::Text(self.text()?),
            3 => {
                let n = self.u32()?;
                Value::Blob(self.take(n)?.to_vec())
            }
            4 => Value::Integer(0),
            5 => Value::Integer(1),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `readAll` writes, written here by hand.
    #[derive(Default)]
    struct Writer(Vec<u8>);

    impl Writer {
        fn u8(&mut self, x: u8) -> &mut Self {
            self.0.push(x);
            self
        }
        fn u32(&mut self, x: u32) -> &mut Self {
            self.0.extend_from_slice(&x.to_le_bytes());
            self
        }
        fn f64(&mut self, x: f64) -> &mut Self {
            self.0.extend_from_slice(&x.to_le_bytes());
            self
        }
        fn text(&mut self, s: &str) -> &mut Self {
            self.u32(s.len() as u32);
            self.0.extend_from_slice(s.as_bytes());
            self
        }
    }

    fn unhex(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect()
    }

    fn answer(columns: &[&str], rows: Vec<Vec<Value>>) -> Entry {
        Entry::Answer {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows,
            duration: 0.0,
        }
    }

    /// What the JavaScript writer (`readAll`, `batchAsWire` in d1.js) wrote for known
    /// answers (e2e/tests/wire.test.mjs pins it), read back to values written here by hand.
    #[test]
    fn what_the_javascript_side_writes_reads_back() {
        use Value::{Blob, Integer as Int, Null, Real, Text};
        let text = |s: &str| Text(s.to_string());
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("wire_vectors.json")).expect("vectors");
        let reads = unhex(vectors["reads"]["hex"].as_str().expect("hex"));
        let expected = vec![
            answer(
                &["id", "name", "x"],
                vec![
                    vec![Int(7), text("a\0b"), Null],
                    vec![Real(-1.5), text("név ✓"), Int(1)],
                    vec![Null, text(""), Int(0)],
                ],
            ),
            answer(
                &["n"],
                [
                    Real(0.1 + 0.2),
                    Real(2f64.powi(60)),
                    Int(0),
                    Real(5e-324),
                    Real(f64::NAN),
                    Real(f64::NEG_INFINITY),
                ]
                .into_iter()
                .map(|v| vec![v])
                .collect(),
            ),
            answer(
                &["b"],
                vec![
                    vec![Blob(vec![0, 255, 9])],
                    vec![Blob(vec![1, 2])],
                    vec![Blob(vec![])],
                    vec![Blob(vec![])],
                ],
            ),
            answer(
                &["t"],
                vec![
                    vec![text(&"Grüße aus Köln ✓ ".repeat(3))],
                    vec![text(&"x".repeat(40))],
                    vec![text("😀")],
                ],
            ),
            answer(&[], vec![]),
            answer(&["", "ok"], vec![vec![text("one"), text("two")]]),
            Entry::Elsewhere { duration: 0.0 },
            Entry::Failed,
        ];
        let got = read_entries(&reads, expected.len()).expect("well formed");
        // Compared as printed: NaN is not equal to itself.
        assert_eq!(format!("{got:?}"), format!("{expected:?}"));

        let batch = unhex(vectors["batch"]["hex"].as_str().expect("hex"));
        let expected = vec![
            answer(
                &["b", "a"],
                vec![vec![Int(1), text("x")], vec![Real(2.5), text("y")]],
            ),
            answer(&[], vec![]),
            answer(&["v"], vec![vec![Blob(vec![0, 1])], vec![Null]]),
            Entry::Elsewhere { duration: 0.0 },
        ];
        let got = read_entries(&batch, expected.len()).expect("well formed");
        assert_eq!(got, expected);
        let metas: Vec<f64> =
            serde_json::from_value(vectors["batch"]["metas"].clone()).expect("metas");
        let mut want = vec![0.0; 28];
        want[..7].copy_from_slice(&[1.0, 5.0, 2.0, 1.0, 1.0, 4096.0, 0.5]);
        assert_eq!(metas, want);
    }

    #[test]
    fn every_kind_of_value_and_entry_reads_back() {
        let mut w = Writer::default();
        w.u8(0).f64(1.5).u32(2).text("id").text("név ✓");
        w.u32(2);
        w.u32(2).u8(1).f64(7.0).u8(2).text("a\0b");
        w.u32(6).u8(0).u8(3).u32(3).u8(0).u8(255).u8(9);
        w.u8(1).f64(0.1 + 0.2).u8(4).u8(5).u8(1).f64(2f64.powi(60));
        w.u8(1);
        w.u8(2).f64(3.5);
        w.u8(0).f64(0.0).u32(0).u32(0);
        let got = read_entries(&w.0, 4).expect("well formed");
        assert_eq!(
            got,
            vec![
                Entry::Answer {
                    columns: vec!["id".into(), "név ✓".into()],
                    rows: vec![
                        vec![Value::Integer(7), Value::Text("a\0b".into())],
                        vec![
                            Value::Null,
                            Value::Blob(vec![0, 255, 9]),
                            Value::Real(0.1 + 0.2),
                            Value::Integer(0),
                            Value::Integer(1),
                            Value::Real(2f64.powi(60)),
                        ],
                    ],
                    duration: 1.5,
                },
                Entry::Failed,
                Entry::Elsewhere { duration: 3.5 },
                Entry::Answer {
                    columns: vec![],
                    rows: vec![],
                    duration: 0.0
                },
            ]
        );
    }

    #[test]
    fn numbers_follow_the_integer_rule_and_keep_every_bit() {
        for (n, want) in [
            (3.0, Value::Integer(3)),
            (-0.0, Value::Integer(0)),
            (9007199254740991.0, Value::Integer(MAX_SAFE_INTEGER)),
            (9007199254740992.0, Value::Real(9007199254740992.0)),
            (1e300, Value::Real(1e300)),
            (f64::INFINITY, Value::Real(f64::INFINITY)),
        ] {
            let mut w = Writer::default();
            w.u8(0).f64(0.0).u32(0).u32(1).u32(1).u8(1).f64(n);
            let got = read_entries(&w.0, 1).expect("well formed");
            let [Entry::Answer { rows, .. }] = got.as_slice() else {
                panic!("one answer: {got:?}")
            };
            assert_eq!(rows[0][0], want, "{n}");
        }
        let mut w = Writer::default();
        w.u8(0).f64(0.0).u32(0).u32(1).u32(1).u8(1).f64(f64::NAN);
        let got = read_entries(&w.0, 1).expect("well formed");
        let [Entry::Answer { rows, .. }] = got.as_slice() else {
            panic!("one answer: {got:?}")
        };
        assert!(matches!(rows[0][0], Value::Real(r) if r.is_nan()));
    }

    /// Truncated, padded, lying about counts, unknown tags, bad UTF-8: None, never a
    /// panic or a huge allocation.
    #[test]
    fn malformed_buffers_are_refused() {
        let mut w = Writer::default();
        w.u8(0)
            .f64(0.0)
            .u32(1)
            .text("x")
            .u32(1)
            .u32(1)
            .u8(2)
            .text("y");
        let good = w.0.clone();
        assert!(read_entries(&good, 1).is_some());
        for cut in 0..good.len() {
            assert_eq!(read_entries(&good[..cut], 1), None, "cut at {cut}");
        }
        let mut padded = good.clone();
        padded.push(0);
        assert_eq!(read_entries(&padded, 1), None);
        assert_eq!(read_entries(&good, 2), None);
        let mut huge = Writer::default();
        huge.u8(0).f64(0.0).u32(0).u32(u32::MAX);
        assert_eq!(read_entries(&huge.0, 1), None);
        let mut tag = Writer::default();
        tag.u8(0).f64(0.0).u32(0).u32(1).u32(1).u8(6);
        assert_eq!(read_entries(&tag.0, 1), None);
        let mut utf8 = Writer::default();
        utf8.u8(0).f64(0.0).u32(1).u32(1).u8(0xff).u32(0);
        assert_eq!(read_entries(&utf8.0, 1), None);
        assert_eq!(read_entries(&[3], 1), None);
        assert_eq!(read_entries(&[2], 1), None, "an entry 2 holds its duration");
        assert_eq!(
            read_entries(&[1], usize::MAX),
            None,
            "a count past the buffer"
        );
        // Random bytes.
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..2_000 {
            let len = (x % 64) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 7) as u8
                })
                .collect();
            let count = 1 + (x % 3) as usize;
            if let Some(entries) = read_entries(&bytes, count) {
                assert_eq!(entries.len(), count);
            }
        }
    }
}
