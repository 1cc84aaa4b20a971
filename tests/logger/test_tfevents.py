"""The standard-library TensorBoard writer: CRC-32C and record framing."""

import os
import struct

import pytest

from tunesmith.logger._tfevents import EventFile, crc32c, scalar_values


@pytest.mark.parametrize("data, expected", [
    (b"", 0x00000000),
    (b"123456789", 0xE3069283),
    (bytes(32), 0x8A9136AA),  # RFC 3720, B.4
    (b"\xff" * 32, 0x62A8AB43),
    (bytes(range(32)), 0x46DD794E),
])
def test_crc32c_matches_the_published_check_values(data, expected):
    assert crc32c(data) == expected


def test_crc32c_matches_tensorboardx_on_every_length():
    tbx_crc = pytest.importorskip("tensorboardX.crc32c")
    for length in range(0, 70):
        data = os.urandom(length)
        assert crc32c(data) == tbx_crc.crc32c(data)


def test_records_are_framed_with_lengths_and_masked_crcs(tmp_path):
    events = EventFile(str(tmp_path))
    events.add(scalar_values([("loss", 0.25), ("huge", 1e300)]), step=-3)
    events.close()
    data = open(events.path, "rb").read()
    records, offset = [], 0
    while offset < len(data):
        (length,) = struct.unpack("<Q", data[offset:offset + 8])
        records.append(data[offset + 12:offset + 12 + length])
        offset += 12 + length + 4
    assert offset == len(data) and len(records) == 2
    assert b"brain.Event:2" in records[0] and b"loss" in records[1]
    event_pb2 = pytest.importorskip("tensorboardX.proto.event_pb2")
    event = event_pb2.Event.FromString(records[1])
    assert event.step == -3
    assert [(v.tag, v.simple_value) for v in event.summary.value] == [("loss", 0.25), ("huge", float("inf"))]


def test_a_second_file_in_the_same_second_gets_its_own_name(tmp_path):
    first, second = EventFile(str(tmp_path)), EventFile(str(tmp_path))
    first.close()
    second.close()
    assert first.path != second.path and second.path.startswith(first.path.split(".", 0)[0])


def test_crc32c_continues_from_an_earlier_value():
    data = os.urandom(50)
    for cut in (0, 1, 7, 49, 50):
        assert crc32c(data[cut:], crc32c(data[:cut])) == crc32c(data)
