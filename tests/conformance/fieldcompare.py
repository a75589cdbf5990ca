"""Field-by-field comparison of an object the Python SDK read with the JSON the
Rust SDK's probe printed for the same object.

The probe keys its JSON by the Python attribute names; this module walks the
Python object (dataclasses, mappings, sequences, enums, URLs, datetimes,
decimals) and compares every field with the probe's value after normalising
both to one form. All differences are collected and reported together.
"""

import dataclasses
import enum
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Iterable, List, Mapping

from yarl import URL


def differences(
    py: Any, rust: Any, where: str = "$", ignore: Iterable[str] = ()
) -> List[str]:
    """Every difference between the Python object `py` and the probe's `rust`,
    except at the dotted paths in `ignore` (relative to the root, e.g.
    `history.run_time_seconds`)."""
    out: List[str] = []
    _compare(py, rust, where, out)
    skipped = tuple(f"{where}.{path}" for path in ignore)
    return [d for d in out if not d.split(":", 1)[0].startswith(skipped)]


def assert_same(py: Any, rust: Any, what: str, ignore: Iterable[str] = ()) -> None:
    """Fails with the list of differing fields if `py` and `rust` differ
    (outside `ignore`)."""
    diffs = differences(py, rust, what, ignore)
    assert not diffs, f"{what}: Rust and Python SDKs differ:\n  " + "\n  ".join(diffs)


def compare_properties(
    py: Any, rust: Mapping[str, Any], names: Iterable[str], what: str
) -> None:
    """`assert_same` on the named properties of a non-dataclass object."""
    diffs: List[str] = []
    for name in names:
        if name not in rust:
            diffs.append(f"{what}.{name}: missing from the probe's output")
            continue
        _compare(getattr(py, name), rust[name], f"{what}.{name}", diffs)
    assert not diffs, f"{what}: Rust and Python SDKs differ:\n  " + "\n  ".join(diffs)


def _compare(py: Any, rust: Any, where: str, out: List[str]) -> None:
    if dataclasses.is_dataclass(py) and not isinstance(py, type):
        _compare_fields(py, rust, where, out)
    elif isinstance(py, enum.Enum):
        _compare_enum(py, rust, where, out)
    elif isinstance(py, URL):
        if not isinstance(rust, str) or not _same_url(py, rust):
            out.append(f"{where}: python {str(py)!r} != rust {rust!r}")
    elif isinstance(py, datetime):
        _compare_datetime(py, rust, where, out)
    elif isinstance(py, Decimal):
        try:
            same = isinstance(rust, (str, int, float)) and Decimal(str(rust)) == py
        except ArithmeticError:
            same = False
        if not same:
            out.append(f"{where}: python {py} != rust {rust!r}")
    elif isinstance(py, Mapping):
        _compare_mapping(py, rust, where, out)
    elif isinstance(py, (list, tuple)):
        if not isinstance(rust, list) or len(py) != len(rust):
            out.append(f"{where}: python {_short(py)} != rust {_short(rust)}")
            return
        for i, (p, r) in enumerate(zip(py, rust)):
            _compare(p, r, f"{where}[{i}]", out)
    elif isinstance(py, bool) or py is None or isinstance(py, str):
        if py != rust or type(py) is not type(rust):
            out.append(f"{where}: python {py!r} != rust {rust!r}")
    elif isinstance(py, (int, float)):
        if isinstance(rust, bool) or not isinstance(rust, (int, float)) or py != rust:
            out.append(f"{where}: python {py!r} != rust {rust!r}")
    else:
        out.append(f"{where}: cannot compare a {type(py).__name__} ({py!r})")


def _compare_fields(py: Any, rust: Any, where: str, out: List[str]) -> None:
    if not isinstance(rust, dict):
        out.append(f"{where}: python {type(py).__name__} != rust {_short(rust)}")
        return
    names = [f.name for f in dataclasses.fields(py)]
    for extra in sorted(set(rust) - set(names)):
        out.append(f"{where}.{extra}: only the Rust SDK has this field")
    for name in names:
        if name not in rust:
            out.append(f"{where}.{name}: the Rust SDK does not have this field")
            continue
        _compare(getattr(py, name), rust[name], f"{where}.{name}", out)


def _compare_mapping(py: Mapping, rust: Any, where: str, out: List[str]) -> None:
    if not isinstance(rust, dict):
        out.append(f"{where}: python {_short(dict(py))} != rust {_short(rust)}")
        return
    py_keys = {str(k) for k in py}
    if py_keys != set(rust):
        out.append(
            f"{where}: keys differ: python only {sorted(py_keys - set(rust))}, "
            f"rust only {sorted(set(rust) - py_keys)}"
        )
    for key, value in py.items():
        if str(key) in rust:
            _compare(value, rust[str(key)], f"{where}[{key!r}]", out)


def _compare_enum(py: enum.Enum, rust: Any, where: str, out: List[str]) -> None:
    # String enums (JobStatus, FileStatusType, Action, JobRestartPolicy) by
    # value; integer enums (JobPriority) by lower-case name.
    expected = py.value if isinstance(py.value, str) else py.name.lower()
    if expected != rust:
        out.append(f"{where}: python {expected!r} != rust {rust!r}")


def _compare_datetime(py: datetime, rust: Any, where: str, out: List[str]) -> None:
    try:
        parsed = datetime.fromisoformat(str(rust).replace("Z", "+00:00"))
    except ValueError:
        out.append(f"{where}: python {py.isoformat()} != rust {rust!r} (not a datetime)")
        return
    if py.tzinfo is None:
        out.append(f"{where}: python datetime {py.isoformat()} has no time zone")
        return
    if parsed.astimezone(timezone.utc) != py.astimezone(timezone.utc):
        out.append(f"{where}: python {py.isoformat()} != rust {rust!r}")


def _same_url(py: URL, rust: str) -> bool:
    if str(py) == rust:
        return True
    # The url crate writes an empty path of a hierarchical URL as "/"; yarl
    # leaves it empty. Both mean the same resource.
    other = URL(rust)
    return (
        py.scheme == other.scheme
        and py.host == other.host
        and py.port == other.port
        and (py.path or "/") == (other.path or "/")
        and py.query == other.query
        and py.fragment == other.fragment
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def as_plain(value: Any) -> Any:
    """A JSON-like view of a Python SDK object (for messages and snapshots)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: as_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value if isinstance(value.value, str) else value.name.lower()
    if isinstance(value, (URL, Decimal)):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): as_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_plain(v) for v in value]
    return value

