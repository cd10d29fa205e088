//! d1plus renders a REAL as text (CAST, `||`, group_concat after a merge) with exactly
//! SQLite's digits: checked against SQLite itself on edge values and random doubles.

use d1plus::value::format_real;

#[test]
fn reals_read_as_sqlite_writes_them() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    let mut values = vec![
        1.0 / 6.0,
        2.0 / 3.0,
        0.1,
        0.1 + 0.2,
        49.47,
        2.5,
        3.0,
        100.0,
        -0.0,
        1e-4,
        1e-5,
        1e14,
        1e15,
        1e16,
        1e17,
        1e20,
        1e21,
        9007199254740992.0,
        123456789012345680.0,
        1e23,
        f64::MAX,
        f64::MIN_POSITIVE,
        5e-324,
        -1.5,
    ];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        values.push(f64::from_bits(x));
        values.push((x % 10_000_007) as f64 / 91.0);
        values.push((x % 1000) as f64 / 3.0);
    }
    let mut stmt = conn.prepare("SELECT CAST(?1 AS TEXT)").unwrap();
    for v in values.into_iter().filter(|v| v.is_finite()) {
        let sqlite: String = stmt.query_row([v], |r| r.get(0)).unwrap();
        assert_eq!(format_real(v), sqlite, "{v:e}");
    }
}
