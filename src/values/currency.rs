//! ISO 4217 alphabetic currency codes (the current list, funds and special codes included).

/// Every active ISO 4217 alpha-3 code, sorted for binary search.
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
    "XOF", "XPD", "XPF", "XPT", "XSU", "XTS", "XUA", "XXX", "YER", "ZAR", "ZMW", "ZWG", "ZWL",
];

/// The codes packed into integers, so the lookup on every row compares numbers, not strings.
const PACKED: [u32; CODES.len()] = {
    let mut out = [0u32; CODES.len()];
    let mut i = 0;
    while i < CODES.len() {
        let b = CODES[i].as_bytes();
        out[i] = pack(b[0], b[1], b[2]);
        i += 1;
    }
    out
};

const fn pack(a: u8, b: u8, c: u8) -> u32 {
    (a as u32) << 16 | (b as u32) << 8 | c as u32
}

fn is_code(s: &str) -> bool {
    match *s.as_bytes() {
        [a, b, c] => PACKED.binary_search(&pack(a, b, c)).is_ok(),
        _ => false,
    }
}

/// Why a value is not a currency code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurrencyError {
    /// A real code written in lower or mixed case.
    Case,
    /// Not a code at all.
    Unknown,
}

/// Checks an ISO 4217 alpha-3 code, which is written in capitals.
pub fn check(s: &str) -> Result<(), CurrencyError> {
    if is_code(s) {
        return Ok(());
    }
    if is_code(&s.to_ascii_uppercase()) {
        return Err(CurrencyError::Case);
    }
    Err(CurrencyError::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_sorted_so_binary_search_works() {
        assert!(CODES.windows(2).all(|w| w[0] < w[1]));
        assert!(PACKED.windows(2).all(|w| w[0] < w[1]));
        assert!(
            CODES
                .iter()
                .all(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
        );
    }

    #[test]
    fn codes() {
        for ok in ["USD", "EUR", "GBP", "JPY", "XXX"] {
            assert_eq!(check(ok), Ok(()));
        }
        assert_eq!(check("usd"), Err(CurrencyError::Case));
        for bad in ["XYZ", "US", "USDD", "$", "HRK", ""] {
            assert_eq!(check(bad), Err(CurrencyError::Unknown), "{bad}");
        }
    }
}
