"""The benchmark's load client reads each answer whole however the reads cut it, one at a time, and
refuses what is not an answer it can read."""

from __future__ import annotations

import random

import pytest

from tests.benchmark.load import _take_answer

pytestmark = pytest.mark.unit

ANSWER = (b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 20\r\n"
          b"X-Threadcount-Worker: 1\r\n\r\n" + b'{"status":"reserved"}'[:20])


def test_an_answer_is_taken_only_once_it_is_whole_however_the_reads_cut_it() -> None:
    wire = ANSWER + ANSWER.replace(b"201 Created", b"409 Conflict")
    for _ in range(30):
        received, answers, at = bytearray(), [], 0
        while at < len(wire):
            step = random.randint(1, 25)
            received += wire[at:at + step]
            at += step
            while (answer := _take_answer(received)) is not None:
                answers.append(answer)
        assert [status for status, _, _ in answers] == [201, 409]
        assert answers[0][1]["x-threadcount-worker"] == "1"
        assert answers[0][2] == b'{"status":"reserved"}'[:20]
        assert received == bytearray()


@pytest.mark.parametrize(("wire", "problem"), [
    (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "not an HTTP/1.x answer"),
    (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "without Content-Length"),
], ids=["not-http", "chunked"])
def test_what_the_client_cannot_read_is_refused_by_name(wire: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        _take_answer(bytearray(wire))
