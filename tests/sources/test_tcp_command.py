import asyncio
import os
import sys
import time

from vigil.config.sources import CommandProbe, TcpProbe
from vigil.sources.command import CommandProbeCollector
from vigil.sources.tcp import TcpProbeCollector


async def test_tcp_up_and_down(server, unused_tcp_port):
    up = TcpProbeCollector("shop", "tcp", TcpProbe(kind="tcp", host="127.0.0.1", port=server.port))
    result = (await up.collect(time.time())).probe
    assert result.ok and result.detail == f"connected to 127.0.0.1:{server.port}"
    down = TcpProbeCollector("shop", "tcp", TcpProbe(kind="tcp", host="127.0.0.1", port=unused_tcp_port))
    result = (await down.collect(time.time())).probe
    assert not result.ok and result.detail == f"connect refused: 127.0.0.1:{unused_tcp_port}"


async def run(argv: list[str], timeout: float = 2.0, expect_exit: int = 0):
    spec = CommandProbe(kind="command", command=argv, timeout=timeout, expect_exit=expect_exit)
    return (await CommandProbeCollector("shop", "command", spec).collect(time.time())).probe


async def test_command_exit_status():
    ok = await run([sys.executable, "-c", "print('fine')"])
    assert ok.ok and ok.values["exit_code"] == 0 and ok.detail.endswith("exited 0: fine")
    bad = await run([sys.executable, "-c", "import sys; print('disk full'); sys.exit(3)"])
    assert not bad.ok and bad.values["exit_code"] == 3
    assert bad.detail.endswith("exited 3, expected 0: disk full")
    assert (await run([sys.executable, "-c", "raise SystemExit(3)"], expect_exit=3)).ok


async def test_command_not_found():
    result = await run(["/nonexistent/vigil-check"])
    assert not result.ok and result.detail == "command not found: /nonexistent/vigil-check"


async def test_command_timeout_kills_the_process_and_its_children(tmp_path):
    pidfile = tmp_path / "pids"
    # The probe's command starts a child; both must be gone after the timeout.
    script = (f"import subprocess, os, time; c = subprocess.Popen(['sleep', '30']); "
              f"open({str(pidfile)!r}, 'w').write(f'{{os.getpid()}} {{c.pid}}'); time.sleep(30)")
    started = time.monotonic()
    result = await run([sys.executable, "-c", script], timeout=2.0)
    assert time.monotonic() - started < 5.0
    assert not result.ok and result.detail.endswith("timed out after 2s (killed)")
    for pid in map(int, pidfile.read_text().split()):
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"process {pid} still alive")
