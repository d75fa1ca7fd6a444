"""Step logs: capped per attempt (head and tail kept, a marker between), served from disk
with Range, and followed live through a trim."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import subprocess

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


# 200,000 numbered lines (2.2 MB), written a line per write: the writer appends all along
# while the watcher caps its log many times over.
FLOOD_LINES = 200_000
FLOOD = (f"i=0; while [ $i -lt {FLOOD_LINES} ]; do printf 'L%09d\\n' $i; i=$((i+1)); done")


def check_capped(text: str, lines: int, cap: int = CAP) -> None:
    """The log of a step that wrote ``lines`` numbered lines, capped: the first lines, one
    marker that counts every byte not kept, then the last lines, none missing."""
    marks = list(MARKER.finditer(text)) if cap == CAP else list(re.finditer(
        r"\[wfe: (\d+) bytes dropped here; max_log_bytes is \d+\]", text))
    assert len(marks) == 1, [m.group(0) for m in marks]
    marker = marks[0]
    assert int(marker.group(1)) == lines * 11 - cap  # no byte the step wrote went missing
    head, tail = text[:marker.start()], text[marker.end() + 1:]
    assert len(head.encode()) == cap // 2 + 1 and len(tail.encode()) == cap - cap // 2
    kept = head.splitlines()
    assert kept[:-1] == [f"L{i:09d}" for i in range(len(kept) - 1)]
    rest = tail.splitlines()
    first = lines - len(rest) + 1  # rest[0] is the end of a line cut by the marker
    assert rest[1:] == [f"L{i:09d}" for i in range(first, lines)]
    assert f"L{first - 1:09d}".endswith(rest[0])


async def test_a_log_capped_while_its_step_writes_loses_nothing(settings):
    """The watcher caps the log many times while the step appends line by line; the log
    kept in the end is exact: nothing the step wrote meanwhile was lost (a copy-and-
    truncate under the step's feet used to drop what it appended in between)."""
    fast = dataclasses.replace(capped(settings), heartbeat_interval=0.02)
    async with api_client(fast) as api:
        await api.template({"name": "flood", "steps": [{"name": "say", "run": FLOOD}]})
        run = await api.start("flood")
        done = await api.wait_status(run["id"], "completed", "failed", timeout=90)
        assert done["status"] == "completed"
        resp = await api.client.get(f"/api/v1/workflows/{run['id']}/steps/say/log",
                                    headers=api.headers())
        text = await resp.text()
    check_capped(text, FLOOD_LINES)


async def test_a_running_step_is_capped_and_its_live_stream_reads_through(settings, tmp_path):
    go = tmp_path / "go"
    script = f"{LOUD}; while [ ! -e {go} ]; do sleep 0.02; done; echo the end"
    async with api_client(capped(settings)) as api:
        await api.template({"name": "loud", "steps": [{"name": "say", "run": script}]})
        run = await api.start("loud")
        logs = tmp_path / "home" / "logs" / run["id"]
        path = logs / "000-say.1.log"

        async def punched() -> bool:
            """All 95,000 lines are there, at their offsets, but not on disk."""
            try:
                st = path.stat()
            except FileNotFoundError:
                return False
            return st.st_size >= 95000 * 11 and st.st_blocks * 512 <= 4 * CAP

        await async_wait_until(punched, timeout=30, message="the running step's log capped")
        resp = await open_stream(api, f"/api/v1/workflows/{run['id']}/steps/say/log/stream")
        first = await read_events(resp, limit=2)
        go.touch()
        rest = await read_events(resp)
        final = await (await api.client.get(f"/api/v1/workflows/{run['id']}/steps/say/log",
                                            headers=api.headers())).text()
    events = first + rest
    lines = [e["data"] for e in events if "event" not in e]
    assert events[-1]["event"] == "end"
    assert lines[:2] == ["L000000000", "L000000001"]
    marks = [i for i, line in enumerate(lines) if MARKER.search(line)]
    assert len(marks) == 1, [lines[i] for i in marks]
    after = lines[marks[0] + 1:]
    assert after[-2:] == ["L000094999", "the end"]
    assert all(re.fullmatch(r"L\d{9}", line) for line in after[1:-1])
    # the stream skipped exactly the hole: what it sent plus what it skipped is the file
    skipped = int(MARKER.search(lines[marks[0]]).group(1))
    sent = sum(len(line) + 1 for i, line in enumerate(lines) if i != marks[0])
    assert sent + skipped == 95000 * 11 + len("the end\n") + 1  # + the line cut in two
    # and once the step is over its log is head, marker, tail
    assert final.endswith("L000094999\nthe end\n") and len(MARKER.findall(final)) == 1


def _numbered(start: int, stop: int) -> bytes:
    return b"".join(b"L%09d\n" % i for i in range(start, stop))


def _append(path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def _texts(lines) -> list[str]:
    return [t for _, t in lines]


def _read_all(reader: LogReader) -> list[tuple[int, str]]:
    out, more = [], True
    while more:
        lines, more = reader.read(True)
        out += lines
    return out


async def test_capping_a_running_log_moves_no_byte(tmp_path):
    """While the step runs its log keeps its size and every offset (the step's fd appends
    at the end, whatever it is); only the middle's disk blocks are freed. Moving the tail
    down and truncating raced the step's appends and lost what came in between."""
    path = tmp_path / "say.log"
    path.write_bytes(_numbered(0, 95000))
    before = path.read_bytes()
    blocks = path.stat().st_blocks
    watcher = asyncio.create_task(logcap.watch(0.01))
    try:
        with logcap.watched(path, CAP):
            async def capped_on_disk() -> bool:
                return path.stat().st_blocks * 512 <= CAP + 2 * 4096 < blocks * 512

            await async_wait_until(capped_on_disk, timeout=30, message="the log capped")
    finally:
        watcher.cancel()
    data = await asyncio.to_thread(path.read_bytes)
    assert len(data) == len(before)  # the writer appends where it did
    start, stop = -(-CAP // 2 // 4096) * 4096, (len(before) - CAP // 2) // 4096 * 4096
    assert data[:start] == before[:start] and data[stop:] == before[stop:]
    assert data[start:stop] == bytes(stop - start)  # the hole
    assert logcap.punch(path, CAP) == 0  # nothing more to free until it grows
    _append(path, _numbered(95000, 96000))
    assert logcap.punch(path, CAP) > 0


def test_a_log_punched_while_written_keeps_every_line(tmp_path):
    """A real process appends line after line while the log is punched over and over."""
    path = tmp_path / "say.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    proc = subprocess.Popen(["sh", "-c", FLOOD], stdout=fd)
    os.close(fd)
    punches = 0
    while proc.poll() is None:
        punches += logcap.punch(path, CAP) > 0
    assert proc.wait() == 0 and punches > 0
    assert logcap.compact(path, CAP)
    check_capped(path.read_text(), FLOOD_LINES)
    assert not logcap.compact(path, CAP)  # a capped log is not cut again


def test_the_live_reader_skips_the_hole_and_keeps_its_place(tmp_path):
    """A reader whose next bytes were punched out sends the marker (counting what it
    skipped) and goes on where the data goes on; one in the kept tail misses nothing."""
    path = tmp_path / "say.log"
    path.write_bytes(_numbered(0, 20000))
    ahead, tail = LogReader(path, 0, CAP), LogReader(path, 0, CAP)
    assert _texts(ahead.read(False)[0]) == [f"L{i:09d}" for i in range(20000)]
    _append(path, _numbered(20000, 30000))
    assert len(_read_all(tail)) == 30000  # this one is at the end when the punch comes
    assert logcap.punch(path, CAP)  # frees up to (330000 - 32768) // 4096 * 4096 = 294912
    lines = _read_all(ahead)
    text = _texts(lines)
    assert text[0] == "[wfe: 74912 bytes dropped here; max_log_bytes is 65536]"
    assert text[1] == "L000026810"[294912 - 26810 * 11:]  # the rest of a line cut in two
    assert text[2:] == [f"L{i:09d}" for i in range(26811, 30000)]
    assert [n for n, _ in lines] == list(range(20001, 20001 + len(lines)))
    # a reader in the kept tail reads on exactly
    _append(path, _numbered(30000, 30010))
    assert _texts(_read_all(tail)) == [f"L{i:09d}" for i in range(30000, 30010)]
    ahead.close()
    tail.close()


def test_a_reader_that_starts_after_a_punch_reads_head_marker_tail(tmp_path):
    path = tmp_path / "say.log"
    path.write_bytes(_numbered(0, 30000))
    assert logcap.punch(path, CAP)
    reader = LogReader(path, 0, CAP)
    text = _texts(_read_all(reader))
    reader.close()
    marks = [i for i, t in enumerate(text) if MARKER.fullmatch(t)]
    assert len(marks) == 1
    head, tail = text[:marks[0]], text[marks[0] + 1:]
    assert head[:-1] == [f"L{i:09d}" for i in range(len(head) - 1)]
    assert f"L{len(head) - 1:09d}".startswith(head[-1])  # cut where the hole starts
    assert tail[-1] == "L000029999" and all(re.fullmatch(r"L\d{9}", t) for t in tail[1:])
    skipped = int(MARKER.fullmatch(text[marks[0]]).group(1))
    assert sum(len(t) + 1 for t in head + tail) - 1 + skipped == 30000 * 11  # - a cut
