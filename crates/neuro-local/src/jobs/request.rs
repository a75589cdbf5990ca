//! Validating the two bodies of `POST /api/v1/jobs` into a [`JobSpec`].
//!
//! The rules and messages follow platform-api's validators: the cluster must be
//! this platform's (403 otherwise), an org is refused (403), then every field is
//! checked (400).

use std::str::FromStr;

use neuro_types::jobs::{JobPriority, JobRestartPolicy};
use neuro_types::wire::{
    ContainerPayload, ContainerSpec, JobRunRequest, JobStartRequest, PresetPayload,
    ResourcesPayload,
};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::settings::Settings;

use super::model::{JobSpec, MIB};

/// Longest accepted life span, in minutes (about 1900 years).
pub const MAX_LIFE_SPAN_MINUTES: i64 = 1_000_000_000;

/// Name of the environment variable carrying a passed config.
pub const PASSED_CONFIG_ENV: &str = "NEURO_PASSED_CONFIG";

/// A validated submission.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// The job.
    pub spec: JobSpec,
    /// Life span in minutes; `None` (or 0 in the request) is unlimited.
    pub max_run_time_minutes: Option<i64>,
}

/// Parses and validates a request body; `from_preset` selects the flat preset
/// form (`POST jobs?from_preset`) over the run form.
///
/// A preset request is first resolved into the run form it stands for (the
/// preset's resources and flags), so both forms are validated by one path.
pub fn parse_submission(
    body: &[u8],
    from_preset: bool,
    settings: &Settings,
) -> Result<Submission, ApiError> {
    let mut value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))?;
    let obj = value
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("The request body must be a JSON object"))?;
    check_cluster_and_org(obj, settings)?;
    let scheduler_enabled = flag(obj, &["scheduler_enabled", "is_preemptible"])?;
    let preemptible_node = flag(obj, &["preemptible_node", "is_preemptible_node_required"])?;
    let invalid = |e: serde_json::Error| ApiError::bad_request(format!("Invalid job request: {e}"));
    if from_preset {
        let preset = pick_preset(obj, settings)?;
        let req: JobStartRequest = serde_json::from_value(value).map_err(invalid)?;
        let req = run_form(req, preset, scheduler_enabled);
        build(
            req,
            Some(preset.name.clone()),
            preset.preemptible_node || preemptible_node,
            preset.credits_per_hour,
        )
    } else {
        let mut req: JobRunRequest = serde_json::from_value(value).map_err(invalid)?;
        check_resources(&req.container.resources)?;
        let price = price_for_resources(&req.container.resources, &settings.presets);
        req.container.resources.memory_mb = None;
        req.scheduler_enabled |= scheduler_enabled;
        build(req, None, preemptible_node, price)
    }
}

/// The run form of a preset request: the same job fields and container, with the
/// preset's resources (plus the asked `/dev/shm`) and scheduler flag.
fn run_form(
    req: JobStartRequest,
    preset: &PresetPayload,
    scheduler_enabled: bool,
) -> JobRunRequest {
    let gpu = preset.gpu.filter(|g| *g > 0);
    let resources = ResourcesPayload {
        memory: preset.memory,
        cpu: preset.cpu,
        shm: req.resources.as_ref().is_some_and(|r| r.shm),
        gpu,
        gpu_model: gpu.and(preset.gpu_model.clone()),
        tpu: preset.tpu.clone(),
        memory_mb: None,
    };
    JobRunRequest {
        job: req.job,
        container: ContainerPayload {
            spec: req.container,
            resources,
        },
        scheduler_enabled: preset.scheduler_enabled || scheduler_enabled,
    }
}

