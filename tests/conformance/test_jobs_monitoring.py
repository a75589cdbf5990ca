"""The monitoring service through the real SDK and CLI: logs, telemetry,
exec, attach, port forwarding, signals and capacity."""

import asyncio
import socket
import subprocess
import time
from datetime import datetime

import pytest

from conftest import VENV_BIN, Cli, with_sdk

ECHO_SERVER = """python3 -c '
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(50)
print("listening", flush=True)
def echo(c):
    with c:
        while True:
            data = c.recv(65536)
            if not data:
                return
            c.sendall(data)
while True:
    c, _ = s.accept()
    threading.Thread(target=echo, args=(c,), daemon=True).start()
' """


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _start(client, command: str, *, tty: bool = False):
    from neuro_sdk import Container, RemoteImage, Resources

    _ = (Container, Resources)
    return await client.jobs.start(
        image=RemoteImage.new_external_image(name="ubuntu", tag="latest"),
        preset_name="cpu-small",
        command=command,
        tty=tty,
    )


async def _wait(client, job_id: str, pred):
    for _ in range(600):
        job = await client.jobs.status(job_id)
        if pred(job):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"{job_id} stayed {job.status}")


async def _running(client, command: str, *, tty: bool = False):
    job = await _start(client, command, tty=tty)
    return await _wait(client, job.id, lambda j: j.status.is_running)


async def _read_until(stream, needle: bytes) -> bytes:
    seen = b""
    while needle not in seen:
        msg = await asyncio.wait_for(stream.read_out(), 60)
        assert msg is not None, seen
        seen += msg.data
    return seen


async def _exit_code(stream) -> int:
    from neuro_sdk import StdStreamError

    try:
        while True:
            msg = await asyncio.wait_for(stream.read_out(), 60)
            assert msg is not None, "closed without an exit code"
    except StdStreamError as e:
        return e.exit_code


def test_sdk_monitor_live_logs_timestamps_and_since(cli: Cli) -> None:
    async def body(client):
        job = await _start(
            client, "sh -c 'seq 1 20000; sleep 1.2; echo later'"
        )
        data = b""
        async with client.jobs.monitor(job.id) as it:
            async for chunk in it:
                data += chunk
        lines = data.decode().splitlines()
        assert lines[:-1] == [str(i) for i in range(1, 20001)]
        assert lines[-1] == "later"

        stamped = b""
        async with client.jobs.monitor(job.id, timestamps=True) as it:
            async for chunk in it:
                stamped += chunk
        last = stamped.decode().splitlines()[-1]
        stamp, text = last.split(" ", 1)
        assert text == "later"
        when = datetime.fromisoformat(stamp[:26] + "+00:00")

        since = b""
        async with client.jobs.monitor(job.id, since=when) as it:
            async for chunk in it:
                since += chunk
        assert since == b"later\n"
        return True

    assert with_sdk(cli, body)


def test_sdk_exec_streams_and_exit_codes(cli: Cli) -> None:
    async def body(client):
        job = await _running(client, "sleep 300")
        async with client.jobs.exec(
            job.id,
            "sh -c 'echo out; echo err >&2; exit 3'",
            stdout=True,
            stderr=True,
        ) as stream:
            out = {1: b"", 2: b""}
            from neuro_sdk import StdStreamError

            try:
                while True:
                    msg = await asyncio.wait_for(stream.read_out(), 60)
                    assert msg is not None
                    out[msg.fileno] += msg.data
            except StdStreamError as e:
                assert e.exit_code == 3
            assert out == {1: b"out\n", 2: b"err\n"}

        async with client.jobs.exec(
            job.id, "cat", tty=True, stdin=True, stdout=True
        ) as stream:
            await stream.write_in(b"typed\n")
            await _read_until(stream, b"typed\r\ntyped\r\n")
            await stream.write_in(b"\x04")
            assert await _exit_code(stream) == 0

        await client.jobs.send_signal(job.id)
        done = await _wait(client, job.id, lambda j: j.status.is_finished)
        assert done.history.exit_code == 137
        return True

    assert with_sdk(cli, body)


def test_sdk_attach_to_a_tty_job_and_resize(cli: Cli) -> None:
    async def body(client):
        job = await _running(client, "sh", tty=True)
        async with client.jobs.attach(
            job.id, tty=True, stdin=True, stdout=True
        ) as stream:
            await stream.resize(33, 101)
            await stream.write_in(b"stty size\n")
            await _read_until(stream, b"33 101")
            await stream.write_in(b"exit 4\n")
            assert await _exit_code(stream) == 4
        done = await _wait(client, job.id, lambda j: j.status.is_finished)
        assert done.history.exit_code == 4
        return True

    assert with_sdk(cli, body)


