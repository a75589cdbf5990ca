//! `Parser::volume` and `Parser::volumes`: never panic; what parses has the
//! expected scheme and an absolute container path.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let (org, lines) = common::lines(data);
    let parser = common::parser(org);
    for line in &lines {
        if let Ok(v) = parser.volume(line) {
            assert_eq!(v.storage_uri.scheme(), "storage");
            assert!(v.container_path.starts_with('/'));
        }
    }
    if let Ok(all) = parser.volumes(&lines) {
        assert!(all.secret_files.iter().all(|s| s.secret_uri.scheme() == "secret"));
        assert!(all.disk_volumes.iter().all(|d| d.disk_uri.scheme() == "disk"));
    }
});