/// A missing or null `cluster_name` means this platform's cluster; any other
/// cluster or any org is refused with 403, as the platform refuses clusters and
/// orgs the user has no access to.
fn check_cluster_and_org(
    obj: &mut Map<String, Value>,
    settings: &Settings,
) -> Result<(), ApiError> {
    match obj.get("cluster_name") {
        None | Some(Value::Null) => {
            obj.insert(
                "cluster_name".to_owned(),
                Value::String(settings.cluster_name.clone()),
            );
        }
        Some(Value::String(name)) if *name == settings.cluster_name => {}
        Some(Value::String(_)) => {
            return Err(ApiError::forbidden(
                "User is not allowed to submit jobs to the specified cluster",
            ))
        }
        Some(_) => return Err(ApiError::bad_request("cluster_name must be a string")),
    }
    match obj.get("org_name") {
        None | Some(Value::Null) => {
            obj.remove("org_name");
            Ok(())
        }
        Some(Value::String(org)) if org.is_empty() => {
            obj.remove("org_name");
            Ok(())
        }
        Some(_) => Err(ApiError::forbidden(
            "User is not allowed to submit jobs to the specified cluster as a member of \
             given organization",
        )),
    }
}

/// The first present key of `keys`, as a bool (absent: false).
fn flag(obj: &Map<String, Value>, keys: &[&str]) -> Result<bool, ApiError> {
    for key in keys {
        match obj.get(*key) {
            None | Some(Value::Null) => continue,
            Some(Value::Bool(b)) => return Ok(*b),
            Some(_) => return Err(ApiError::bad_request(format!("{key} must be a boolean"))),
        }
    }
    Ok(false)
}

/// The preset named in the body (the first preset when none is named), after
/// checking that the body does not also give resources.
fn pick_preset<'s>(
    obj: &mut Map<String, Value>,
    settings: &'s Settings,
) -> Result<&'s PresetPayload, ApiError> {
    if let Some(resources) = obj.get("resources") {
        let only_shm = match resources {
            Value::Null => true,
            Value::Object(map) => map.keys().all(|k| k == "shm"),
            _ => false,
        };
        if !only_shm {
            return Err(ApiError::bad_request(
                "Both preset and resources are not allowed",
            ));
        }
        if resources.is_null() {
            obj.remove("resources");
        }
    }
    let first = settings
        .presets
        .first()
        .ok_or_else(|| ApiError::bad_request("At least one preset is required to run a job"))?;
    let preset = match obj.get("preset_name") {
        None | Some(Value::Null) => first,
        Some(Value::String(name)) if name.is_empty() => first,
        Some(Value::String(name)) => settings
            .preset(name)
            .ok_or_else(|| ApiError::bad_request(format!("Preset '{name}' was not found")))?,
        Some(_) => return Err(ApiError::bad_request("preset_name must be a string")),
    };
    obj.insert("preset_name".to_owned(), Value::String(preset.name.clone()));
    Ok(preset)
}

fn check_resources(r: &ResourcesPayload) -> Result<(), ApiError> {
    if !(r.cpu.is_finite() && r.cpu >= 0.1) {
        return Err(ApiError::bad_request(format!(
            "resources.cpu must be at least 0.1, got {}",
            r.cpu
        )));
    }
    if r.memory < 16 * MIB {
        return Err(ApiError::bad_request(format!(
            "resources.memory must be at least 16 MiB ({} bytes), got {}",
            16 * MIB,
            r.memory
        )));
    }
    Ok(())
}

/// Price of a job with explicit resources, as the platform computes it: the
/// cheapest preset the resources fit into, else the most expensive preset.
fn price_for_resources(r: &ResourcesPayload, presets: &[PresetPayload]) -> Decimal {
    let max = presets
        .iter()
        .map(|p| p.credits_per_hour)
        .max()
        .unwrap_or(Decimal::ZERO);
    presets
        .iter()
        .filter(|p| {
            r.cpu <= p.cpu
                && r.memory <= p.memory
                && r.gpu.unwrap_or(0) <= p.gpu.unwrap_or(0)
                && (r.gpu.unwrap_or(0) == 0 || r.gpu_model.is_none() || r.gpu_model == p.gpu_model)
                && (r.tpu.is_none() || r.tpu == p.tpu)
        })
        .map(|p| p.credits_per_hour)
        .min()
        .unwrap_or(max)
}