def test_sdk_attach_without_a_terminal_feeds_stdin_and_splits_streams(
    cli: Cli,
) -> None:
    async def body(client):
        from neuro_sdk import StdStreamError

        job = await _running(
            client,
            "sh -c 'read line; echo \"out:$line\"; echo \"err:$line\" >&2; exit 6'",
        )
        # What `neuro attach` asks for without a terminal.
        async with client.jobs.attach(
            job.id, stdin=True, stdout=True, stderr=True
        ) as stream:
            await stream.write_in(b"hi\n")
            out = {1: b"", 2: b""}
            try:
                while True:
                    msg = await asyncio.wait_for(stream.read_out(), 60)
                    assert msg is not None, out
                    out[msg.fileno] += msg.data
            except StdStreamError as e:
                assert e.exit_code == 6
            assert out == {1: b"out:hi\n", 2: b"err:hi\n"}
        done = await _wait(client, job.id, lambda j: j.status.is_finished)
        assert done.history.exit_code == 6
        return True

    assert with_sdk(cli, body)


def test_sdk_top_port_forward_and_capacity(cli: Cli) -> None:
    job_port = _free_port()
    local_port = _free_port()

    async def body(client):
        capacity = await client.jobs.get_capacity()
        assert capacity["cpu-small"] > 0

        job = await _running(client, ECHO_SERVER + str(job_port))
        async with client.jobs.monitor(job.id) as it:
            async for chunk in it:
                assert b"listening" in chunk
                break

        async with client.jobs.top(job.id) as it:
            async for sample in it:
                assert sample.memory_bytes > 0
                assert sample.timestamp > 0
                break

        async with client.jobs.port_forward(job.id, local_port, job_port):

            async def one(i: int) -> None:
                reader, writer = await asyncio.open_connection("127.0.0.1", local_port)
                payload = f"connection {i}\n".encode() * 100
                writer.write(payload)
                await writer.drain()
                back = await asyncio.wait_for(reader.readexactly(len(payload)), 60)
                assert back == payload
                writer.close()

            await asyncio.gather(*(one(i) for i in range(20)))

        await client.jobs.kill(job.id)
        return True

    assert with_sdk(cli, body)


def test_cli_logs_exec_top_port_forward_kill(cli: Cli) -> None:
    job_port = _free_port()
    local_port = _free_port()
    out = cli.run(
        "run",
        "--detach",
        "--preset",
        "cpu-small",
        "--name",
        "conformance-monitor",
        "ubuntu",
        "--",
        ECHO_SERVER + str(job_port),
    ).stdout
    assert "job-" in out

    res = cli.run("exec", "--no-tty", "conformance-monitor", "--", "sh", "-c", "echo $NEURO_JOB_NAME")
    assert res.stdout == "conformance-monitor\n"
    res = cli.run("exec", "--no-tty", "conformance-monitor", "--", "sh", "-c", "exit 7", check=False)
    assert res.returncode == 7

    # `--timeout` ends the live table with exit code 124, after some samples.
    top = cli.run("top", "conformance-monitor", "--timeout", "3", check=False)
    assert top.returncode == 124, top.stderr
    assert "conformance-monitor" in top.stdout and "CPU" in top.stdout.upper(), top.stdout

    forward = subprocess.Popen(
        [
            str(VENV_BIN / "neuro"),
            "--skip-stats",
            "--disable-pypi-version-check",
            "--neuromation-config",
            str(cli.config_dir),
            "port-forward",
            "conformance-monitor",
            f"{local_port}:{job_port}",
        ],
        env=cli.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        echoed = b""
        for _ in range(300):
            try:
                with socket.create_connection(("127.0.0.1", local_port), timeout=30) as s:
                    s.sendall(b"through the cli\n")
                    while not echoed.endswith(b"\n"):
                        chunk = s.recv(1024)
                        if not chunk:
                            break
                        echoed += chunk
                if echoed:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        assert echoed == b"through the cli\n"
    finally:
        forward.terminate()
        forward.wait(timeout=30)

    cli.run("kill", "conformance-monitor")
    status = cli.run("status", "conformance-monitor").stdout
    assert "cancelled" in status.lower()
    # The log of a finished job: `neuro logs` prints it and returns.
    assert cli.run("logs", "conformance-monitor").stdout == "listening\n"


def test_save_is_refused_clearly(cli: Cli) -> None:
    async def body(client):
        from neuro_sdk import IllegalArgumentError, RemoteImage

        job = await _running(client, "sleep 60")
        image = client.parse.remote_image("image:saved:latest")
        assert isinstance(image, RemoteImage)
        with pytest.raises(IllegalArgumentError, match="not supported"):
            await client.jobs.save(job.id, image)
        await client.jobs.kill(job.id)
        return True

    assert with_sdk(cli, body)
