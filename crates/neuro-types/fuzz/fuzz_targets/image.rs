//! `Parser::remote_image` (every tag option) and `Parser::local_image`: never
//! panic, and a parsed image prints as a Docker reference.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neuro_types::image::TagOption;

mod common;

fuzz_target!(|data: &[u8]| {
    let (org, lines) = common::lines(data);
    let parser = common::parser(org);
    for line in &lines {
        for tag in [TagOption::Default, TagOption::Allow, TagOption::Deny] {
            if let Ok(image) = parser.remote_image(line, tag) {
                let _ = image.as_docker_url(true);
            }
        }
        if let Ok(local) = parser.local_image(line) {
            assert!(!local.name.is_empty());
        }
    }
});
