"""Replays the request/response pairs recorded from the real platform servers
(`transcripts/*.json`, copied from the shared docs) against neuro-local and
checks that it answers the same way: status, content type, the protocol
headers, and the body's shape (keys and value types, recursively; plain-text
and byte bodies exactly, since the replay recreates the recorded state).

Each transcript file is replayed in order, once, as a fresh user standing in
for `alice` (and another for `bob`); each entry is then its own test. Entries
of services neuro-local does not serve yet are strict xfails, so they turn
into failures (forcing an update of `NOT_SERVED`) once the service lands.
"""

import base64
import http.client
import json
import os
import re
import urllib.parse
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

from conftest import LocalPlatform, _user_name, push_test_image

TRANSCRIPTS = Path(
    os.environ.get("NEURO_TRANSCRIPTS_DIR", Path(__file__).parent / "transcripts")
)

# Services neuro-local does not serve yet, by transcript file prefix. Remove the
# entry when the service lands (its entries then XPASS, which fails the suite).
NOT_SERVED: Dict[str, str] = {}

# Single entries where neuro-local knowingly answers differently, by
# (service, entry name) -> reason; strict xfails like NOT_SERVED. Empty: every
# served entry matches.
KNOWN_DIFFERENCES: Dict[Tuple[str, str], str] = {}

# Headers every server sets its own way; all other recorded headers are part of
# the protocol and must be present in neuro-local's answer.
GENERIC_HEADERS = {
    "server",
    "date",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "x-service-version",
    "keep-alive",
}

# Protocol headers whose value follows from the request and the replayed state
# alone, so it must be the recorded one (not just present).
EXACT_HEADERS = {
    "accept-range",
    "content-range",
    "x-file-type",
    "x-file-length",
    "x-file-permission",
    "www-authenticate",
    "docker-distribution-api-version",
}


def _load() -> List[Tuple[str, Dict[str, Any]]]:
    out = []
    for path in sorted(TRANSCRIPTS.glob("*.json")):
        service = re.sub(r"-\d+(\.\d+)*$", "", path.stem)
        for entry in json.loads(path.read_text()):
            out.append((service, entry))
    return out


ENTRIES = _load()


class Answer:
    """One response of neuro-local."""

    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body