/// Validates a run-form request (a preset request arrives here resolved by
/// [`run_form`]); the org was checked already and is never kept.
fn build(
    req: JobRunRequest,
    preset_name: Option<String>,
    preemptible_node: bool,
    price_credits_per_hour: Decimal,
) -> Result<Submission, ApiError> {
    let JobRunRequest {
        job,
        container,
        scheduler_enabled,
    } = req;
    if let Some(name) = &job.name {
        check_job_name(name)?;
    }
    let tags = check_tags(job.tags)?;
    if let Some(timeout) = job.schedule_timeout {
        if !(timeout.is_finite() && (1.0..30.0 * 24.0 * 3600.0).contains(&timeout)) {
            return Err(ApiError::bad_request(
                "schedule_timeout must be at least 1 second and less than 30 days",
            ));
        }
        if scheduler_enabled {
            return Err(ApiError::bad_request(
                "schedule_timeout is not allowed for scheduled jobs",
            ));
        }
    }
    let max_run_time_minutes = match job.max_run_time_minutes {
        Some(m) if m < 0 => {
            return Err(ApiError::bad_request(
                "max_run_time_minutes must not be negative",
            ))
        }
        Some(m) if m > MAX_LIFE_SPAN_MINUTES => {
            return Err(ApiError::bad_request(format!(
                "max_run_time_minutes must be at most {MAX_LIFE_SPAN_MINUTES}"
            )))
        }
        Some(0) | None => None,
        Some(m) => Some(m),
    };
    let restart_policy: JobRestartPolicy = choice(
        "restart_policy",
        "never, on-failure, always",
        job.restart_policy.as_deref(),
    )?;
    let priority: JobPriority = choice("priority", "low, normal, high", job.priority.as_deref())?;
    check_container(&container.spec, job.pass_config)?;
    Ok(Submission {
        spec: JobSpec {
            container: container.spec,
            resources: container.resources,
            name: job.name,
            tags,
            description: job.description,
            schedule_timeout: job.schedule_timeout,
            restart_policy,
            priority,
            privileged: job.privileged,
            pass_config: job.pass_config,
            wait_for_jobs_quota: job.wait_for_jobs_quota,
            scheduler_enabled,
            preemptible_node,
            preset_name,
            org_name: None,
            price_credits_per_hour,
        },
        max_run_time_minutes,
    })
}

/// An optional enumerated field read with the shared model's `FromStr`: absent is
/// the default, an unknown spelling a 400 listing the `choices`.
fn choice<T: FromStr + Default>(
    key: &str,
    choices: &str,
    value: Option<&str>,
) -> Result<T, ApiError> {
    value.map_or(Ok(T::default()), |v| {
        v.parse().map_err(|_| {
            ApiError::bad_request(format!("{key} must be one of {choices}; got '{v}'"))
        })
    })
}

/// `^[a-z](?:-?[a-z0-9])*$`, 3 to 40 characters, not starting with `job-`.
pub fn check_job_name(name: &str) -> Result<(), ApiError> {
    if !is_valid_job_name(name) {
        return Err(ApiError::bad_request(format!(
            "Invalid job name '{name}': a name must be 3 to 40 characters of lower-case \
             letters, digits and single hyphens, start with a letter and not end with a hyphen"
        )));
    }
    if name.starts_with("job-") {
        return Err(ApiError::bad_request(
            "Failed to create job: job name cannot start with 'job-' prefix.",
        ));
    }
    Ok(())
}

/// Whether `name` matches `^[a-z](?:-?[a-z0-9])*$` and has 3 to 40 characters.
pub fn is_valid_job_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if !(3..=40).contains(&bytes.len()) || !bytes[0].is_ascii_lowercase() {
        return false;
    }
    let mut prev_hyphen = false;
    for &b in &bytes[1..] {
        match b {
            b'-' if prev_hyphen => return false,
            b'-' => prev_hyphen = true,
            b'a'..=b'z' | b'0'..=b'9' => prev_hyphen = false,
            _ => return false,
        }
    }
    !prev_hyphen
}

