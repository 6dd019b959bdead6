//! ISO 4217 alphabetic currency codes (the current list, funds and special codes included),
//! without the two codes that name no currency: `XXX` ("no currency") and `XTS` (testing).

/// Every active ISO 4217 alpha-3 code.
const CODES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
    "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUC", "CUP",
    "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP",
    "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS",
    "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW",
    "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD",
    "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN",
    "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR",
    "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SLL",
    "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY",
    "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES",
    "VND", "VUV", "WST", "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XCG", "XDR",
    "XOF", "XPD", "XPF", "XPT", "XSU", "XUA", "YER", "ZAR", "ZMW", "ZWG", "ZWL",
];

/// One bit per three-capital-letter code (26³ of them), set for the codes above: a lookup on
/// every row without a search's unpredictable branches.
const KNOWN: [u64; BITSET_WORDS] = {
    let mut bits = [0u64; BITSET_WORDS];
    let mut i = 0;
    while i < CODES.len() {
        let b = CODES[i].as_bytes();
        let n = index(b[0], b[1], b[2]);
        bits[n / 64] |= 1 << (n % 64);
        i += 1;
    }
    bits
};

const BITSET_WORDS: usize = (26 * 26 * 26usize).div_ceil(64);

/// The position of a code of three capitals among all 26³.
const fn index(a: u8, b: u8, c: u8) -> usize {
    ((a - b'A') as usize * 26 + (b - b'A') as usize) * 26 + (c - b'A') as usize
}

fn is_code(s: &str) -> bool {
    match *s.as_bytes() {
        [a @ b'A'..=b'Z', b @ b'A'..=b'Z', c @ b'A'..=b'Z'] => {
            let n = index(a, b, c);
            KNOWN[n / 64] >> (n % 64) & 1 == 1
        }
        _ => false,
    }
}

/// Why a value is not a currency code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurrencyError {
    /// A real code written in lower or mixed case.
    Case,
    /// An ISO 4217 code that names no currency (`XXX`, `XTS`).
    NotACurrency(&'static str),
    /// Not a code at all.
    Unknown,
}

/// ISO 4217 codes that are not currencies, and what they mean.
const NOT_CURRENCIES: &[(&str, &str)] = &[("XXX", "no currency"), ("XTS", "testing")];

/// Checks an ISO 4217 alpha-3 code, which is written in capitals.
pub fn check(s: &str) -> Result<(), CurrencyError> {
    if is_code(s) {
        return Ok(());
    }
    let upper = s.to_ascii_uppercase();
    if let Some((_, what)) = NOT_CURRENCIES.iter().find(|(c, _)| *c == upper) {
        return Err(CurrencyError::NotACurrency(what));
    }
    if is_code(&upper) {
        return Err(CurrencyError::Case);
    }
    Err(CurrencyError::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bit_set_holds_exactly_the_listed_codes() {
        assert!(
            CODES
                .iter()
                .all(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
        );
        let mut all = 0;
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                for c in b'A'..=b'Z' {
                    let code = String::from_utf8(vec![a, b, c]).unwrap();
                    assert_eq!(is_code(&code), CODES.contains(&code.as_str()), "{code}");
                    all += 1;
                }
            }
        }
        assert_eq!(all, 26 * 26 * 26);
    }

    #[test]
    fn codes() {
        for ok in ["USD", "EUR", "GBP", "JPY", "XAU"] {
            assert_eq!(check(ok), Ok(()));
        }
        assert_eq!(
            check("XXX"),
            Err(CurrencyError::NotACurrency("no currency"))
        );
        assert_eq!(check("xts"), Err(CurrencyError::NotACurrency("testing")));
        assert_eq!(check("usd"), Err(CurrencyError::Case));
        for bad in ["XYZ", "US", "USDD", "$", "HRK", ""] {
            assert_eq!(check(bad), Err(CurrencyError::Unknown), "{bad}");
        }
    }
}
