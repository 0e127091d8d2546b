//! Any text read as a plain decimal: never a panic, and what is read is written back
//! as a plain decimal that reads as the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(value) = kontor_model::decimal::parse_plain(text) {
        let written = value.to_string();
        assert_eq!(
            kontor_model::decimal::parse_plain(&written),
            Ok(value),
            "{text:?}"
        );
    }
});