/// At most 16 tags of 1 to 256 non-whitespace characters; sorted and deduplicated.
fn check_tags(mut tags: Vec<String>) -> Result<Vec<String>, ApiError> {
    if tags.len() > 16 {
        return Err(ApiError::bad_request("A job can have at most 16 tags"));
    }
    for tag in &tags {
        if tag.is_empty() || tag.chars().count() > 256 || tag.chars().any(char::is_whitespace) {
            return Err(ApiError::bad_request(format!(
                "Invalid tag '{tag}': a tag is 1 to 256 characters without whitespace"
            )));
        }
    }
    tags.sort();
    tags.dedup();
    Ok(tags)
}

fn check_container(c: &ContainerSpec, pass_config: bool) -> Result<(), ApiError> {
    if c.image.trim().is_empty() {
        return Err(ApiError::bad_request("image is required"));
    }
    for (key, value) in [("entrypoint", &c.entrypoint), ("command", &c.command)] {
        if let Some(value) = value {
            if !is_valid_shell_words(value) {
                return Err(ApiError::bad_request(format!("invalid {key} format")));
            }
        }
    }
    if let Some(dir) = &c.working_dir {
        if !dir.starts_with('/') {
            return Err(ApiError::bad_request(format!(
                "working_dir must be an absolute path, got '{dir}'"
            )));
        }
    }
    if let Some(http) = &c.http {
        if !(0..=65535).contains(&http.port) {
            return Err(ApiError::bad_request(format!(
                "http.port must be between 0 and 65535, got {}",
                http.port
            )));
        }
    }
    if c.env
        .keys()
        .any(|k| k.is_empty() || k.contains('=') || k.contains('\0'))
    {
        return Err(ApiError::bad_request("Invalid environment variable name"));
    }
    if pass_config && c.env.contains_key(PASSED_CONFIG_ENV) {
        return Err(ApiError::bad_request(format!(
            "Cannot pass config: ENV '{PASSED_CONFIG_ENV}' already specified"
        )));
    }
    let mut dst_paths = Vec::new();
    for v in &c.volumes {
        check_uri("storage", &v.src_storage_uri)?;
        dst_paths.push(&v.dst_path);
    }
    for v in &c.secret_volumes {
        check_uri("secret", &v.src_secret_uri)?;
        dst_paths.push(&v.dst_path);
    }
    for v in &c.disk_volumes {
        check_uri("disk", &v.src_disk_uri)?;
        dst_paths.push(&v.dst_path);
    }
    for uri in c.secret_env.values() {
        check_uri("secret", uri)?;
    }
    for (i, path) in dst_paths.iter().enumerate() {
        if !path.starts_with('/') || path.split('/').any(|p| p == "..") {
            return Err(ApiError::bad_request(format!(
                "Mount path must be absolute: '{path}'"
            )));
        }
        if dst_paths[..i].contains(path) {
            return Err(ApiError::bad_request(format!(
                "destination path '{path}' was encountered multiple times"
            )));
        }
    }
    Ok(())
}

/// `<scheme>://<cluster>/...` without `..`, `?` or `#`.
fn check_uri(scheme: &str, uri: &str) -> Result<(), ApiError> {
    let Some((s, rest)) = uri.split_once("://") else {
        return Err(ApiError::bad_request(format!("Invalid URI: '{uri}'")));
    };
    if s != scheme {
        return Err(ApiError::bad_request(format!(
            "Invalid URI scheme: '{s}' != '{scheme}'"
        )));
    }
    if uri.contains('#') || uri.contains('?') {
        return Err(ApiError::bad_request(format!(
            "Query and fragment are not allowed in URI: '{uri}'"
        )));
    }
    if rest.split('/').any(|p| p == "..") {
        return Err(ApiError::bad_request(format!("Invalid path: '{uri}'")));
    }
    Ok(())
}