class Replayer:
    """Replays one service's transcript as fresh users on `platform`."""

    def __init__(self, platform: LocalPlatform, service: str) -> None:
        self.platform = platform
        self.users = {
            "alice": _user_name(f"tr-{service}-alice"),
            "bob": _user_name(f"tr-{service}-bob"),
        }
        self.tokens = {name: platform.token(u) for name, u in self.users.items()}
        self.bases = self._service_bases()

    def _service_bases(self) -> Dict[str, str]:
        """Recorded path prefix -> neuro-local's advertised URL for it."""
        answer = self.send("GET", "/api/v1/config", {}, None, "alice")
        cluster = json.loads(answer.body)["clusters"][0]
        return {
            "/api/v1/storage": cluster["storage_url"].rstrip("/"),
            "/api/v1/secrets": cluster["secrets_url"].rstrip("/"),
            "/v2": cluster["registry_url"].rstrip("/") + "/v2",
        }

    def _url(self, recorded_path: str) -> Tuple[str, str]:
        """Host and raw path (users substituted, never re-normalised)."""
        path = recorded_path
        for name, user in self.users.items():
            path = re.sub(rf"(?<=/){name}(?=/|\?|&|$)", user, path)
        base = self.platform.url
        for prefix, url in getattr(self, "bases", {}).items():
            if path == prefix or path.startswith(prefix + "/") or path.startswith(prefix + "?"):
                base, path = url, url + path[len(prefix):]
                break
        else:
            path = base + path
        parts = urllib.parse.urlsplit(base)
        raw = path[len(f"{parts.scheme}://{parts.netloc}"):]
        return parts.netloc, raw

    def send(
        self,
        method: str,
        path: str,
        headers: Dict[str, str],
        body: Optional[bytes],
        auth_as: Optional[str],
        basic: bool = False,
    ) -> Answer:
        netloc, raw = self._url(path)
        conn = http.client.HTTPConnection(netloc, timeout=60)
        try:
            conn.putrequest(method, raw, skip_accept_encoding=True)
            sent = dict(headers)
            if auth_as is not None:
                token = self.tokens[auth_as]
                if basic:
                    cred = f"{self.users[auth_as]}:{token}".encode()
                    sent["Authorization"] = "Basic " + base64.b64encode(cred).decode()
                else:
                    sent["Authorization"] = f"Bearer {token}"
            if body is not None:
                sent["Content-Length"] = str(len(body))
            for k, v in sent.items():
                conn.putheader(k, v)
            conn.endheaders(body)
            resp = conn.getresponse()
            return Answer(resp.status, resp.headers, resp.read())
        finally:
            conn.close()

    def replay(self, entry: Dict[str, Any]) -> Answer:
        req = entry["request"]
        headers = {k: v for k, v in req["headers"].items() if k.lower() != "authorization"}
        auth_as, basic = _auth_of(req)
        body = req.get("body")
        return self.send(
            req["method"],
            req["path"],
            headers,
            body.encode() if isinstance(body, str) else None,
            auth_as,
            basic,
        )

    def prepare(self, service: str) -> None:
        """The state the recording started from (outside the transcript)."""
        if service == "storage-api":
            # `mkdirs_exists_as_file_parent` needs a file in the user's root;
            # `other_user_denied` needs bob's directory.
            for user, name in (("alice", "hello.txt"), ("bob", "hello.txt")):
                answer = self.send(
                    "PUT",
                    f"/api/v1/storage/{user}/{name}?op=CREATE",
                    {},
                    b"hello",
                    user,
                )
                assert answer.status == 201, answer.body
        elif service == "registry-api":
            # The recording starts from a pushed `alice/hello:v1` (the user
            # is replaced in the path as in every recorded one).
            def send(method, path, body, headers):
                return self.send(method, path, headers, body, "alice", basic=True).status

            push_test_image(send, "alice/hello", "v1", b"hello\n")
        elif service == "secrets-api":
            # `list` shows a secret made before the recording.
            body = json.dumps({"key": "alicekey", "value": "dg=="}).encode()
            self.send(
                "POST",
                "/api/v1/secrets",
                {"Content-Type": "application/json"},
                body,
                "alice",
            )


def _auth_of(req: Dict[str, Any]) -> Tuple[Optional[str], bool]:
    """Who the recorded request was authenticated as, and whether with Basic."""
    value = req["headers"].get("Authorization") or req.get("auth")
    if not value:
        return None, False
    match = re.search(r"(?:sub=|Basic )(\w+)", value)
    user = match.group(1) if match else "alice"
    return user, value.startswith("Basic")


@pytest.fixture(scope="module")
def replays(platform: LocalPlatform) -> Dict[str, Dict[str, Any]]:
    """Every transcript replayed once, in order: service -> name -> Answer or
    the exception the replay raised."""
    results: Dict[str, Dict[str, Any]] = {}
    for service in sorted({s for s, _ in ENTRIES}):
        answers: Dict[str, Any] = {}
        try:
            replayer = Replayer(platform, service)
            replayer.prepare(service)
        except Exception as e:  # reported by every entry of the service
            results[service] = {"": e}
            continue
        for s, entry in ENTRIES:
            if s != service:
                continue
            try:
                answers[entry["name"]] = replayer.replay(entry)
            except Exception as e:
                answers[entry["name"]] = e
        results[service] = answers
    return results


def _params():
    for service, entry in ENTRIES:
        marks = []
        reason = NOT_SERVED.get(service) or KNOWN_DIFFERENCES.get((service, entry["name"]))
        if reason:
            marks.append(pytest.mark.xfail(reason=reason, strict=True))
        yield pytest.param(service, entry, id=f"{service}:{entry['name']}", marks=marks)


@pytest.mark.parametrize("service,entry", list(_params()))
def test_transcript(replays, service: str, entry: Dict[str, Any]) -> None:
    answers = replays[service]
    if "" in answers:
        raise answers[""]
    answer = answers[entry["name"]]
    if isinstance(answer, Exception):
        raise answer
    problems = compare(entry["response"], answer)
    req = entry["request"]
    assert not problems, (
        f"{req['method']} {req['path']}: neuro-local differs from the recording:\n  "
        + "\n  ".join(problems)
        + f"\nneuro-local answered {answer.status} {dict(answer.headers)}\n"
        + f"body: {answer.body[:600]!r}"
    )


