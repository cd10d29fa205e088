//! SQLite's own decimal rendering of a double (sqlite3FpDecode and the helpers it uses,
//! SQLite 3.54, the `SQLITE_USE_UINT128` path), so REAL-to-TEXT conversions d1plus does
//! itself give SQLite's digits exactly: its 18-digit conversion is not correctly rounded,
//! and a correctly rounded one differs in the last digit of about 0.3% of values.

/// 10^p for p in 0..27, as the top 64 bits.
const BASE: [u64; 27] = [
    0x8000000000000000,
    0xa000000000000000,
    0xc800000000000000,
    0xfa00000000000000,
    0x9c40000000000000,
    0xc350000000000000,
    0xf424000000000000,
    0x9896800000000000,
    0xbebc200000000000,
    0xee6b280000000000,
    0x9502f90000000000,
    0xba43b74000000000,
    0xe8d4a51000000000,
    0x9184e72a00000000,
    0xb5e620f480000000,
    0xe35fa931a0000000,
    0x8e1bc9bf04000000,
    0xb1a2bc2ec5000000,
    0xde0b6b3a76400000,
    0x8ac7230489e80000,
    0xad78ebc5ac620000,
    0xd8d726b7177a8000,
    0x878678326eac9000,
    0xa968163f0a57b400,
    0xd3c21bcecceda100,
    0x84595161401484a0,
    0xa56fa5b99019a5c8,
];

/// 10^(27k) for k in -13..13, top 64 bits.
const SCALE: [u64; 26] = [
    0x8049a4ac0c5811ae,
    0xcf42894a5dce35ea,
    0xa76c582338ed2621,
    0x873e4f75e2224e68,
    0xda7f5bf590966848,
    0xb080392cc4349dec,
    0x8e938662882af53e,
    0xe65829b3046b0afa,
    0xba121a4650e4ddeb,
    0x964e858c91ba2655,
    0xf2d56790ab41c2a2,
    0xc428d05aa4751e4c,
    0x9e74d1b791e07e48,
    0xcccccccccccccccc,
    0xcecb8f27f4200f3a,
    0xa70c3c40a64e6c51,
    0x86f0ac99b4e8dafd,
    0xda01ee641a708de9,
    0xb01ae745b101e9e4,
    0x8e41ade9fbebc27d,
    0xe5d3ef282a242e81,
    0xb9a74a0637ce2ee1,
    0x95f83d0a1fb69cd9,
    0xf24a01a73cf2dccf,
    0xc3b8358109e84f07,
    0x9e19db92b4e31ba9,
];

/// The next 32 bits of each `SCALE` entry.
const SCALE_LO: [u32; 26] = [
    0x205b896d, 0x52064cad, 0xaf2af2b8, 0x5a7744a7, 0xaf39a475, 0xbd8d794e, 0x547eb47b, 0x0cb4a5a3,
    0x92f34d62, 0x3a6a07f9, 0xfae27299, 0xaa97e14c, 0x775ea265, 0xcccccccc, 0x00000000, 0x999090b6,
    0x69a028bb, 0xe80e6f48, 0x5ec05dd0, 0x14588f14, 0x8f1668c9, 0x6d953e2c, 0x4abdaf10, 0xbc633b39,
    0x0a862f81, 0x6c07a2c2,
];

/// The top 64 bits of `a × b`, and the low 64.
fn multiply128(a: u64, b: u64) -> (u64, u64) {
    let r = u128::from(a) * u128::from(b);
    ((r >> 64) as u64, r as u64)
}

/// The top 64 bits of `((a << 32) + a_lo) × b >> 32`, and the 32 bits below them.
fn multiply160(a: u64, a_lo: u32, b: u64) -> (u64, u32) {
    let mut r = u128::from(a) * u128::from(b);
    r += (u128::from(a_lo) * u128::from(b)) >> 32;
    ((r >> 64) as u64, ((r >> 32) & 0xffff_ffff) as u32)
}

