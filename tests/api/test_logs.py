"""Step logs: capped per attempt (head and tail kept, a marker between), served from disk
with Range, and followed live through a trim."""

from __future__ import annotations

import dataclasses
import re

from tests.api.test_stream import open_stream, read_events
from tests.conftest import async_wait_until
from tests.support import api_client
from wfe.daemon.api.logreader import LogReader
from wfe.daemon.steps import logcap

CAP = 64 * 1024
# 1 MB of numbered lines (11 bytes each: "L" + 9 digits + "\n")
LOUD = "i=0; while [ $i -lt 95000 ]; do printf 'L%09d\\n' $i; i=$((i+1)); done"
MARKER = re.compile(r"\[wfe: (\d+) bytes dropped here; max_log_bytes is 65536\]")


def capped(settings):
    return dataclasses.replace(settings, max_log_bytes=CAP)


def lines_of(text: str) -> list[str]:
    return text.splitlines()


async def test_a_log_over_the_cap_keeps_its_head_and_tail(settings):
    async with api_client(capped(settings)) as api:
        await api.template({"name": "loud", "steps": [{"name": "say", "run": LOUD}]})
        run = await api.start("loud")
        assert (await api.wait_status(run["id"], "completed"))["status"] == "completed"
        resp = await api.client.get(f"/api/v1/workflows/{run['id']}/steps/say/log",
                                    headers=api.headers())
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
        text = await resp.text()
    marker = MARKER.search(text)
    assert marker, text[CAP // 2 - 100: CAP // 2 + 200]
    assert len(text.encode()) <= CAP + len(marker.group(0)) + 2
    assert int(marker.group(1)) == 95000 * 11 - CAP  # every byte the step wrote is accounted
    head, tail = text[:marker.start()], text[marker.end():]
    assert head.startswith("L000000000\nL000000001\n")
    assert tail.endswith("L000094998\nL000094999\n")
    # half the cap each, and the marker's own line breaks (the head ends mid-line)
    assert (len(head.encode()), len(tail.encode())) == (CAP // 2 + 1, CAP // 2 + 1)


async def test_a_log_is_served_by_byte_range(settings):
    async with api_client(settings) as api:
        await api.template({"name": "loud", "steps": [{"name": "say", "run": LOUD}]})
        run = await api.start("loud")
        await api.wait_status(run["id"], "completed")
        path = f"/api/v1/workflows/{run['id']}/steps/say/log"
        size = 95000 * 11

        async def get(rng: str):
            resp = await api.client.get(path, headers=api.headers(Range=rng))
            return resp, await resp.read()

        resp, body = await get("bytes=0-21")
        assert resp.status == 206 and body == b"L000000000\nL000000001\n"
        assert resp.headers["Content-Range"] == f"bytes 0-21/{size}"
        resp, body = await get("bytes=-11")
        assert resp.status == 206 and body == b"L000094999\n"
        resp, body = await get(f"bytes={size - 11}-")
        assert resp.status == 206 and body == b"L000094999\n"
        for rng in (f"bytes={size}-", f"bytes={size + 5}-{size + 10}", "bytes=abc", "pages=1-2",
                    ""):
            resp, body = await get(rng)
            assert resp.status == 416, (rng, body)
            assert resp.headers["Content-Range"] == f"bytes */{size}"
            error = (await resp.json())["error"]
            assert error["code"] == "range_not_satisfiable" and error["details"] == {"size": size}
        resp = await api.client.get(path, headers=api.headers())  # no range: the whole log
        assert resp.status == 200 and len(await resp.read()) == size


async def test_a_running_step_is_capped_and_its_live_stream_reads_through(settings, tmp_path):
    go = tmp_path / "go"
    script = f"{LOUD}; while [ ! -e {go} ]; do sleep 0.02; done; echo the end"
    async with api_client(capped(settings)) as api:
        await api.template({"name": "loud", "steps": [{"name": "say", "run": script}]})
        run = await api.start("loud")
        logs = tmp_path / "home" / "logs" / run["id"]
        path = logs / "000-say.1.log"

        def trimmed() -> bool:
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                return False
            return len(data) <= CAP + 200 and MARKER.search(data.decode()) is not None

        async def check():
            return trimmed()

        await async_wait_until(check, timeout=30, message="the running step's log capped")
        resp = await open_stream(api, f"/api/v1/workflows/{run['id']}/steps/say/log/stream")
        first = await read_events(resp, limit=2)
        go.touch()
        rest = await read_events(resp)
    events = first + rest
    lines = [e["data"] for e in events if "event" not in e]
    assert events[-1]["event"] == "end"
    assert lines[:2] == ["L000000000", "L000000001"]
    marks = [i for i, line in enumerate(lines) if MARKER.search(line)]
    assert len(marks) == 1, [lines[i] for i in marks]
    after = lines[marks[0] + 1:]
    assert after[-2:] == ["L000094999", "the end"]
    assert all(re.fullmatch(r"L\d{9}", line) for line in after[1:-1])


def _numbered(start: int, stop: int) -> bytes:
    return b"".join(b"L%09d\n" % i for i in range(start, stop))


def _append(path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def test_the_live_reader_keeps_its_place_through_trims(tmp_path):
    """A reader part way through the kept tail goes on exactly where it was; one whose next
    bytes were dropped goes on from the marker, which it sends as a line."""
    limit, path = 2200, tmp_path / "say.log"  # 100 lines of 11 bytes per half
    path.write_bytes(_numbered(0, 150))
    ahead, behind = LogReader(path, 0, limit), LogReader(path, 0, limit)
    lines, _ = ahead.read(False)
    assert [t for _, t in lines] == [f"L{i:09d}" for i in range(150)]
    _append(path, _numbered(150, 250))
    assert logcap.trim(path, limit)  # keeps lines 0..99 and 150..249
    _append(path, _numbered(250, 400))
    assert logcap.trim(path, limit)  # keeps 0..99 and 300..399; the marker counts both
    _append(path, _numbered(400, 410))
    lines, more = ahead.read(True)
    text = [t for _, t in lines]
    marker = "[wfe: 2200 bytes dropped here; max_log_bytes is 2200]"
    assert not more
    assert text[0] == marker  # lines 150..299 were dropped before this reader got to them
    assert text[1:] == [f"L{i:09d}" for i in range(300, 410)]
    assert [n for n, _ in lines] == list(range(151, 151 + len(lines)))
    # a reader that starts after the trims reads the head, the marker and the tail
    whole = [t for _, t in behind.read(True)[0]]
    assert whole == [f"L{i:09d}" for i in range(100)] + [marker] + [
        f"L{i:09d}" for i in range(300, 410)]
    ahead.close()
    behind.close()


def test_a_reader_in_the_kept_tail_misses_nothing(tmp_path):
    limit, path = 2200, tmp_path / "say.log"
    path.write_bytes(_numbered(0, 250))
    reader = LogReader(path, 0, limit)
    assert len(reader.read(False)[0]) == 250
    _append(path, _numbered(250, 260))
    assert logcap.trim(path, limit)  # keeps 160..259: the reader was at 250
    lines, _ = reader.read(False)
    assert [t for _, t in lines] == [f"L{i:09d}" for i in range(250, 260)]
    _append(path, _numbered(260, 300))
    assert logcap.trim(path, limit)  # a second trim, past the first marker: keeps 200..299
    lines, _ = reader.read(True)
    assert [t for _, t in lines] == [f"L{i:09d}" for i in range(260, 300)]
    reader.close()