def compare(recorded: Dict[str, Any], answer: Answer) -> List[str]:
    """Every way `answer` differs from the recorded response."""
    problems: List[str] = []
    if answer.status != recorded["status"]:
        problems.append(f"status {answer.status}, recorded {recorded['status']}")
    rec_headers = {k.lower(): v for k, v in recorded["headers"].items()}
    rec_type = rec_headers.get("content-type")
    our_type = answer.headers.get("Content-Type")
    if _norm_type(rec_type) != _norm_type(our_type):
        problems.append(f"Content-Type {our_type!r}, recorded {rec_type!r}")
    for name in sorted(set(rec_headers) - GENERIC_HEADERS):
        ours = answer.headers.get(name)
        if ours is None:
            problems.append(f"header {name} missing (recorded {rec_headers[name]!r})")
        elif name in EXACT_HEADERS and ours != rec_headers[name]:
            problems.append(f"header {name}: {ours!r}, recorded {rec_headers[name]!r}")
    problems.extend(_body_problems(rec_type, recorded["body"], answer.body))
    return problems


def _norm_type(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    return ";".join(p.strip().lower() for p in value.split(";"))


def _body_problems(content_type: Optional[str], recorded: str, ours: bytes) -> List[str]:
    media = (content_type or "").split(";")[0].strip().lower()
    if recorded == "":
        # No body (a HEAD answer), whatever its type says.
        return [] if ours == b"" else [f"body {ours[:200]!r}, recorded none"]
    if media == "application/json" or media.endswith("+json"):
        try:
            ours_json = json.loads(ours)
        except ValueError:
            return [f"body is not JSON: {ours[:200]!r}"]
        return shape_differences(json.loads(recorded), ours_json, "body")
    if media == "application/x-ndjson":
        return _ndjson_problems(recorded, ours)
    if ours != recorded.encode():
        return [f"body {ours[:200]!r}, recorded {recorded[:200]!r}"]
    return []


def _ndjson_problems(recorded: str, ours: bytes) -> List[str]:
    text = ours.decode("utf-8", "replace")
    rec_sep = "\r\n" if "\r\n" in recorded else "\n"
    problems = []
    our_sep = "\r\n" if "\r\n" in text else "\n"
    if recorded and (our_sep != rec_sep or not text.endswith(rec_sep)):
        problems.append(f"NDJSON lines must end with {rec_sep!r}: {text[:120]!r}")
    rec_lines = [json.loads(line) for line in recorded.split(rec_sep) if line.strip()]
    our_lines = [line for line in re.split(r"\r?\n", text) if line.strip()]
    if len(our_lines) != len(rec_lines):
        problems.append(f"{len(our_lines)} NDJSON lines, recorded {len(rec_lines)}")
    for i, line in enumerate(our_lines):
        try:
            value = json.loads(line)
        except ValueError:
            problems.append(f"line {i} is not JSON: {line[:200]!r}")
            continue
        problems.extend(_match_any(rec_lines, value, f"line {i}"))
    return problems


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    return "object"


def shape_differences(recorded: Any, ours: Any, where: str) -> List[str]:
    """Where `ours` differs from `recorded` in keys or value types. A recorded
    `null` accepts any value (the field is optional); list items must each
    match the shape of some recorded item."""
    if recorded is None:
        return []
    if _kind(recorded) != _kind(ours):
        return [f"{where}: {_kind(ours)} {ours!r:.80}, recorded {_kind(recorded)}"]
    if isinstance(recorded, dict):
        problems = []
        if set(recorded) != set(ours):
            problems.append(
                f"{where}: keys {sorted(ours)}, recorded {sorted(recorded)}"
            )
        for key in set(recorded) & set(ours):
            problems.extend(shape_differences(recorded[key], ours[key], f"{where}.{key}"))
        return problems
    if isinstance(recorded, list):
        problems = []
        for i, item in enumerate(ours):
            problems.extend(_match_any(recorded, item, f"{where}[{i}]"))
        return problems
    return []


def _match_any(candidates: List[Any], value: Any, where: str) -> List[str]:
    if not candidates:
        return []
    best: Optional[List[str]] = None
    for candidate in candidates:
        problems = shape_differences(candidate, value, where)
        if not problems:
            return []
        if best is None or len(problems) < len(best):
            best = problems
    return best or []
