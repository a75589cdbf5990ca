//! `Parser::str_to_uri` with several scheme sets, then `normalize_uri`,
//! `short_uri`, `uri_to_path` and `path_to_uri` on what parsed: never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neuro_types::uri::Scheme;

mod common;

fuzz_target!(|data: &[u8]| {
    let (org, lines) = common::lines(data);
    let parser = common::parser(org);
    let sets: [&[Scheme]; 4] = [
        &[],
        &[Scheme::Storage],
        &[Scheme::File, Scheme::Storage],
        &[Scheme::File],
    ];
    for line in &lines {
        for allowed in sets {
            let Ok(url) = parser.str_to_uri(line, allowed) else {
                continue;
            };
            let _ = parser.short_uri(&url);
            if let Ok(again) = parser.normalize_uri(&url, allowed) {
                let _ = parser.uri_to_str(&again);
            }
            if let Ok(path) = parser.uri_to_path(&url) {
                let _ = parser.path_to_uri(&path);
            }
        }
        if let Ok(url) = url::Url::parse(line) {
            let _ = parser.normalize_uri(&url, &[]);
        }
    }
});