/// The most significant 64 bits of 10^p (p in -348..=347), and the next 32.
fn power_of_ten(p: i32) -> (u64, u32) {
    let (g, n) = if p < 0 {
        if p == -1 {
            return (SCALE[13], SCALE_LO[13]);
        }
        let (g, n) = (p / 27, p % 27);
        if n != 0 {
            (g - 1, n + 27)
        } else {
            (g, n)
        }
    } else if p < 27 {
        return (BASE[p as usize], 0);
    } else {
        (p / 27, p % 27)
    };
    let k = (g + 13) as usize;
    let s = SCALE[k];
    if n == 0 {
        return (s, SCALE_LO[k]);
    }
    let (mut x, mut lo) = multiply160(s, SCALE_LO[k], BASE[n as usize]);
    if x & (1 << 63) == 0 {
        x = (x << 1) | u64::from((lo >> 31) & 1);
        lo = (lo << 1) | 1;
    }
    (x, lo)
}

fn pwr10to2(p: i32) -> i32 {
    (p * 108853) >> 15
}

fn pwr2to10(p: i32) -> i32 {
    (p * 78913) >> 18
}

/// `m × 2^e` as an `n`-digit integer `d` and a power of ten: `d × 10^p`.
fn fp2_convert10(m: u64, e: i32, n: i32) -> (u64, i32) {
    let p = n - 1 - pwr2to10(e + 63);
    let (h, _) = multiply128(m, power_of_ten(p).0);
    let shift = |by: i32| h.checked_shr(by.max(0) as u32).unwrap_or(0);
    if n == 18 {
        let h = shift(-(e + pwr10to2(p) + 2));
        ((h + ((h << 1) & 2)) >> 1, -p)
    } else {
        (shift(-(e + pwr10to2(p) + 1)), -p)
    }
}

/// The significant digits of a finite, positive double and where its decimal point goes
/// (`0.digits × 10^dp`), as `sqlite3FpDecode(…, iRound = 17, mxRound = 20)` gives them for
/// `%!.17g`: 17 digits, fewer when fewer read back as the same double.
pub(crate) fn decode17(r: f64) -> (Vec<u8>, i32) {
    let bits = r.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i32;
    let mut v = bits & 0x000f_ffff_ffff_ffff;
    if e == 0 {
        let nn = v.leading_zeros() as i32;
        v <<= nn;
        e = -1074 - nn;
    } else {
        v = (v << 11) | (1 << 63);
        e -= 1086;
    }
    let (v, exp) = fp2_convert10(v, e, 18);
    let mut z: Vec<u8> = v.max(1).to_string().into_bytes();
    let n = z.len();
    let mut dp = n as i32 + exp;
    let reads_back = |digits: &[u8], bump: bool, scale: i32| -> bool {
        let mut d: u128 = digits.iter().fold(0, |d, c| d * 10 + u128::from(c - b'0'));
        if bump {
            d += 1;
        }
        format!("{d}e{scale}").parse::<f64>() == Ok(r)
    };
    let mut keep = 17;
    if n > 17 {
        if z[15] == b'9' && z[14] == b'9' {
            let mut jj = 14;
            while jj > 0 && z[jj - 1] == b'9' {
                jj -= 1;
            }
            if reads_back(&z[..jj], true, dp - jj as i32) {
                keep = jj + 1;
            }
        } else if dp >= n as i32 || (z[15] == b'0' && z[14] == b'0' && z[13] == b'0') {
            let mut jj = 13;
            while jj > 1 && z[jj - 1] == b'0' {
                jj -= 1;
            }
            if reads_back(&z[..jj], false, dp - jj as i32) {
                keep = jj + 1;
            }
        }
    }
    if keep < z.len() {
        let round_up = z[keep] >= b'5';
        z.truncate(keep);
        if round_up {
            let mut j = keep;
            loop {
                if j == 0 {
                    z.insert(0, b'1');
                    dp += 1;
                    break;
                }
                j -= 1;
                if z[j] == b'9' {
                    z[j] = b'0';
                } else {
                    z[j] += 1;
                    break;
                }
            }
        }
    }
    while z.len() > 1 && z.last() == Some(&b'0') {
        z.pop();
    }
    (z, dp)
}