/// Whether Python's `shlex.split` (POSIX mode) accepts `text`: quotes are closed
/// and no backslash ends the text.
pub fn is_valid_shell_words(text: &str) -> bool {
    #[derive(PartialEq)]
    enum Mode {
        Plain,
        Single,
        Double,
    }
    let mut mode = Mode::Plain;
    let mut chars = text.chars();
    while let Some(ch) = chars.next() {
        match (&mode, ch) {
            // A backslash escapes the next character, so one at the very end is
            // an error (the guard consumes the escaped character).
            (Mode::Plain | Mode::Double, '\\') if chars.next().is_none() => return false,
            (Mode::Plain, '\'') => mode = Mode::Single,
            (Mode::Plain, '"') => mode = Mode::Double,
            (Mode::Single, '\'') | (Mode::Double, '"') => mode = Mode::Plain,
            _ => {}
        }
    }
    mode == Mode::Plain
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::PathBuf;

    use http::StatusCode;
    use serde_json::json;

    use super::*;

    fn settings() -> Settings {
        Settings::new(
            PathBuf::from("/tmp/x"),
            url::Url::parse("http://127.0.0.1:8080").unwrap(),
        )
    }

    fn run(body: Value) -> Result<Submission, ApiError> {
        parse_submission(body.to_string().as_bytes(), false, &settings())
    }

    fn start(body: Value) -> Result<Submission, ApiError> {
        parse_submission(body.to_string().as_bytes(), true, &settings())
    }

    fn run_body() -> Value {
        json!({"pass_config": false, "cluster_name": "default",
               "container": {"image": "ubuntu:latest", "command": "echo hi",
                             "resources": {"memory": 268435456, "cpu": 0.5, "shm": true}},
               "scheduler_enabled": false})
    }

    #[test]
    fn run_form() {
        let mut body = run_body();
        body["tags"] = json!(["b", "a", "b"]);
        body["name"] = json!("my-job");
        body["max_run_time_minutes"] = json!(5);
        body["restart_policy"] = json!("on-failure");
        body["priority"] = json!("high");
        let s = run(body).unwrap();
        assert_eq!(s.spec.tags, ["a", "b"]);
        assert_eq!(s.spec.name.as_deref(), Some("my-job"));
        assert_eq!(s.max_run_time_minutes, Some(5));
        assert_eq!(s.spec.restart_policy, JobRestartPolicy::OnFailure);
        assert_eq!(s.spec.priority, JobPriority::High);
        assert_eq!(s.spec.resources.cpu, 0.5);
        assert_eq!(s.spec.preset_name, None);
        // Fits cpu-small on any machine with more than one core... or the
        // cheapest preset it fits; never more than the priciest.
        assert!(s.spec.price_credits_per_hour <= Decimal::ONE);
    }

    #[test]
    fn preset_form() {
        let s = start(json!({"pass_config": false, "preset_name": "cpu-small",
                             "cluster_name": "default", "image": "ubuntu:latest",
                             "command": "sleep 1", "resources": {"shm": true},
                             "max_run_time_minutes": 0}))
        .unwrap();
        let preset = settings().preset("cpu-small").cloned().unwrap();
        assert_eq!(s.spec.preset_name.as_deref(), Some("cpu-small"));
        assert_eq!(s.spec.resources.cpu, preset.cpu);
        assert_eq!(s.spec.resources.memory, preset.memory);
        assert!(s.spec.resources.shm);
        assert_eq!(s.spec.price_credits_per_hour, preset.credits_per_hour);
        assert_eq!(s.max_run_time_minutes, None);
        assert_eq!(s.spec.container.command.as_deref(), Some("sleep 1"));
    }

    #[test]
    fn preset_errors() {
        let e = start(json!({"preset_name": "gpu-huge", "image": "x"})).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let e = start(json!({"preset_name": "cpu-small", "image": "x",
                             "resources": {"cpu": 1, "memory": 1}}))
        .unwrap_err();
        assert_eq!(e.body.error, "Both preset and resources are not allowed");
        // No preset named: the first one.
        let s = start(json!({"image": "x"})).unwrap();
        assert_eq!(s.spec.preset_name.as_deref(), Some("cpu-small"));
    }

    #[test]
    fn cluster_and_org() {
        let mut body = run_body();
        body["cluster_name"] = json!("other");
        assert_eq!(run(body).unwrap_err().status, StatusCode::FORBIDDEN);
        let mut body = run_body();
        body["org_name"] = json!("myorg");
        assert_eq!(run(body).unwrap_err().status, StatusCode::FORBIDDEN);
        let mut body = run_body();
        body.as_object_mut().unwrap().remove("cluster_name");
        assert!(run(body).is_ok());
    }

    #[test]
    fn field_errors() {
        let cases: Vec<(&str, Value)> = vec![
            ("name", json!("ab")),
            ("name", json!("Bad-Name")),
            ("name", json!("job-abc")),
            ("name", json!("trailing-")),
            ("tags", json!(["has space"])),
            ("schedule_timeout", json!(0.5)),
            ("max_run_time_minutes", json!(-1)),
            ("restart_policy", json!("sometimes")),
            ("restart_policy", json!("Never")),
            ("priority", json!("urgent")),
        ];
        for (key, value) in cases {
            let mut body = run_body();
            body[key] = value.clone();
            let e = run(body).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{key}={value}");
        }
        let mut body = run_body();
        body["priority"] = json!("urgent");
        assert_eq!(
            run(body).unwrap_err().body.error,
            "priority must be one of low, normal, high; got 'urgent'"
        );
        let mut body = run_body();
        body["restart_policy"] = json!("sometimes");
        assert_eq!(
            run(body).unwrap_err().body.error,
            "restart_policy must be one of never, on-failure, always; got 'sometimes'"
        );
        // Priorities are case-insensitive, as in the SDK; absent fields are defaults.
        let mut body = run_body();
        body["priority"] = json!("LOW");
        let s = run(body).unwrap();
        assert_eq!(s.spec.priority, JobPriority::Low);
        assert_eq!(s.spec.restart_policy, JobRestartPolicy::Never);
        let container_cases: Vec<(&str, Value)> = vec![
            ("image", json!("")),
            ("command", json!("echo 'unclosed")),
            ("working_dir", json!("relative")),
            (
                "volumes",
                json!([{"src_storage_uri": "disk://default/u/d", "dst_path": "/d"}]),
            ),
        ];
        for (key, value) in container_cases {
            let mut body = run_body();
            body["container"][key] = value.clone();
            assert!(run(body).is_err(), "{key}={value}");
        }
        let mut body = run_body();
        body["container"]["resources"]["cpu"] = json!(0.01);
        assert!(run(body).is_err());
        let mut body = run_body();
        body["pass_config"] = json!(true);
        body["container"]["env"] = json!({"NEURO_PASSED_CONFIG": "x"});
        assert!(run(body).is_err());
        assert!(parse_submission(b"not json", false, &settings()).is_err());
        assert!(parse_submission(b"[]", false, &settings()).is_err());
    }

    #[test]
    fn job_names() {
        for ok in ["abc", "my-job-1", "a1b2c3", &"a".repeat(40)] {
            assert!(is_valid_job_name(ok), "{ok}");
        }
        for bad in ["ab", "1abc", "a--b", "abc-", "ABC", "a_b", &"a".repeat(41)] {
            assert!(!is_valid_job_name(bad), "{bad}");
        }
    }

    #[test]
    fn shell_words() {
        assert!(is_valid_shell_words("sh -c 'echo hi; exit 3'"));
        assert!(is_valid_shell_words(r#"echo "a \" b" c\ d"#));
        assert!(!is_valid_shell_words("echo 'x"));
        assert!(!is_valid_shell_words("echo \"x"));
        assert!(!is_valid_shell_words("echo x\\"));
    }
}
