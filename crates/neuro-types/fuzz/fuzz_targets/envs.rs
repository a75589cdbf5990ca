//! `Parser::envs_from`: the input is both an env file and a list of `NAME=value`
//! arguments; never panics, and no parsed name is empty.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let (org, lines) = common::lines(data);
    let parser = common::parser(org);
    let file = lines.join("\n");
    if let Ok(result) = parser.envs_from(&lines, &[file], |name| Some(name.to_owned())) {
        assert!(result.env.keys().chain(result.secret_env.keys()).all(|k| !k.is_empty()));
    }
});
